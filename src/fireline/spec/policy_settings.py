"""The `policy:` section of fireline.yaml (docs/policy.md).

Tiers are ordered best to worst by `min_remaining` (percent of error budget left, inclusive); the
last tier has none and catches everything below. The defaults are the five tiers of the error-budget
policy in the brief, with its automated actions.

Action targets are names: receivers under `receivers:` (or `team`, the owning team's ticket
receivers from `teams:`), trackers under `policy.trackers`. They are checked against the rest of
the config by `fireline.policy.config.check_policy_references`, which can see every section.
"""

from __future__ import annotations

import itertools
import re
import string
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from fireline.slo.durations import Duration
from fireline.spec.models import NAME_RE, DurationField, Model, Number

# The receiver name that means "the owning team's ticket receivers" (teams.<team>.ticket).
TEAM_RECEIVER = "team"
# Placeholders usable in notification texts and ticket fields.
TEMPLATE_FIELDS = frozenset({
    "service", "slo", "team", "tier", "previous_tier", "budget_remaining", "objective", "window", "since",
})
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ChangeClass(StrEnum):
    """What a deploy is, as the pipeline declares it to the gate."""

    FEATURE = "feature"
    CRITICAL = "critical"
    HOTFIX = "hotfix"


class TrackerKind(StrEnum):
    GITHUB = "github"
    JIRA = "jira"
    WEBHOOK = "webhook"


def check_template(value: str, field: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{field} is not a valid template ({exc}); write placeholders as {{service}}") from None
    unknown = sorted(n for n in names if n.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(f"{field} uses unknown placeholder {{{unknown[0]}}}; "
                         f"known: {', '.join('{' + f + '}' for f in sorted(TEMPLATE_FIELDS))}")
    return value


class Tracker(Model):
    """Where tickets go. The API token is read from token_file or token_env at send time, never stored."""

    type: TrackerKind
    url: str | None = Field(default=None, description="API base (GitHub: https://api.github.com); "
                            "Jira: the site URL; webhook: the endpoint")
    repository: str | None = Field(default=None, description="GitHub owner/name")
    project: str | None = Field(default=None, description="Jira project key")
    issue_type: str = Field(default="Task", description="Jira issue type")
    token_file: str | None = None
    token_env: str | None = None
    user: str | None = Field(default=None, description="Jira Cloud account e-mail for basic auth; "
                             "without it the token is sent as a bearer token")
    token: str | None = None

    @field_validator("token")
    @classmethod
    def _no_inline_token(cls, value: str | None) -> str | None:
        raise ValueError("token is an inline secret: put it in a file (token_file) or an environment "
                         "variable (token_env); fireline never keeps tokens in fireline.yaml")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"url {value!r} must be an http:// or https:// URL")
        return None if value is None else value.rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME_RE.match(value):
            raise ValueError(f"token_env {value!r} must be an environment variable name such as GITHUB_TOKEN")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Tracker:
        if self.type is TrackerKind.GITHUB:
            if self.repository is None or not re.match(r"^[\w.-]+/[\w.-]+$", self.repository):
                raise ValueError("a github tracker needs repository: owner/name")
        elif self.type is TrackerKind.JIRA:
            if self.url is None or self.project is None:
                raise ValueError("a jira tracker needs url (the site, e.g. https://acme.atlassian.net) and project")
        elif self.url is None:
            raise ValueError("a webhook tracker needs url")
        if self.type is not TrackerKind.WEBHOOK and self.token_file is None and self.token_env is None:
            raise ValueError(f"a {self.type} tracker needs token_file or token_env (the API token)")
        return self

    @property
    def api_url(self) -> str:
        if self.url is not None:
            return self.url
        return "https://api.github.com"


class TicketAction(Model):
    tracker: str = Field(description="name under policy.trackers")
    title: str
    body: str = ("Error budget of {service}/{slo} is at {budget_remaining} (tier {tier}, was {previous_tier}, "
                 "since {since}). Objective {objective} over {window}.")
    labels: list[str] = Field(default_factory=list)
    priority: str | None = Field(default=None, description="e.g. high; a label on GitHub, the priority on Jira")
    due_in: DurationField | None = Field(default=None, description="due date = transition time + due_in")

    @field_validator("title", "body")
    @classmethod
    def _template(cls, value: str, info: Any) -> str:
        return check_template(value, info.field_name)


class IncidentAction(Model):
    severity: str = Field(default="SEV1", description="incident severity, e.g. SEV1 (P1)")
    title: str = "Error budget of {service}/{slo} below {budget_remaining}: tier {tier}"

    @field_validator("title")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value, "title")


