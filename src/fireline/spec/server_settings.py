"""fireline.yaml sections read by `fireline serve`: `server:`, `prometheus:` and team escalation chains.

config.py only names these models; their fields, defaults and checks live here next to the code
that uses them. Secrets stay out of fireline.yaml: the API token is read from `server.token_file`
or the FIRELINE_TOKEN environment variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fireline.slo.durations import Duration
from fireline.spec.models import DurationField, Model

IncidentSeverity = Literal["SEV1", "SEV2", "SEV3", "ticket"]
DEFAULT_DATABASE = "sqlite:///fireline.db"
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
TENANT_HEADER = "X-Scope-OrgID"
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
    """After `after` without acknowledgement, page someone and/or notify receivers.

    `schedule` pages whoever is on call when the step fires, `person` a named person, `receiver`
    one receiver; `notify` adds receivers (names under `receivers`). A step naming a schedule or a
    person without `notify` tells the team's `page` receivers (docs/oncall.md).
    """

    after: DurationField
    notify: list[str] = Field(default_factory=list)
    schedule: str | None = Field(default=None, description="page who is on call in this schedule")
    person: str | None = Field(default=None, description="page this person (under people)")
    receiver: str | None = Field(default=None, description="notify this receiver")

    @model_validator(mode="after")
    def _target(self) -> EscalationStep:
        targets = [name for name in ("schedule", "person", "receiver") if getattr(self, name) is not None]
        if len(targets) > 1:
            raise ValueError(f"an escalation step names one of schedule, person or receiver, not "
                             f"{' and '.join(targets)}: use two steps, or notify for more receivers")
        if not targets and not self.notify:
            raise ValueError("an escalation step needs schedule, person, receiver or notify")
        return self


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
    slack_interval: DurationField = Field(default=Duration.parse("1s"),
                                          description="at most one Slack message per receiver this often (0s: none)")
    parallel: int = Field(default=16, ge=1, le=256, description="deliveries in flight at once")


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
    request_timeout: DurationField = Field(
        default=Duration.parse("10s"),
        description="no request waits longer (503 with Retry-After); bounds database waits too")

    @field_validator("request_timeout")
    @classmethod
    def _request_timeout(cls, value: Duration) -> Duration:
        if not 1_000 <= value.milliseconds <= 300_000:
            raise ValueError("request_timeout must be between 1s and 5m")
        return value

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


class ValueSource(Model):
    """A value read when a client is built, from a file or an environment variable: never from fireline.yaml,
    so a credential sent as a header never sits in config, logs or generated files."""

    file: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ValueSource:
        if (self.file is None) == (self.env is None):
            raise ValueError("give exactly one of file (a path) or env (an environment variable name)")
        if self.env is not None and not _ENV_RE.match(self.env):
            raise ValueError(f"env {self.env!r} is not an environment variable name")
        return self

    def read(self, what: str) -> str:
        """The value, stripped of the trailing newline files end with; the error names where, never what."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SettingsError(f"{what}: environment variable {self.env} is not set")
        else:
            assert self.file is not None
            try:
                value = Path(self.file).read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(f"{what}: cannot read {self.file}: {exc.strerror or exc}") from None
        value = value.strip()
        if not value or "\n" in value or "\r" in value:
            where = self.env if self.env is not None else self.file
            raise SettingsError(f"{what}: {where} must hold one non-empty line")
        return value


class SettingsError(ValueError):
    """A setting that names a file or variable could not be read; the message never holds the value."""


class PrometheusSettings(Model):
    url: str | None = Field(default=None, description="Prometheus HTTP API base, for budget in postmortems")
    # Mimir, Cortex and Thanos query frontends need a tenant (X-Scope-OrgID) and often more headers.
    tenant: str | ValueSource | None = Field(default=None, description="sent as X-Scope-OrgID")
    headers: dict[str, ValueSource] = Field(default_factory=dict,
                                            description="extra request headers, values from file or env")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | ValueSource | None) -> str | ValueSource | None:
        if isinstance(value, str) and (not value.strip() or any(c in value for c in "\r\n|")):
            raise ValueError("tenant must be a tenant ID such as team-a (one line, no '|')")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, ValueSource]) -> dict[str, ValueSource]:
        for name in value:
            if not _HEADER_RE.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if name.lower() == TENANT_HEADER.lower():
                raise ValueError(f"set the tenant with prometheus.tenant, not headers.{name}")
        return value

    def request_headers(self) -> dict[str, str]:
        """Headers every Prometheus client sends, read now (files may rotate between runs)."""
        out: dict[str, str] = {}
        if isinstance(self.tenant, str):
            out[TENANT_HEADER] = self.tenant.strip()
        elif self.tenant is not None:
            out[TENANT_HEADER] = self.tenant.read("prometheus.tenant")
        for name, source in sorted(self.headers.items()):
            out[name] = source.read(f"prometheus.headers.{name}")
        return out

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

