"""fireline.yaml (apiVersion fireline/v1, kind Config): settings shared by every command.

Each feature adds its own section here; unknown sections are errors (with a did-you-mean), so a
typo never silently turns a feature off.

Alertmanager sections (docs/routing.md): `alertmanager`, `default_receiver`, `receivers`, `teams`.
Secrets never appear in this file: receivers name files (`routing_key_file`, `api_url_file`,
`auth_password_file`) that Alertmanager reads at run time, so neither fireline.yaml nor the
generated alertmanager.yml ever holds a key.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from fireline.oncall.settings import Integrations, Person, Schedule, check_names, reference_errors
from fireline.slo.durations import Duration
from fireline.spec.models import LABEL_NAME_RE, NAME_RE, DurationField, Model
from fireline.spec.policy_settings import PolicySettings
from fireline.spec.server_settings import EscalationStep, PrometheusSettings, ServerSettings, check_escalation
from fireline.targets.settings import RulerSettings

# The generated receiver for `fireline serve`; user receivers may not take its name.
FIRELINE_RECEIVER = "fireline"
# Oldest schema fireline generates for (Debian bookworm ships 0.25).
MIN_ALERTMANAGER = (0, 25)
PAGERDUTY_V1_URL_PART = "generic/2010-04-15"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")
# Text people paste in place of a real value; Alertmanager would load it and fail at 3 a.m.
_PLACEHOLDER_RE = re.compile(r"YOUR_|CHANGE_?ME|<[A-Za-z_ -]+>|\bxxx+\b|REPLACE", re.IGNORECASE)
_SECRET_QUERY_RE = re.compile(r"[?&](?:token|key|api_key|apikey|secret|password|auth|sig|signature)=", re.I)


def _inline_secret(field: str, file_field: str) -> str:
    return (
        f"{field} is an inline secret: put it in a file readable by Alertmanager and set {file_field} "
        "to that path (fireline never writes secrets into fireline.yaml or generated files)"
    )


def _check_path(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} is empty: give the path of the file that holds the secret")
    if _PLACEHOLDER_RE.search(value):
        raise ValueError(f"{field} {value!r} looks like a placeholder: give the real path of the secret file")
    if "\n" in value:
        raise ValueError(f"{field} must be a single-line file path")
    return value


def _check_url(value: str, field: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{field} {value!r} must be an http:// or https:// URL")
    if re.match(r"^https?://[^/@\s]*:[^/@\s]*@", value):
        raise ValueError(f"{field} carries a password in the URL: credentials belong in a file, not inline")
    if _SECRET_QUERY_RE.search(value):
        raise ValueError(f"{field} carries a token in its query string: credentials belong in a file, "
                         "not inline")
    if "hooks.slack.com" in value:
        raise ValueError(f"{field} is a Slack incoming-webhook URL, which is a secret: use a slack receiver "
                         "with api_url_file")
    if _PLACEHOLDER_RE.search(value):
        raise ValueError(f"{field} {value!r} looks like a placeholder: give the real URL")
    return value


def parse_version(text: str) -> tuple[int, int]:
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"alertmanager.version {text!r} is not a version such as \"0.25\" or \"0.28\"")
    return int(match.group(1)), int(match.group(2))


class AlertmanagerDefaults(Model):
    """Root-route grouping and timers; every generated route inherits them."""

    group_by: list[str] = Field(default_factory=lambda: ["alertname", "service", "severity"])
    group_wait: DurationField = Duration.parse("30s")
    group_interval: DurationField = Duration.parse("5m")
    repeat_interval: DurationField = Duration.parse("4h")

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        if "..." in value:
            if len(value) > 1:
                raise ValueError("'...' (group by every label) must be the only entry of group_by")
            return value
        for label in value:
            if not LABEL_NAME_RE.match(label):
                raise ValueError(f"group_by entry {label!r} is not a valid label name")
        repeated = sorted({label for label in value if value.count(label) > 1})
        if repeated:
            raise ValueError(f"group_by repeats {', '.join(repeated)} (Alertmanager rejects duplicates)")
        return value

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _non_zero(cls, value: Duration, info: Any) -> Duration:
        if value.milliseconds == 0:
            raise ValueError(f"{info.field_name} cannot be 0 (Alertmanager rejects it)")
        return value


class AlertmanagerSettings(Model):
    version: str = "0.25"
    webhook: str | None = Field(default=None, description="fireline serve's Alertmanager intake URL")
    webhook_token_file: str | None = Field(
        default=None, description="file on the Alertmanager host holding fireline serve's API token (sent as Bearer)"
    )
    url: str | None = Field(default=None, description="Alertmanager API base (maintenance silences, drills)")
    defaults: AlertmanagerDefaults = AlertmanagerDefaults()

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, float):  # version: 0.25 unquoted in YAML
            value = repr(value)
        if not isinstance(value, str):
            raise ValueError(f"alertmanager.version must be a string such as \"0.25\", got {value!r}")
        if parse_version(value) < MIN_ALERTMANAGER:
            raise ValueError(f"Alertmanager {value} is older than 0.25, "
                             "the oldest version fireline generates for")
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "webhook")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "url").rstrip("/")

    @property
    def version_tuple(self) -> tuple[int, int]:
        return parse_version(self.version)


class PagerDutyReceiver(Model):
    """PagerDuty Events API v2: the integration key is read from routing_key_file."""

    routing_key_file: str
    url: str | None = Field(default=None, description="Events v2 endpoint; Alertmanager's default when unset")
    severity: str | None = Field(default=None, description="PagerDuty severity template; derived when unset")
    routing_key: str | None = None
    service_key: str | None = None
    service_key_file: str | None = None

    @field_validator("routing_key_file")
    @classmethod
    def _key_file(cls, value: str) -> str:
        return _check_path(value, "routing_key_file")

    @field_validator("routing_key")
    @classmethod
    def _no_inline_key(cls, value: str | None) -> str | None:
        raise ValueError(_inline_secret("routing_key", "routing_key_file"))

    @field_validator("service_key", "service_key_file")
    @classmethod
    def _no_v1(cls, value: str | None, info: Any) -> str | None:
        raise ValueError(
            f"{info.field_name} is the PagerDuty Events API v1 (Prometheus integration type); fireline uses "
            "Events API v2: create an Events API v2 integration and set routing_key_file"
        )

    @field_validator("url")
    @classmethod
    def _v2_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _check_url(value, "url")
        if PAGERDUTY_V1_URL_PART in value:
            raise ValueError(f"url {value!r} is the Events API v1 endpoint; routing keys need the v2 "
                             "endpoint "
                             "https://events.pagerduty.com/v2/enqueue (or leave url out)")
        return value


class SlackReceiver(Model):
    channel: str
    api_url_file: str
    username: str | None = None
    api_url: str | None = None
    url: str | None = Field(default=None, description="fireline serve: endpoint instead of api_url_file's")

    @field_validator("url")
    @classmethod
    def _url_override(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "url")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not re.match(r"^[#@]\S+$", value):
            raise ValueError(f"channel {value!r} must be a channel such as '#payments-alerts' "
                             "or a user '@name'")
        return value

    @field_validator("api_url_file")
    @classmethod
    def _url_file(cls, value: str) -> str:
        return _check_path(value, "api_url_file")

    @field_validator("api_url")
    @classmethod
    def _no_inline_url(cls, value: str | None) -> str | None:
        raise ValueError(_inline_secret("api_url (the Slack webhook URL)", "api_url_file"))


class WebhookReceiver(Model):
    url: str | None = None
    url_file: str | None = Field(default=None, description="Alertmanager 0.26 and newer")
    max_alerts: int = Field(default=0, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, "url")

    @field_validator("url_file")
    @classmethod
    def _url_file(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value, "url_file")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookReceiver:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url or url_file")
        return self


class EmailReceiver(Model):
    to: str
    from_: str = Field(alias="from")
    smarthost: str
    auth_username: str | None = None
    auth_password_file: str | None = None
    require_tls: bool = True
    auth_password: str | None = None

    @field_validator("smarthost")
    @classmethod
    def _smarthost(cls, value: str) -> str:
        if not re.match(r"^[^:\s]+:\d+$", value):
            raise ValueError(f"smarthost {value!r} must be host:port, e.g. smtp.example.com:587")
        return value

    @field_validator("auth_password_file")
    @classmethod
    def _password_file(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value, "auth_password_file")

    @field_validator("auth_password")
    @classmethod
    def _no_inline_password(cls, value: str | None) -> str | None:
        raise ValueError(_inline_secret("auth_password", "auth_password_file"))


class Receiver(Model):
    """One named receiver; it may notify several integrations (e.g. PagerDuty and Slack)."""

    pagerduty: PagerDutyReceiver | None = None
    slack: SlackReceiver | None = None
    webhook: WebhookReceiver | None = None
    email: EmailReceiver | None = None

    @model_validator(mode="after")
    def _some_integration(self) -> Receiver:
        if not any((self.pagerduty, self.slack, self.webhook, self.email)):
            raise ValueError("a receiver needs at least one of pagerduty, slack, webhook or email")
        return self


class TeamRouting(Model):
    """Receivers for a team's alerts, by fireline_severity."""

    page: list[str] = Field(default_factory=list)
    ticket: list[str] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list, description="fireline serve (docs/serve.md)")

    @field_validator("escalation")
    @classmethod
    def _escalation(cls, value: list[EscalationStep]) -> list[EscalationStep]:
        return check_escalation(value)

    @field_validator("page", "ticket")
    @classmethod
    def _distinct(cls, value: list[str], info: Any) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"{info.field_name} lists {', '.join(repeated)} twice: "
                             "it would be notified twice")
        return value