class TierActions(Model):
    """What happens once when an SLO enters (or leaves) a tier."""

    notify: list[str] = Field(default_factory=list, description="receivers to post to")
    page: list[str] = Field(default_factory=list, description="receivers to page")
    ticket: list[TicketAction] = Field(default_factory=list)
    incident: IncidentAction | None = None
    message: str = ("{service}/{slo}: error budget {budget_remaining} left, tier {previous_tier} -> {tier}")

    @field_validator("message")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value, "message")

    @field_validator("notify", "page")
    @classmethod
    def _distinct(cls, value: list[str], info: Any) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"{info.field_name} lists {', '.join(repeated)} twice: it would be sent twice")
        return value

    @property
    def empty(self) -> bool:
        return not (self.notify or self.page or self.ticket or self.incident)


class PolicyTier(Model):
    name: str
    min_remaining: Number | None = Field(
        default=None, description="percent of budget left at or above which this tier applies; "
        "None on the last tier (everything below)")
    freeze: list[ChangeClass] = Field(default_factory=list, description="change classes the gate refuses")
    on_enter: TierActions = TierActions()
    on_leave: TierActions = TierActions()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value) or value == "unknown":
            raise ValueError(f"tier name {value!r} must be letters, digits, '-', '_' or '.', and not 'unknown' "
                             "(fireline's name for an unmeasurable budget)")
        return value

    @field_validator("freeze")
    @classmethod
    def _freeze(cls, value: list[ChangeClass]) -> list[ChangeClass]:
        return sorted(set(value), key=list(ChangeClass).index)


class Hysteresis(Model):
    margin: Number = Field(default=Decimal(2), description="percentage points above the boundary")
    cycles: int = Field(default=3, ge=1, description="consecutive cycles above boundary + margin")

    @field_validator("margin")
    @classmethod
    def _margin(cls, value: Decimal) -> Decimal:
        if not 0 <= value < 50:
            raise ValueError(f"margin is in percentage points of budget, in [0, 50), got {value}")
        return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {value!r} is not an IANA time zone such as UTC or Europe/Berlin") from None
    return value


class SLOWindowOverride(Model):
    """Window settings for one service (all its SLOs) or one SLO."""

    service: str
    slo: str | None = None
    calendar: Literal["month"] | None = None
    rolling: bool = Field(default=False, description="force the rolling SLO window even if calendar is global")
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _one(self) -> SLOWindowOverride:
        if self.rolling and self.calendar is not None:
            raise ValueError("give either calendar: month or rolling: true, not both")
        return self


def default_tiers() -> list[PolicyTier]:
    """The brief's error-budget policy: five tiers by budget remaining, actions under 25% and 10%."""
    return [
        PolicyTier(name="normal", min_remaining=Decimal(75)),
        PolicyTier(name="caution", min_remaining=Decimal(50), on_enter=TierActions(
            notify=[TEAM_RECEIVER],
            message="{service}/{slo}: {budget_remaining} of the error budget left (tier caution): review the "
                    "trend and slow down launches")),
        PolicyTier(name="alert", min_remaining=Decimal(25), freeze=[ChangeClass.FEATURE], on_enter=TierActions(
            notify=[TEAM_RECEIVER],
            message="{service}/{slo}: {budget_remaining} of the error budget left (tier alert): feature "
                    "launches are frozen")),
        PolicyTier(
            name="critical", min_remaining=Decimal(10), freeze=[ChangeClass.FEATURE],
            on_enter=TierActions(
                notify=["leadership", TEAM_RECEIVER],
                message="{service}/{slo}: {budget_remaining} of the error budget left (tier critical): feature "
                        "deploys paused, reliability ticket and SRE review opened",
                ticket=[
                    TicketAction(tracker="reliability", title="Reliability: {service}/{slo} error budget at "
                                 "{budget_remaining}", labels=["reliability", "error-budget"], priority="high",
                                 due_in=Duration.parse("2d")),
                    TicketAction(tracker="reliability", title="SRE review: {service}/{slo}",
                                 labels=["sre-review", "error-budget"], priority="high",
                                 due_in=Duration.parse("7d")),
                ]),
            on_leave=TierActions(notify=["leadership"])),
        PolicyTier(
            name="lockdown", freeze=[ChangeClass.FEATURE, ChangeClass.CRITICAL],
            on_enter=TierActions(
                notify=["leadership", TEAM_RECEIVER],
                page=["sre-lead", "eng-director"],
                incident=IncidentAction(severity="SEV1"),
                message="{service}/{slo}: {budget_remaining} of the error budget left (tier lockdown): all hands, "
                        "only hotfixes may deploy"),
            on_leave=TierActions(notify=["leadership"])),
    ]


