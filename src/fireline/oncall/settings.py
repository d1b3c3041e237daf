"""The on-call sections of fireline.yaml: `people:`, `schedules:` and `integrations:` (docs/oncall.md).

A schedule is made of layers; each layer is a rotation of people with a shift length (daily,
weekly or custom), a handoff time in the schedule's time zone and optional restrictions (the
hours the layer covers, e.g. business hours). Later layers win over earlier ones where they have
someone; overrides (stored by `fireline serve`, not here) win over every layer.

Names are checked against the rest of the config by `reference_errors`, which Config calls with
every section in hand. Secrets stay in files (`signing_secret_file`, `webhook_secret_file`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from fireline.slo.durations import Duration
from fireline.spec.models import NAME_RE, DurationField, Model

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ALL_DAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_HANDOFF_RE = re.compile(r"^(?:(?P<day>[A-Za-z]{3,9})\s+)?(?P<time>\d{1,2}:\d{2})$")
_SLACK_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_PAGERDUTY_USER_RE = re.compile(r"^P[A-Z0-9]{5,13}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
MIN_SHIFT = Duration.parse("1h")
ROLES = ("commander", "communications", "scribe")


def parse_clock(value: str, field: str) -> time:
    match = _TIME_RE.match(value.strip())
    if match is None:
        raise ValueError(f"{field} {value!r} must be a time of day such as \"09:00\" (24-hour clock)")
    return time(int(match.group(1)), int(match.group(2)))


def _check_file(value: str, field: str) -> str:
    if not value.strip() or "\n" in value:
        raise ValueError(f"{field} must be the path of the file that holds the secret")
    return value


class Person(Model):
    """Someone who can be on call; `notify` names receivers that reach this person directly."""

    slack_user: str | None = Field(default=None, description="Slack member id, e.g. U01ALICE")
    email: str | None = None
    pagerduty_user: str | None = Field(default=None, description="PagerDuty user id, e.g. PABC123")
    notify: list[str] = Field(default_factory=list, description="receivers that page this person directly")

    @field_validator("slack_user")
    @classmethod
    def _slack(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_USER_RE.match(value):
            raise ValueError(f"slack_user {value!r} must be a Slack member id such as U01ALICE "
                             "(profile → ⋮ → Copy member ID), not a display name")
        return value

    @field_validator("pagerduty_user")
    @classmethod
    def _pagerduty(cls, value: str | None) -> str | None:
        if value is not None and not _PAGERDUTY_USER_RE.match(value):
            raise ValueError(f"pagerduty_user {value!r} must be a PagerDuty user id such as PABC123")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_RE.match(value):
            raise ValueError(f"email {value!r} is not an e-mail address")
        return value


class Restriction(Model):
    """The layer covers only these hours, on these days (the schedule's time zone).

    `to` at or before `from` runs past midnight into the next day (17:00 → 09:00 covers nights).
    """

    days: list[Weekday] = Field(default_factory=lambda: list(_ALL_DAYS))
    from_: str = Field(alias="from", description="start of the covered hours, e.g. \"09:00\"")
    to: str = Field(description="end of the covered hours, e.g. \"17:00\"")

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.strip().lower()[:3] if isinstance(v, str) else v for v in value]
        return value

    @field_validator("from_", "to")
    @classmethod
    def _clock(cls, value: str, info: Any) -> str:
        parse_clock(value, "from" if info.field_name == "from_" else "to")
        return value

    @property
    def start_time(self) -> time:
        return parse_clock(self.from_, "from")

    @property
    def end_time(self) -> time:
        return parse_clock(self.to, "to")

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(day) for day in self.days)


class Layer(Model):
    """One rotation: people take turns, one shift each, handing off at `handoff`."""

    rotation: Literal["daily", "weekly", "custom"]
    shift_length: DurationField | None = Field(
        default=None, description="custom rotations: whole days keep the handoff's wall-clock time; "
                                  "other lengths (at least 1h) are exact elapsed time")
    handoff: str = Field(default="09:00", description="\"09:00\", or \"Mon 09:00\" for weekly rotations")
    start: date = Field(description="the first handoff is on this date (weekly: the first handoff day from it)")
    end: date | None = Field(default=None, description="the layer stops at the start of this date")
    people: list[str] = Field(min_length=1)
    restrictions: list[Restriction] = Field(default_factory=list)

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str) -> str:
        match = _HANDOFF_RE.match(value.strip())
        if match is None:
            raise ValueError(f"handoff {value!r} must be a time such as \"09:00\" or a day and time such as "
                             "\"Mon 09:00\"")
        day = match.group("day")
        if day is not None and day.lower() not in _DAY_NAMES:
            raise ValueError(f"handoff {value!r}: {day!r} is not a day of the week (Mon, Tue, ... Sun)")
        parse_clock(match.group("time"), "handoff")
        return value.strip()

    @model_validator(mode="after")
    def _shape(self) -> Layer:
        if self.rotation == "custom":
            if self.shift_length is None:
                raise ValueError("a custom rotation needs shift_length, e.g. 12h or 3d")
            if self.shift_length < MIN_SHIFT:
                raise ValueError(f"shift_length {self.shift_length} is shorter than {MIN_SHIFT}")
        elif self.shift_length is not None:
            raise ValueError(f"shift_length is for custom rotations; a {self.rotation} rotation's shift is "
                             f"{'1d' if self.rotation == 'daily' else '7d'}")
        if self.handoff_weekday is not None and self.rotation != "weekly":
            raise ValueError(f"handoff {self.handoff!r} names a day, which only weekly rotations have; "
                             "give a time such as \"09:00\"")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self

    @property
    def handoff_time(self) -> time:
        match = _HANDOFF_RE.match(self.handoff)
        assert match is not None
        return parse_clock(match.group("time"), "handoff")

    @property
    def handoff_weekday(self) -> int | None:
        match = _HANDOFF_RE.match(self.handoff)
        assert match is not None
        day = match.group("day")
        return None if day is None else _DAY_NAMES[day.lower()]

    @property
    def wall_clock_days(self) -> int | None:
        """Shift length in calendar days when the handoff keeps its wall-clock time; None for exact lengths."""
        if self.rotation == "daily":
            return 1
        if self.rotation == "weekly":
            return 7
        assert self.shift_length is not None
        day_ms = 86_400_000
        if self.shift_length.milliseconds % day_ms == 0:
            return self.shift_length.milliseconds // day_ms
        return None


class Schedule(Model):
    time_zone: str = Field(description="IANA time zone of handoffs and restrictions, e.g. Europe/Berlin")
    layers: list[Layer] = Field(min_length=1)
    description: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {value!r} is not an IANA time zone such as Europe/Berlin or UTC") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class SlackIntegration(Model):
    """A Slack app: its request URL gets button presses and the /fireline slash command."""

    signing_secret_file: str = Field(description="file holding the app's signing secret")
    # Slack's response_url points at hooks.slack.com; fireline posts message updates only there
    # (a local capture server in tests), so a request cannot make it call arbitrary hosts.
    response_url_hosts: list[str] = Field(default_factory=lambda: ["hooks.slack.com"])

    @field_validator("signing_secret_file")
    @classmethod
    def _file(cls, value: str) -> str:
        return _check_file(value, "signing_secret_file")


class PagerDutyIntegration(Model):
    """PagerDuty webhooks v3 into fireline (acknowledged and resolved in PagerDuty)."""

    webhook_secret_file: str = Field(description="file holding the webhook subscription's signing secret")
    # PagerDuty retries a failed delivery for about 20 minutes; an event older than this is refused.
    max_event_age: DurationField = Duration.parse("30m")

    @field_validator("webhook_secret_file")
    @classmethod
    def _file(cls, value: str) -> str:
        return _check_file(value, "webhook_secret_file")

    @field_validator("max_event_age")
    @classmethod
    def _age(cls, value: Duration) -> Duration:
        # Replays are recognised for two days (fireline.oncall.api.RECEIPT_RETENTION); older events are refused.
        if not Duration.parse("1m") <= value <= Duration.parse("1d"):
            raise ValueError("max_event_age must be between 1m and 1d")
        return value


class Integrations(Model):
    slack: SlackIntegration | None = None
    pagerduty: PagerDutyIntegration | None = None


def check_names(value: dict[str, Any], what: str) -> None:
    for name in value:
        if not NAME_RE.match(name):
            raise ValueError(f"{what} name {name!r} must be letters, digits, '-', '_' or '.'")


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, "{message}", {"message": message}), loc=loc, input=value)


def _known(names: Iterable[str], what: str) -> str:
    listed = sorted(names)
    return f"defined {what}: {', '.join(listed)}" if listed else f"no {what} are defined"


def reference_errors(people: dict[str, Person], schedules: dict[str, Schedule], receivers: Iterable[str],
                     steps: Iterable[tuple[tuple[str | int, ...], str | None, str | None, str | None]]
                     ) -> list[InitErrorDetails]:
    """Names that point nowhere: a layer's people, a person's receivers, an escalation step's target.

    `steps` are (location, schedule, person, receiver) of every escalation step.
    """
    receiver_names = set(receivers)
    errors: list[InitErrorDetails] = []
    for name, person in people.items():
        for i, receiver in enumerate(person.notify):
            if receiver not in receiver_names:
                errors.append(_error("undefined_receiver", f"person {name!r} notify receiver {receiver!r} is not "
                                     f"defined under receivers ({_known(receiver_names, 'receivers')})",
                                     ("people", name, "notify", i), receiver))
    for name, schedule in schedules.items():
        for i, layer in enumerate(schedule.layers):
            for j, who in enumerate(layer.people):
                if who not in people:
                    errors.append(_error("undefined_person", f"schedule {name!r} layer {i + 1} names {who!r}, who is "
                                         f"not defined under people ({_known(people, 'people')})",
                                         ("schedules", name, "layers", i, "people", j), who))
    for loc, schedule_name, person_name, step_receiver in steps:
        if schedule_name is not None and schedule_name not in schedules:
            errors.append(_error("undefined_schedule", f"escalation schedule {schedule_name!r} is not defined under "
                                 f"schedules ({_known(schedules, 'schedules')})", (*loc, "schedule"), schedule_name))
        if person_name is not None and person_name not in people:
            errors.append(_error("undefined_person", f"escalation person {person_name!r} is not defined under people "
                                 f"({_known(people, 'people')})", (*loc, "person"), person_name))
        if step_receiver is not None and step_receiver not in receiver_names:
            errors.append(_error("undefined_receiver", f"escalation receiver {step_receiver!r} is not defined under "
                                 f"receivers ({_known(receiver_names, 'receivers')})", (*loc, "receiver"),
                                 step_receiver))
    return errors


def person_for_slack_user(people: dict[str, Person], user_id: str) -> str | None:
    return next((name for name, p in sorted(people.items()) if p.slack_user == user_id), None)


def person_for_pagerduty_user(people: dict[str, Person], user_id: str) -> str | None:
    return next((name for name, p in sorted(people.items()) if p.pagerduty_user == user_id), None)
