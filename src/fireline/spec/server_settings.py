"""fireline.yaml sections read by `fireline serve`: `server:`, `prometheus:` and team escalation chains.

They live in the spec layer, beside config.py, so reading fireline.yaml imports nothing from
server/ (fireline.server.settings re-exports them for the server's code). Secrets stay out of
fireline.yaml: the API token is read from `server.token_file` or the FIRELINE_TOKEN environment
variable.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from fireline.slo.durations import Duration
from fireline.spec.models import DurationField, Model

IncidentSeverity = Literal["SEV1", "SEV2", "SEV3", "ticket"]
DEFAULT_DATABASE = "sqlite:///fireline.db"
_LISTEN_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[^:\s]+):(?P<port>\d{1,5})$")


def normalise_database_url(url: str) -> str:
    """SQLAlchemy URL with the driver fireline ships (psycopg 3), so `postgresql://` just works."""
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_database_url(url: str) -> str:
    url = normalise_database_url(url)
    if not re.match(r"^(sqlite|postgresql\+psycopg)://", url):
        raise ValueError(f"database {url!r} must be sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    return url


class EscalationStep(Model):
    """After `after` without acknowledgement, notify these receivers (names under `receivers`)."""

    after: DurationField
    notify: list[str] = Field(min_length=1)


_DEFAULT_SEVERITIES: dict[str, IncidentSeverity] = {
    "critical": "SEV1", "page": "SEV2", "error": "SEV2", "high": "SEV2",
    "warning": "ticket", "ticket": "ticket", "info": "ticket",
}


class SeverityMapping(Model):
    """How an alert's labels become an incident severity; `ticket` records a ticket, not an incident.

    The `severity` label (the user's vocabulary) is looked up first, then `fireline_severity`
    (page/ticket, set on every generated alert); `default` covers alerts with neither.
    """

    map: dict[str, IncidentSeverity] = Field(default_factory=lambda: _DEFAULT_SEVERITIES.copy())
    default: IncidentSeverity = "ticket"

    def severity_of(self, labels: dict[str, str]) -> IncidentSeverity:
        for key in ("severity", "fireline_severity"):
            value = labels.get(key)
            if value is not None and value.lower() in self.map:
                return self.map[value.lower()]
        return self.default


class OutboxSettings(Model):
    max_attempts: int = Field(default=8, ge=1, le=100, description="then the item is dead-lettered")
    backoff: DurationField = Field(default=Duration.parse("2s"), description="first retry delay, doubled each time")
    max_backoff: DurationField = Duration.parse("5m")
    timeout: DurationField = Field(default=Duration.parse("10s"), description="per HTTP request")


class ServerSettings(Model):
    token_file: str | None = Field(default=None, description="bearer token for the API; else FIRELINE_TOKEN")
    database: str = DEFAULT_DATABASE
    listen: str = "127.0.0.1:8080"
    external_url: str | None = Field(default=None, description="base URL for incident links in notifications")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="intake requests above it get 413")
    severity: SeverityMapping = SeverityMapping()
    tickets_as_incidents: bool = Field(default=False, description="open incidents for ticket alerts too")
    reopen_cooldown: DurationField = Field(default=Duration.parse("30m"),
                                           description="a group firing again within it reopens its incident")
    escalation_lead: str | None = Field(default=None, description="receiver for the default chain at 15m")
    escalation_director: str | None = Field(default=None, description="receiver for the default chain at 30m")
    scheduler_interval: DurationField = Duration.parse("1s")
    outbox: OutboxSettings = OutboxSettings()

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        match = _LISTEN_RE.match(value.strip())
        if match is None or not 0 < int(match.group("port")) < 65536:
            raise ValueError(f"listen {value!r} must be host:port, e.g. 127.0.0.1:8080")
        return value.strip()

    @field_validator("external_url")
    @classmethod
    def _external(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"external_url {value!r} must be an http:// or https:// URL")
        return None if value is None else value.rstrip("/")

    @field_validator("scheduler_interval")
    @classmethod
    def _interval(cls, value: Duration) -> Duration:
        if not 100 <= value.milliseconds <= 60_000:
            raise ValueError("scheduler_interval must be between 100ms and 1m")
        return value

    @property
    def host(self) -> str:
        match = _LISTEN_RE.match(self.listen)
        assert match is not None
        return match.group("host").strip("[]")

    @property
    def port(self) -> int:
        match = _LISTEN_RE.match(self.listen)
        assert match is not None
        return int(match.group("port"))


class PrometheusSettings(Model):
    url: str | None = Field(default=None, description="Prometheus HTTP API base, for budget in postmortems")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"prometheus.url {value!r} must be an http:// or https:// URL")
        return None if value is None else value.rstrip("/")


def check_escalation(steps: list[EscalationStep]) -> list[EscalationStep]:
    """Steps must be in order of `after`: the chain is walked front to back."""
    afters = [step.after for step in steps]
    if afters != sorted(afters):
        raise ValueError("escalation steps must be listed in increasing order of `after`")
    return steps