class PolicySettings(Model):
    interval: DurationField = Duration.parse("1m")
    tiers: list[PolicyTier] = Field(default_factory=default_tiers)
    hysteresis: Hysteresis = Hysteresis()
    calendar: Literal["month"] | None = Field(default=None, description="month: the budget resets on the 1st")
    timezone: str = Field(default="UTC", description="where the calendar month begins")
    windows: list[SLOWindowOverride] = Field(default_factory=list, description="per service or SLO")
    grace_period: DurationField = Field(default=Duration.parse("10m"),
                                        description="unknown this long before anyone is told")
    staleness: DurationField = Field(default=Duration.parse("10m"),
                                     description="no events series within this long = stale")
    budget_source: Literal["auto", "recorded", "raw"] = Field(
        default="auto", description="auto: fireline's recordings when they cover the window, else raw counters")
    unknown_notify: list[str] = Field(default_factory=lambda: [TEAM_RECEIVER],
                                      description="receivers told when a budget stays unknown")
    trackers: dict[str, Tracker] = Field(default_factory=dict)
    max_attempts: int = Field(default=8, ge=1, description="tries per action before it is dead-lettered")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("interval", "grace_period", "staleness")
    @classmethod
    def _positive(cls, value: Duration, info: Any) -> Duration:
        if value.milliseconds < 1000:
            raise ValueError(f"{info.field_name} must be at least 1s, got {value}")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[PolicyTier]) -> list[PolicyTier]:
        if not value:
            raise ValueError("tiers is empty: leave it out for the five default tiers")
        names = [t.name for t in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"tier names must be unique; repeated: {', '.join(repeated)}")
        *upper, last = value
        if last.min_remaining is not None:
            raise ValueError(f"the last tier ({last.name}) catches everything below the others: "
                             "leave out its min_remaining")
        previous: Decimal | None = None
        for tier in upper:
            if tier.min_remaining is None:
                raise ValueError(f"tier {tier.name} needs min_remaining (only the last tier has none)")
            if not -100 <= tier.min_remaining <= 100:
                raise ValueError(f"tier {tier.name}: min_remaining is a percentage of budget left, "
                                 f"got {tier.min_remaining}")
            if previous is not None and tier.min_remaining >= previous:
                raise ValueError("tiers go from best to worst: each min_remaining must be below the one before "
                                 f"({tier.name}: {tier.min_remaining} after {previous})")
            previous = tier.min_remaining
        return value

    @field_validator("trackers")
    @classmethod
    def _tracker_names(cls, value: dict[str, Tracker]) -> dict[str, Tracker]:
        for name in value:
            if not NAME_RE.match(name):
                raise ValueError(f"tracker name {name!r} must be letters, digits, '-', '_' or '.'")
        return value

    def tier(self, name: str) -> PolicyTier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)

    def boundaries(self) -> list[tuple[float, str]]:
        """(ratio, label) for each tier's lower edge, named for the tier below it: (0.25, 'critical below 25%')."""
        return [(float(upper.min_remaining) / 100, f"{lower.name} below {upper.min_remaining}%")
                for upper, lower in itertools.pairwise(self.tiers) if upper.min_remaining is not None]

    def tier_index(self, name: str) -> int:
        return [t.name for t in self.tiers].index(name)

    def window_for(self, service: str, slo: str) -> tuple[Literal["month"] | None, str]:
        """(calendar, timezone) for one SLO: the most specific override wins."""
        calendar, timezone = self.calendar, self.timezone
        for override in sorted(self.windows, key=lambda o: o.slo is not None):
            if override.service == service and override.slo in (None, slo):
                if override.rolling:
                    calendar = None
                elif override.calendar is not None:
                    calendar = override.calendar
                if override.timezone is not None:
                    timezone = override.timezone
        return calendar, timezone
