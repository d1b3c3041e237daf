"""The database side of on call: overrides, who is on call now, incident roles, request receipts.

Functions take a session and `now`; the maths is rotation.py's. Incident roles are written on
the incident's timeline in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fireline.incidents.models import EventKind, Incident, TimelineEvent
from fireline.oncall.models import IncidentRole, IntegrationReceipt, ScheduleOverride
from fireline.oncall.rotation import OnCall, Override, ScheduleClock, Segment
from fireline.oncall.settings import ROLES
from fireline.spec.config import Config

MAX_OVERRIDE = timedelta(days=90)


class OnCallError(ValueError):
    """A request names no such schedule or person, or a span fireline does not accept (answered 4xx)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Paged:
    """Who an escalation step pages, resolved when the step fires."""

    person: str | None
    schedule: str | None
    slack_user: str | None
    # Receivers that reach the person directly (people.<name>.notify).
    receivers: tuple[str, ...]


def clock_for(config: Config, schedule: str) -> ScheduleClock:
    spec = config.schedules.get(schedule)
    if spec is None:
        known = ", ".join(sorted(config.schedules)) or "none are defined"
        raise OnCallError(f"no schedule {schedule!r} in fireline.yaml (schedules: {known})", 404)
    return ScheduleClock(spec)


def overrides(session: Session, schedule: str, start: datetime | None = None,
              end: datetime | None = None) -> list[Override]:
    """The schedule's overrides that overlap [start, end) (all of them without a span)."""
    query = select(ScheduleOverride).where(ScheduleOverride.schedule == schedule)
    if start is not None:
        query = query.where(ScheduleOverride.ends_at > start)
    if end is not None:
        query = query.where(ScheduleOverride.starts_at < end)
    return [Override(row.id, row.person, row.starts_at, row.ends_at, row.reason)
            for row in session.scalars(query.order_by(ScheduleOverride.id))]


def on_call(session: Session, config: Config, schedule: str, at: datetime) -> OnCall | None:
    clock = clock_for(config, schedule)
    return clock.on_call(at, overrides(session, schedule, at, at + timedelta(microseconds=1)))


def until(session: Session, config: Config, schedule: str, at: datetime,
          horizon: timedelta = timedelta(days=35)) -> datetime | None:
    clock = clock_for(config, schedule)
    return clock.until(at, overrides(session, schedule, at, at + horizon), horizon)


def segments(session: Session, config: Config, schedule: str, start: datetime, end: datetime) -> list[Segment]:
    clock = clock_for(config, schedule)
    try:
        return clock.segments(start, end, overrides(session, schedule, start, end))
    except ValueError as exc:
        raise OnCallError(str(exc)) from None


def page_for(session: Session, config: Config, schedule: str | None, person: str | None, at: datetime) -> Paged:
    """The person an escalation step names, or who is on call in its schedule at `at` (person None: nobody)."""
    name = person
    if schedule is not None:
        # A schedule removed from fireline.yaml after the incident opened pages nobody (and falls through).
        found = on_call(session, config, schedule, at) if schedule in config.schedules else None
        name = found.person if found is not None else None
    spec = config.people.get(name) if name is not None else None
    return Paged(name, schedule, spec.slack_user if spec else None, tuple(spec.notify) if spec else ())


def add_override(session: Session, config: Config, schedule: str, person: str, start: datetime, end: datetime,
                 reason: str | None, actor: str, now: datetime) -> ScheduleOverride:
    clock_for(config, schedule)
    if person not in config.people:
        known = ", ".join(sorted(config.people)) or "none are defined"
        raise OnCallError(f"no person {person!r} in fireline.yaml (people: {known})")
    if start.tzinfo is None or end.tzinfo is None:
        raise OnCallError("override times need a time zone, e.g. 2026-12-24T09:00:00+01:00 or ...Z")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise OnCallError(f"override ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if end - start > MAX_OVERRIDE:
        raise OnCallError(f"an override is at most {MAX_OVERRIDE.days} days; change the rotation for longer")
    if end <= now:
        raise OnCallError(f"override ends in the past ({end.isoformat()})")
    row = ScheduleOverride(schedule=schedule, person=person, starts_at=start, ends_at=end, reason=reason,
                           created_by=actor[:255], created_at=now)
    session.add(row)
    session.flush()
    return row


def list_overrides(session: Session, schedule: str | None, now: datetime, *, include_past: bool = False
                   ) -> list[ScheduleOverride]:
    query = select(ScheduleOverride).order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    if schedule is not None:
        query = query.where(ScheduleOverride.schedule == schedule)
    if not include_past:
        query = query.where(ScheduleOverride.ends_at > now)
    return list(session.scalars(query))


def remove_override(session: Session, override_id: int) -> ScheduleOverride:
    row = session.get(ScheduleOverride, override_id)
    if row is None:
        raise OnCallError(f"override {override_id} not found", 404)
    session.delete(row)
    session.flush()
    return row


# ----------------------------------------------------------------------------------------- roles

def roles(session: Session, incident_id: int) -> dict[str, str]:
    rows = session.scalars(select(IncidentRole).where(IncidentRole.incident_id == incident_id))
    return {row.role: row.person for row in rows}


def assign_role(session: Session, config: Config, incident: Incident, role: str, person: str | None, actor: str,
                now: datetime) -> bool:
    """Give `role` to `person` (None: nobody holds it); on the timeline. False when nothing changed."""
    if role not in ROLES:
        raise OnCallError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if person is not None and person not in config.people:
        known = ", ".join(sorted(config.people)) or "none are defined"
        raise OnCallError(f"no person {person!r} in fireline.yaml (people: {known})")
    row = session.get(IncidentRole, (incident.id, role))
    if person is None:
        if row is None:
            return False
        session.delete(row)
        message = f"{role} role released (was {row.person})"
    else:
        if row is not None and row.person == person:
            return False
        message = f"{person} is {role}" + (f" (was {row.person})" if row is not None else "")
        if row is None:
            session.add(IncidentRole(incident_id=incident.id, role=role, person=person, assigned_by=actor[:255],
                                     assigned_at=now))
        else:
            row.person, row.assigned_by, row.assigned_at = person, actor[:255], now
    session.add(TimelineEvent(incident_id=incident.id, at=now, kind=EventKind.ROLE_ASSIGNED.value, actor=actor[:255],
                              message=message, data={"role": role, "person": person}))
    session.flush()
    return True


# -------------------------------------------------------------------------------------- receipts

def first_receipt(session: Session, digest: str, source: str, now: datetime) -> bool:
    """Record a signed request; False when it was seen before (a replay)."""
    if session.get(IntegrationReceipt, digest) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(IntegrationReceipt(digest=digest, source=source, received_at=now))
    except IntegrityError:  # the same request on another replica at the same moment
        return False
    return True


def prune_receipts(session: Session, before: datetime) -> int:
    result = session.execute(delete(IntegrationReceipt).where(IntegrationReceipt.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
