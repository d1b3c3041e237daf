"""Alertmanager's webhook payload (version 4), validated strictly enough that storage never rejects it.

Firing alerts carry `endsAt: 0001-01-01T00:00:00Z` (Alertmanager zeroes it); times have nanosecond
fractions. Unknown keys (e.g. `notification_reason` from 0.32) are ignored. Strings are bounded and
may not contain NUL, which PostgreSQL cannot store, so bad input is a 422, never a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

_FRACTION_RE = re.compile(r"(\.\d{6})\d+")
_ZERO_YEAR = 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if "\x00" in key or "\x00" in item:
            raise ValueError("label names and values must not contain NUL characters")
        if len(key) > 255 or len(item) > 4096:
            raise ValueError(f"label {key[:40]!r} is too long (names 255, values 4096 characters)")
    if len(value) > 128:
        raise ValueError("too many labels (at most 128)")
    return value


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


Short = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_nul)]
Long = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_nul)]
LabelSet = Annotated[dict[str, str], AfterValidator(_labels)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp), AfterValidator(_utc)]


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: LabelSet
    annotations: LabelSet = Field(default_factory=dict)
    startsAt: Timestamp
    endsAt: Timestamp | None = None
    generatorURL: Long = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)]

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
    groupKey: Annotated[str, StringConstraints(max_length=1024), AfterValidator(_no_nul)] = ""
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: Short = ""
    groupLabels: LabelSet = Field(default_factory=dict)
    commonLabels: LabelSet = Field(default_factory=dict)
    commonAnnotations: LabelSet = Field(default_factory=dict)
    externalURL: Long = ""
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=10_000)

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