class RunbookSettings(Model):
    base_url: str = Field(default="runbooks", description="prefix of generated alerts' runbook_url")

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("base_url must be a URL or a relative path without spaces, e.g. runbooks or "
                             "https://runbooks.example.com/fireline")
        return value.rstrip("/")


class Config(Model):
    api_version: Literal["fireline/v1"] = Field(alias="apiVersion")
    kind: Literal["Config"]
    specs: list[str] = Field(default_factory=list)
    alertmanager: AlertmanagerSettings = AlertmanagerSettings()
    default_receiver: str | None = None
    receivers: dict[str, Receiver] = Field(default_factory=dict)
    teams: dict[str, TeamRouting] = Field(default_factory=dict)
    runbooks: RunbookSettings = RunbookSettings()
    server: ServerSettings = ServerSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    ruler: RulerSettings = Field(default_factory=RulerSettings,
                                 description="rule layout for Mimir, Cortex and Thanos rulers (docs/targets.md)")
    policy: PolicySettings | None = Field(default=None, description="error-budget policy (docs/policy.md)")
    people: dict[str, Person] = Field(default_factory=dict, description="who can be on call (docs/oncall.md)")
    schedules: dict[str, Schedule] = Field(default_factory=dict, description="on-call rotations (docs/oncall.md)")
    integrations: Integrations = Field(default_factory=Integrations,
                                       description="Slack app and PagerDuty webhooks into fireline (docs/oncall.md)")

    @field_validator("people", "schedules")
    @classmethod
    def _oncall_names(cls, value: dict[str, Any], info: Any) -> dict[str, Any]:
        check_names(value, "person" if info.field_name == "people" else "schedule")
        return value

    @field_validator("receivers")
    @classmethod
    def _receiver_names(cls, value: dict[str, Receiver]) -> dict[str, Receiver]:
        for name in value:
            if not NAME_RE.match(name):
                raise ValueError(f"receiver name {name!r} must be letters, digits, '-', '_' or '.'")
            if name == FIRELINE_RECEIVER:
                raise ValueError(f"receiver name {name!r} is reserved for the generated fireline webhook "
                                 "(set alertmanager.webhook instead)")
        return value

    @field_validator("teams")
    @classmethod
    def _team_names(cls, value: dict[str, TeamRouting]) -> dict[str, TeamRouting]:
        for name in value:
            if not NAME_RE.match(name):
                raise ValueError(f"team {name!r} must be letters, digits, '-', '_' or '.' (as in spec.team)")
        return value

    @model_validator(mode="after")
    def _references(self) -> Config:
        # Raised as a ValidationError with the exact location so the loader points at the bad name.
        defined = sorted(self.receivers)
        known = f"defined receivers: {', '.join(defined)}" if defined else "no receivers are defined"
        errors: list[InitErrorDetails] = []

        def undefined(loc: tuple[str | int, ...], name: str, what: str) -> None:
            guess = difflib.get_close_matches(name, defined, n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f" ({known})"
            message = f"{what} {name!r} is not defined under receivers{hint}"
            errors.append(InitErrorDetails(
                type=PydanticCustomError("undefined_receiver", "{message}", {"message": message}),
                loc=loc, input=name,
            ))

        if self.default_receiver is not None and self.default_receiver not in self.receivers:
            undefined(("default_receiver",), self.default_receiver, "default_receiver")
        for team, routing in self.teams.items():
            for severity in ("page", "ticket"):
                for i, name in enumerate(getattr(routing, severity)):
                    if name not in self.receivers:
                        undefined(("teams", team, severity, i), name, f"team {team!r} {severity} receiver")
            for i, step in enumerate(routing.escalation):
                for j, name in enumerate(step.notify):
                    if name not in self.receivers:
                        undefined(("teams", team, "escalation", i, "notify", j), name,
                                  f"team {team!r} escalation receiver")
        errors.extend(reference_errors(self.people, self.schedules, self.receivers, [
            (("teams", team, "escalation", i), step.schedule, step.person, step.receiver)
            for team, routing in self.teams.items() for i, step in enumerate(routing.escalation)]))
        for field in ("escalation_lead", "escalation_director"):
            name = getattr(self.server, field)
            if name is not None and name not in self.receivers:
                undefined(("server", field), name, f"server.{field}")
        if (self.receivers or self.teams) and self.default_receiver is None:
            errors.append(InitErrorDetails(
                type=PydanticCustomError(
                    "missing_default_receiver",
                    "default_receiver is required when receivers or teams are set: alerts of no configured "
                    "team go there"),
                loc=("default_receiver",), input=None,
            ))
        if self.alertmanager.version_tuple < (0, 26):
            for name, receiver in self.receivers.items():
                if receiver.webhook is not None and receiver.webhook.url_file is not None:
                    errors.append(InitErrorDetails(
                        type=PydanticCustomError("version", "url_file needs Alertmanager 0.26 or newer; "
                                                 "alertmanager.version is {version}: use url",
                                                 {"version": self.alertmanager.version}),
                        loc=("receivers", name, "webhook", "url_file"), input=receiver.webhook.url_file,
                    ))
        if errors:
            raise ValidationError.from_exception_data("Config", errors)
        return self

    @property
    def routes_alertmanager(self) -> bool:
        """Whether this config describes routing (otherwise no alertmanager.yml is generated)."""
        return self.default_receiver is not None
