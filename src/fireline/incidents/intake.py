"""Alertmanager's webhook payload (version 4), taken in whole whenever it has Alertmanager's shape.

Firing alerts carry `endsAt: 0001-01-01T00:00:00Z` (Alertmanager zeroes it); times have nanosecond
fractions. Unknown keys (e.g. `notification_reason` from 0.32) are ignored.

Alertmanager never retries a 4xx, so a 422 drops every alert of the group: it is kept for bodies that
are not Alertmanager's shape. Everything else is made storable instead of refused: text over its limit
is cut with a marker (TRUNCATED), labels beyond MAX_LABELS are left out, lone surrogates and NUL
(which neither UTF-8 nor PostgreSQL can store) become U+FFFD, and each alert keeps a note of what
was changed for the incident's timeline.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

_FRACTION_RE = re.compile(r"(\.\d{6})\d+")
_ZERO_YEAR = 1
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
TRUNCATED = "…[truncated]"
MAX_LABEL_NAME = 255
MAX_LABEL_VALUE = 4096
MAX_LABELS = 128
MAX_GROUP_KEY = 1024
MAX_FINGERPRINT = 64
# Kept first when an alert has more than MAX_LABELS labels: they say what and whose it is.
_FIRST_LABELS = ("alertname", "service", "slo", "team", "severity", "fireline_severity", "long_window",
                 "short_window")


def storable(value: Any) -> Any:
    """The JSON value with every string (keys too) free of lone surrogates and NUL."""
    if isinstance(value, str):
        return _UNSTORABLE_RE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _clipped(limit: int) -> Any:
    return BeforeValidator(lambda v: truncate(v, limit) if isinstance(v, str) else v)


def _identity(text: str, limit: int) -> str:
    # An identity (group key, fingerprint) cut short could merge two groups: keep a digest of the whole.
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return text[: limit - 17] + "~" + digest


def fit_labels(labels: dict[str, str], what: str) -> tuple[dict[str, str], list[str]]:
    """Labels cut to the limits fireline stores, and notes saying what was cut or left out."""
    notes: list[str] = []
    fitted: dict[str, str] = {}
    for key, value in labels.items():
        name = truncate(key, MAX_LABEL_NAME)
        if len(value) > MAX_LABEL_VALUE:
            notes.append(f"{what} {name[:60]!r} cut from {len(value)} to {MAX_LABEL_VALUE} characters")
        if name != key:
            notes.append(f"{what} name {name[:60]!r}... cut from {len(key)} to {MAX_LABEL_NAME} characters")
        fitted[name] = truncate(value, MAX_LABEL_VALUE)
    if len(fitted) > MAX_LABELS:
        order = [k for k in _FIRST_LABELS if k in fitted] + sorted(k for k in fitted if k not in _FIRST_LABELS)
        kept, left = order[:MAX_LABELS], order[MAX_LABELS:]
        fitted = {k: fitted[k] for k in kept}
        shown = ", ".join(left[:20]) + (f" and {len(left) - 20} more" if len(left) > 20 else "")
        notes.append(f"{len(left)} {what}s beyond the limit of {MAX_LABELS} not kept: {shown}")
    return fitted, notes


def _timestamp(value: Any) -> Any:
    # Go prints nanoseconds; Python keeps microseconds, which is plenty for ordering alerts.
    if isinstance(value, str):
        return _FRACTION_RE.sub(r"\1", value)
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


Short = Annotated[str, _clipped(255)]
Long = Annotated[str, _clipped(4096)]
LabelSet = Annotated[dict[str, str], AfterValidator(lambda v: fit_labels(v, "label")[0])]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp), AfterValidator(_utc)]


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Timestamp
    endsAt: Timestamp | None = None
    generatorURL: Long = ""
    fingerprint: str
    # What intake changed to store this alert (cut values, labels left out), for the timeline.
    _notes: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _fit(self) -> WebhookAlert:
        self.labels, label_notes = fit_labels(self.labels, "label")
        self.annotations, annotation_notes = fit_labels(self.annotations, "annotation")
        self._notes = label_notes + annotation_notes
        if not self.fingerprint:
            # Senders other than Alertmanager may leave it out: the labels are the alert's identity.
            self.fingerprint = hashlib.sha256(json.dumps(sorted(self.labels.items())).encode()).hexdigest()[:16]
        self.fingerprint = _identity(self.fingerprint, MAX_FINGERPRINT)
        return self

    @property
    def notes(self) -> list[str]:
        return list(self._notes)

    @property
    def ends_at(self) -> datetime | None:
        """None for firing alerts (Alertmanager sends year 1 for 'not ended')."""
        if self.endsAt is None or self.endsAt.year == _ZERO_YEAR:
            return None
        return self.endsAt

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")[:255]


class AlertmanagerNotification(BaseModel):
    """The body Alertmanager's webhook_config POSTs (template.Data plus version and groupKey)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "version": "4", "groupKey": "{}/{team=\"payments\"}:{alertname=\"CheckoutAvailabilityErrorBudgetBurn\"}",
        "truncatedAlerts": 0, "status": "firing", "receiver": "fireline",
        "groupLabels": {"alertname": "CheckoutAvailabilityErrorBudgetBurn"},
        "commonLabels": {"alertname": "CheckoutAvailabilityErrorBudgetBurn", "service": "checkout",
                         "slo": "availability", "team": "payments", "fireline_severity": "page",
                         "severity": "critical"},
        "commonAnnotations": {"summary": "checkout availability: error budget burning 15.2x faster than allowed",
                              "runbook_url": "https://runbooks.example.com/checkout/availability-page.md"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "CheckoutAvailabilityErrorBudgetBurn", "service": "checkout",
                               "slo": "availability", "team": "payments", "fireline_severity": "page",
                               "severity": "critical", "long_window": "1h", "short_window": "5m"},
                    "annotations": {"summary": "checkout availability: error budget burning 15.2x faster",
                                    "description": "Burn rate over 1h: 15.20. Error budget left over 30d: 81%."},
                    "startsAt": "2026-11-29T05:42:36.991650835Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph", "fingerprint": "581347f7c3b98604"}],
    }]})

    version: Literal["4"]
    groupKey: Annotated[str, AfterValidator(lambda v: _identity(v, MAX_GROUP_KEY))] = ""
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"]
    receiver: Short = ""
    groupLabels: LabelSet = Field(default_factory=dict)
    commonLabels: LabelSet = Field(default_factory=dict)
    commonAnnotations: LabelSet = Field(default_factory=dict)
    externalURL: Long = ""
    # No upper bound: server.max_body_bytes bounds the body, and a 4xx would drop the whole group.
    alerts: list[WebhookAlert] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return storable(data)

    def digest(self) -> str:
        """Identity of this notification: a redelivery (Alertmanager retry, HA peer) has the same one."""
        alerts = sorted((a.fingerprint, a.status, a.startsAt.isoformat(),
                         a.ends_at.isoformat() if a.ends_at else "") for a in self.alerts)
        text = json.dumps([self.groupKey, self.status, alerts], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def group_key(self) -> str:
        """Alertmanager's groupKey; for senders without one, the service and SLO the alerts are about."""
        if self.groupKey:
            return self.groupKey
        labels = self.commonLabels or self.alerts[0].labels
        parts = [labels.get("service", ""), labels.get("slo", "")]
        if not any(parts):
            parts = [labels.get("alertname", "")]
        return "/".join(parts)[:1024]
