"""The incident lifecycle: intake, one function per status transition, escalation, updates.

triggered → acknowledged → mitigated → resolved. Each transition function checks that it is
allowed, changes the incident, writes the timeline and enqueues its notifications in the same
transaction (Netflix Dispatch's flows), so a committed change and its notifications are one.
Every function takes `now` and a session: no clock, HTTP or threads in here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from fireline.incidents.escalation import Step, chain_for
from fireline.incidents.intake import AlertmanagerNotification
from fireline.incidents.models import (
    ActionItem,
    EventKind,
    Incident,
    IncidentAlert,
    IntakeReceipt,
    Kind,
    Status,
    TimelineEvent,
)
from fireline.notify import pagerduty, slack, webhook
from fireline.notify.endpoints import integrations_of
from fireline.notify.message import Notice, NoticeEvent
from fireline.notify.outbox import OutboxItem, Outcome, enqueue_rows, outbox_row
from fireline.oncall.service import Paged, page_for
from fireline.rules.plan import FACT_BUDGET_REMAINING, FACT_BURN_RATE
from fireline.server.db import insert_ignoring_conflicts
from fireline.spec.config import Config

SYSTEM = "fireline"
ALERTMANAGER = "alertmanager"
_SEVERITY_RANK = {"SEV1": 0, "SEV2": 1, "SEV3": 2, "ticket": 3}


class TransitionError(Exception):
    """The incident is not in a state that allows this transition (answered with 409)."""


@dataclass(frozen=True)
class IntakeResult:
    duplicate: bool
    incident_id: int | None
    opened: bool
    alerts: int
    note: str


# ----------------------------------------------------------------------------------------------- intake

# Intake's statements, built once (building one costs about as much as SQLite takes to run it).
# The group's open incident, else one resolved within the reopen cool-down (latest first), in one query.
# FOR UPDATE (PostgreSQL): notifications of one group and transitions of its incident take turns.
_GROUP_INCIDENT = (
    select(Incident).where(Incident.group_key == bindparam("group_key"), or_(
        Incident.open_group_key == bindparam("group_key"),
        and_(Incident.status == Status.RESOLVED.value, Incident.resolved_at >= bindparam("since"))))
    .order_by(Incident.open_group_key.is_(None), Incident.resolved_at.desc()).limit(1).with_for_update())
_RECEIPTS: Table = IntakeReceipt.__table__  # type: ignore[assignment]
_RECEIPT_INCIDENT = (update(_RECEIPTS).where(_RECEIPTS.c.digest == bindparam("digest_"))
                     .values(incident_id=bindparam("incident_id")))
_TIMELINE: Table = TimelineEvent.__table__  # type: ignore[assignment]
_INSERT_EVENT = insert(_TIMELINE).returning(_TIMELINE.c.id)
_ALERTS: Table = IncidentAlert.__table__  # type: ignore[assignment]
_ALERT_COLUMNS = ("incident_id", "fingerprint", "alertname", "status", "labels", "annotations", "starts_at", "ends_at",
                  "last_seen_at")
_INSERT_ALERT = insert(_ALERTS)
_ALERTS_BY_FINGERPRINT = select(IncidentAlert).where(
    IncidentAlert.incident_id == bindparam("incident_id"),
    IncidentAlert.fingerprint.in_(bindparam("fingerprints", expanding=True)))


def ingest(session: Session, config: Config, notification: AlertmanagerNotification, now: datetime) -> IntakeResult:
    """Apply one Alertmanager notification. A redelivery of the same notification changes nothing.

    Written for few round trips and little ORM work (it is the hot path of `fireline serve`): the receipt is
    one INSERT ... ON CONFLICT, the open or recently resolved incident one SELECT, only the notification's own
    alerts are read, new alerts and timeline entries are Core INSERTs, and the incident's changes go out in
    the flush at commit (shared by every notification of a group-commit batch).
    """
    digest = notification.digest()
    group_key = notification.group_key()
    # A concurrent identical delivery waits on this row's key and then finds it: a duplicate, not a conflict.
    if not insert_ignoring_conflicts(session, _RECEIPTS, [dict(
            digest=digest, received_at=now, group_key=group_key, incident_id=None,
            alerts=len(notification.alerts))], ["digest"]):
        return IntakeResult(True, None, False, len(notification.alerts), "duplicate notification ignored")

    firing = [a for a in notification.alerts if a.status == "firing"]
    cooldown = timedelta(milliseconds=config.server.reopen_cooldown.milliseconds)
    incident = session.scalar(_GROUP_INCIDENT, {"group_key": group_key, "since": now - cooldown})
    opened = False
    if incident is not None and incident.status == Status.RESOLVED.value:
        if not firing:
            incident = None  # resolved alerts do not reopen anything
        else:
            reopen(session, config, incident, ALERTMANAGER, "fired again within the reopen cool-down", now)
    if incident is None:
        if not firing:
            return IntakeResult(False, None, False, len(notification.alerts),
                                "resolved alerts for a group without an open incident: nothing to do")
        incident = open_incident(session, config, notification, group_key, now)
        opened = True
    session.connection().execute(_RECEIPT_INCIDENT, {"digest_": digest, "incident_id": incident.id})
    changed_firing, alerts = _record_alerts(session, incident, notification, now, opened=opened)
    if opened:
        # Steps due at once (after: 0m) go out with the commit; the new incident's alerts are all known.
        escalate_due(session, config, incident, now, alerts=alerts)
    if firing:
        incident.last_fired_at = now
        _raise_severity(session, config, incident, notification, now)
    if incident.status == Status.MITIGATED.value and changed_firing:
        reopen(session, config, incident, ALERTMANAGER, "alerts fired again after mitigation", now)
    # A firing alert in this notification is stored firing: the incident cannot be all resolved.
    if (not firing and incident.status in (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)
            and _all_resolved(session, incident)):
        mitigate(session, config, incident, ALERTMANAGER, "all alerts resolved", now)
    return IntakeResult(False, incident.id, opened, len(notification.alerts),
                        "incident opened" if opened else "incident updated")


def _record_alerts(session: Session, incident: Incident, notification: AlertmanagerNotification,
                   now: datetime, *, opened: bool = False) -> tuple[bool, list[IncidentAlert]]:
    """Upsert the incident's alerts; timeline entries for alerts that fired or resolved.
    Returns whether an alert went from resolved (or unknown) to firing, and the notification's alert rows
    (every alert of the incident when it was just opened)."""
    fingerprints = list(dict.fromkeys(a.fingerprint for a in notification.alerts))
    existing: dict[str, IncidentAlert] = {}
    if not opened:  # only this notification's alerts: an incident may hold thousands
        for start in range(0, len(fingerprints), 500):
            existing.update({a.fingerprint: a for a in session.scalars(
                _ALERTS_BY_FINGERPRINT, {"incident_id": incident.id, "fingerprints": fingerprints[start:start + 500]})})
    newly_firing = False
    new: list[IncidentAlert] = []
    for alert in notification.alerts:
        row = existing.get(alert.fingerprint)
        if row is None:
            # Not added to the session: new alerts go in one Core INSERT below (cheaper than the ORM's flush).
            row = IncidentAlert(incident_id=incident.id, fingerprint=alert.fingerprint, alertname=alert.alertname,
                                status=alert.status, labels=alert.labels, annotations=alert.annotations,
                                starts_at=alert.startsAt, ends_at=alert.ends_at, last_seen_at=now)
            new.append(row)
            existing[alert.fingerprint] = row
            changed = True
        else:
            changed = row.status != alert.status
            row.status = alert.status
            row.labels = alert.labels
            row.annotations = alert.annotations
            row.starts_at = alert.startsAt
            row.ends_at = alert.ends_at
            row.last_seen_at = now
        if changed:
            kind = EventKind.ALERT_FIRED if alert.status == "firing" else EventKind.ALERT_RESOLVED
            newly_firing = newly_firing or alert.status == "firing"
            _event(session, incident, kind, ALERTMANAGER, now,
                   f"{alert.alertname or 'alert'} {alert.status}: "
                   f"{alert.annotations.get('summary') or _label_text(alert.labels)}",
                   {"fingerprint": alert.fingerprint, "labels": alert.labels})
            if alert.notes:  # kept, not refused: say what intake had to cut to store it
                _event(session, incident, EventKind.INTAKE_NOTE, ALERTMANAGER, now,
                       f"{alert.alertname or 'alert'} ({alert.fingerprint}) stored with changes: "
                       + "; ".join(alert.notes), {"fingerprint": alert.fingerprint, "notes": alert.notes})
    if new:  # with the values of their last mention in this notification
        session.connection().execute(_INSERT_ALERT, [
            {column: getattr(row, column) for column in _ALERT_COLUMNS} for row in new])
    return newly_firing, list(existing.values())


def _all_resolved(session: Session, incident: Incident) -> bool:
    firing = session.scalar(select(func.count()).select_from(IncidentAlert).where(
        IncidentAlert.incident_id == incident.id, IncidentAlert.status == "firing"))
    return firing == 0


def _column(value: str | None) -> str | None:
    # Label values may be 4096 characters; the incident's team, service and slo columns hold 255.
    return None if value is None else value[:255]


def _label_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))[:300]


def _severity_of(config: Config, notification: AlertmanagerNotification) -> str:
    alerts = [a for a in notification.alerts if a.status == "firing"] or notification.alerts
    return min((config.server.severity.severity_of(a.labels) for a in alerts), key=_SEVERITY_RANK.__getitem__)


def _raise_severity(session: Session, config: Config, incident: Incident,
                    notification: AlertmanagerNotification, now: datetime) -> None:
    # A group can start with a ticket-level alert and get a page later: severity only goes up.
    severity = _severity_of(config, notification)
    if _SEVERITY_RANK[severity] >= _SEVERITY_RANK[incident.severity]:
        return
    _event(session, incident, EventKind.COMMENT, ALERTMANAGER, now,
           f"severity raised from {incident.severity} to {severity}")
    incident.severity = severity
    if incident.kind == Kind.TICKET.value and severity != "ticket":
        # The ticket became a page: it is an incident now, with the team's chain from this moment.
        incident.kind = Kind.INCIDENT.value
        chain = chain_for(config, incident.team, ticket=False)
        incident.escalation = [step.to_json() for step in chain]
        incident.escalation_started_at = now
        incident.escalation_next_step = 0
        incident.escalation_next_at = now + timedelta(seconds=chain[0].after_seconds) if chain else None
        if incident.status == Status.TRIGGERED.value:
            escalate_due(session, config, incident, now)


# ---------------------------------------------------------------------------------------- transitions

def open_incident(session: Session, config: Config, notification: AlertmanagerNotification, group_key: str,
                  now: datetime) -> Incident:
    labels = notification.commonLabels or notification.alerts[0].labels
    annotations = notification.commonAnnotations or notification.alerts[0].annotations
    severity = _severity_of(config, notification)
    ticket = severity == "ticket" and not config.server.tickets_as_incidents
    team = _column(labels.get("team"))
    title = (annotations.get("summary") or labels.get("alertname")
             or _label_text(notification.groupLabels) or "alert")[:1000]
    chain = chain_for(config, team, ticket=ticket)
    incident = Incident(
        group_key=group_key, open_group_key=group_key,
        kind=Kind.TICKET.value if ticket else Kind.INCIDENT.value,
        severity=severity, status=Status.TRIGGERED.value, title=title, team=team,
        service=_column(labels.get("service")), slo=_column(labels.get("slo")), labels=dict(labels),
        annotations=dict(annotations),
        external_url=notification.externalURL or None, opened_at=now, last_fired_at=now,
        escalation=[step.to_json() for step in chain], escalation_started_at=now, escalation_next_step=0,
        escalation_next_at=now + timedelta(seconds=chain[0].after_seconds) if chain else None,
        episode=1,
    )
    session.add(incident)
    session.flush()
    what = "ticket" if ticket else f"{severity} incident"
    _event(session, incident, EventKind.OPENED, ALERTMANAGER, now, f"{what} opened: {title}",
           {"group_key": group_key, "escalation": incident.escalation})
    return incident


def acknowledge(session: Session, config: Config, incident: Incident, actor: str, now: datetime,
                note: str | None = None) -> None:
    _require(incident, {Status.TRIGGERED}, "acknowledge")
    incident.status = Status.ACKNOWLEDGED.value
    incident.acknowledged_at = now
    incident.acknowledged_by = actor
    incident.escalation_next_at = None  # an owner exists: stop escalating
    _event(session, incident, EventKind.ACKNOWLEDGED, actor, now,
           f"acknowledged by {actor}" + (f": {note}" if note else ""))
    _notify_involved(session, config, incident, NoticeEvent.ACKNOWLEDGED, now, actor=actor, note=note)


def mitigate(session: Session, config: Config, incident: Incident, actor: str, note: str, now: datetime) -> None:
    _require(incident, {Status.TRIGGERED, Status.ACKNOWLEDGED}, "mitigate")
    incident.status = Status.MITIGATED.value
    incident.mitigated_at = now
    incident.escalation_next_at = None
    _event(session, incident, EventKind.MITIGATED, actor, now, f"mitigated: {note}")
    _notify_involved(session, config, incident, NoticeEvent.MITIGATED, now, actor=actor, note=note)


def resolve(session: Session, config: Config, incident: Incident, actor: str, now: datetime,
            note: str | None = None, root_cause: str | None = None) -> None:
    _require(incident, {Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED}, "resolve")
    incident.status = Status.RESOLVED.value
    incident.resolved_at = now
    incident.open_group_key = None  # the group may open a new incident (or reopen this one in the cool-down)
    incident.escalation_next_at = None
    if root_cause:
        incident.root_cause = root_cause
    _event(session, incident, EventKind.RESOLVED, actor, now, "resolved" + (f": {note}" if note else ""))
    _notify_involved(session, config, incident, NoticeEvent.RESOLVED, now, actor=actor, note=note)


def reopen(session: Session, config: Config, incident: Incident, actor: str, reason: str, now: datetime) -> None:
    _require(incident, {Status.MITIGATED, Status.RESOLVED}, "reopen")
    if incident.status == Status.RESOLVED.value:
        incident.open_group_key = incident.group_key
        incident.resolved_at = None
    incident.status = Status.TRIGGERED.value
    incident.episode += 1
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.mitigated_at = None
    # The chain stays the snapshot taken at opening; it restarts from the first step.
    chain = [Step.from_json(s) for s in incident.escalation]
    incident.escalation_started_at = now
    incident.escalation_next_step = 0
    incident.escalation_next_at = now + timedelta(seconds=chain[0].after_seconds) if chain else None
    session.flush()
    _event(session, incident, EventKind.REOPENED, actor, now, f"reopened: {reason}")
    escalate_due(session, config, incident, now, first_event=NoticeEvent.REOPENED)


def _require(incident: Incident, allowed: set[Status], what: str) -> None:
    if Status(incident.status) not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise TransitionError(f"cannot {what} incident {incident.id}: it is {incident.status} (needs {names})")


# ------------------------------------------------------------------------------------------ escalation

def escalate_due(session: Session, config: Config, incident: Incident, now: datetime,
                 first_event: NoticeEvent = NoticeEvent.TRIGGERED, alerts: list[IncidentAlert] | None = None) -> int:
    """Fire every step of the snapshotted chain that is due; returns how many fired.

    A step naming a schedule pages whoever is on call at this moment (overrides included); with
    nobody on call it falls through to the next step at once, unless it is the last one."""
    chain = [Step.from_json(s) for s in incident.escalation]
    fired = 0
    while (incident.escalation_next_at is not None and incident.escalation_next_at <= now
           and incident.status == Status.TRIGGERED.value and incident.escalation_next_step < len(chain)):
        index = incident.escalation_next_step
        step = chain[index]
        paged = page_for(session, config, step.schedule, step.person, now) if step.schedule or step.person else None
        data: dict[str, Any] = {"step": index, "notify": list(step.notify)}
        if paged is not None:
            data.update(person=paged.person, schedule=paged.schedule)
        if paged is not None and paged.person is None and index + 1 < len(chain):
            _event(session, incident, EventKind.ESCALATED, SYSTEM, now,
                   f"escalation step {index + 1}: nobody on call in {step.schedule}, falling through to step "
                   f"{index + 2}", data)
            incident.escalation_next_step = index + 1
            incident.escalation_next_at = now
            continue
        event = first_event if index == 0 else NoticeEvent.ESCALATED
        notice = build_notice(session, config, incident, event, escalation_step=index, paged=paged, alerts=alerts)
        receivers = list(dict.fromkeys(step.notify + (paged.receivers if paged else ())))
        _enqueue_for(session, config, incident, notice, now=now, targets=[
            (receiver, f"incident/{incident.id}/e{incident.episode}/step{index}/{receiver}") for receiver in receivers])
        what = f"notified {', '.join(receivers)}"
        if paged is not None:
            what = (f"paged {paged.person}" + (f" via {paged.schedule}" if paged.schedule else "") + f", {what}"
                    if paged.person else f"nobody on call in {paged.schedule} and no later step, {what}")
        late = "" if index == 0 else f" not acknowledged after {_human(step.after_seconds)},"
        _event(session, incident, EventKind.ESCALATED, SYSTEM, now, f"escalation step {index + 1}:{late} {what}", data)
        incident.escalation_next_step = index + 1
        started = incident.escalation_started_at or incident.opened_at
        incident.escalation_next_at = (started + timedelta(seconds=chain[index + 1].after_seconds)
                                       if index + 1 < len(chain) else None)
        fired += 1
    return fired


def prune_receipts(session: Session, before: datetime) -> int:
    """Forget intake receipts older than `before` (redeliveries come within minutes, not days)."""
    result = session.execute(delete(IntakeReceipt).where(IntakeReceipt.received_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def due_escalations(session: Session, now: datetime, limit: int = 100) -> list[int]:
    return list(session.scalars(
        select(Incident.id).where(Incident.escalation_next_at <= now, Incident.status == Status.TRIGGERED.value)
        .order_by(Incident.escalation_next_at).limit(limit)))


def _human(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


# ------------------------------------------------------------------------------------ updates, comments

@dataclass(frozen=True)
class StatusUpdate:
    what_happened: str
    root_cause: str | None = None
    mitigation: str | None = None
    error_rate_before: str | None = None
    error_rate_after: str | None = None
    burn_rate: str | None = None
    budget_consumed: str | None = None
    budget_remaining: str | None = None
    next_steps: str | None = None

    def sections(self) -> list[tuple[str, str]]:
        rows = [("What happened", self.what_happened), ("Root cause", self.root_cause or "under investigation"),
                ("Mitigation", self.mitigation or "none yet")]
        if self.error_rate_before or self.error_rate_after:
            rows.append(("Error rate", f"before {self.error_rate_before or '?'}, now {self.error_rate_after or '?'}"))
        if self.burn_rate:
            rows.append(("Burn rate", self.burn_rate))
        if self.budget_consumed or self.budget_remaining:
            rows.append(("Error budget", f"consumed {self.budget_consumed or '?'}, "
                                         f"remaining {self.budget_remaining or '?'}"))
        rows.append(("Next steps", self.next_steps or "to be decided"))
        return rows


def post_update(session: Session, config: Config, incident: Incident, update: StatusUpdate, actor: str,
                now: datetime) -> TimelineEvent:
    """Record a status update and post it to the team's channels (chat and webhooks, not pagers)."""
    if update.root_cause:
        incident.root_cause = update.root_cause
    text = "\n".join(f"{title}: {body}" for title, body in update.sections())
    event = _event(session, incident, EventKind.STATUS_UPDATE, actor, now, text,
                   {"sections": [[t, b] for t, b in update.sections()]})
    session.flush()  # the update's id names its notifications
    notice = build_notice(session, config, incident, NoticeEvent.STATUS_UPDATE, actor=actor,
                          sections=update.sections())
    _enqueue_for(session, config, incident, notice, now=now, targets=[
        (receiver, f"incident/{incident.id}/update{event.id}/{receiver}")
        for receiver in _update_receivers(session, config, incident)])
    return event


def add_comment(session: Session, incident: Incident, actor: str, text: str, now: datetime) -> TimelineEvent:
    event = _event(session, incident, EventKind.COMMENT, actor, now, text)
    session.flush()
    return event


def add_action(session: Session, incident: Incident, actor: str, title: str, owner: str | None,
               due: str | None, now: datetime) -> ActionItem:
    item = ActionItem(incident_id=incident.id, created_at=now, title=title, owner=owner, due=due, created_by=actor)
    session.add(item)
    session.flush()
    _event(session, incident, EventKind.ACTION_ITEM, actor, now,
           f"action item: {title}" + (f" (owner {owner})" if owner else ""), {"action_id": item.id})
    return item


# -------------------------------------------------------------------------------------- notifications

def build_notice(session: Session, config: Config, incident: Incident, event: NoticeEvent, *,
                 escalation_step: int | None = None, actor: str | None = None, note: str | None = None,
                 sections: list[tuple[str, str]] | None = None, paged: Paged | None = None,
                 alerts: list[IncidentAlert] | None = None) -> Notice:
    """The notice for an event; `alerts` are the incident's alerts when the caller has them all (intake)."""
    if alerts is None:
        alerts = list(session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident.id)))
    firing = [a for a in alerts if a.status == "firing"]
    annotations = dict(incident.annotations)
    for alert in firing or alerts:  # the latest values the alerts carry
        annotations.update({k: v for k, v in alert.annotations.items() if k not in annotations})
    description = annotations.get("description", "")
    burn = _fact(annotations.get(FACT_BURN_RATE), "{:.1f}x")
    budget = _fact(annotations.get(FACT_BUDGET_REMAINING), "{:.1%}")
    summary = annotations.get("summary") or incident.title
    if description:
        summary = f"{summary}\n{description}"
    return Notice(
        event=event, incident_id=incident.id, title=incident.title, severity=incident.severity,
        status=incident.status, summary=summary, opened_at=incident.opened_at.isoformat(),
        service=incident.service, slo=incident.slo, team=incident.team,
        alertname=incident.labels.get("alertname"), burn_rate=burn, budget_remaining=budget,
        runbook_url=annotations.get("runbook_url"), incident_url=incident_url(config, incident.id),
        escalation_step=escalation_step, actor=actor, note=note, sections=list(sections or []),
        firing_alerts=len(firing),
        paged_person=paged.person if paged else None, paged_slack_user=paged.slack_user if paged else None,
        paged_via=paged.schedule if paged else None,
    )


def _fact(value: str | None, fmt: str) -> str | None:
    """A fact annotation (a number as the alert rule wrote it) shown for people; as given if not a number."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        return value.strip()
    return fmt.format(number) if math.isfinite(number) else value.strip()


def incident_url(config: Config, incident_id: int) -> str:
    base = config.server.external_url or f"http://{config.server.listen}"
    return f"{base}/api/v1/incidents/{incident_id}"


def render(notice: Notice, config: Config, receiver: str, integration: str) -> dict[str, Any] | None:
    """The stored body for one integration, or None when it has nothing to say for this event."""
    spec = config.receivers[receiver]
    if integration == "slack" and spec.slack is not None:
        return slack.message(notice, channel=spec.slack.channel, username=spec.slack.username,
                             interactive=config.integrations.slack is not None)
    if integration == "pagerduty":
        return pagerduty.event(notice) if pagerduty.supports(notice.event) else None
    if integration == "webhook":
        return webhook.body(notice)
    return None


def _enqueue_for(session: Session, config: Config, incident: Incident, notice: Notice, *, now: datetime,
                 targets: list[tuple[str, str]]) -> None:
    """Enqueue `notice` for each (receiver, key): every integration's row in one INSERT."""
    rows: list[dict[str, Any]] = []
    for receiver, key in targets:
        integrations = integrations_of(config, receiver)
        if not integrations:
            _event(session, incident, EventKind.NOTIFICATION_FAILED, SYSTEM, now,
                   f"receiver {receiver} has no integration fireline delivers (pagerduty, slack, webhook)")
            continue
        for integration in integrations:
            body = render(notice, config, receiver, integration)
            if body is not None:
                rows.append(outbox_row(key=f"{key}/{integration}", incident_id=incident.id, receiver=receiver,
                                       integration=integration, event=notice.event.value, payload=body, now=now))
    enqueue_rows(session, rows)


def _involved(session: Session, incident: Incident) -> list[str]:
    """Receivers already notified about this incident, in the order they first were."""
    rows = session.execute(select(OutboxItem.receiver, func.min(OutboxItem.id)).where(
        OutboxItem.incident_id == incident.id).group_by(OutboxItem.receiver)).all()
    return [receiver for receiver, _ in sorted(rows, key=lambda row: row[1])]


def _update_receivers(session: Session, config: Config, incident: Incident) -> list[str]:
    routing = config.teams.get(incident.team or "")
    team = list(routing.ticket if incident.kind == Kind.TICKET.value else routing.page) if routing else []
    names = list(dict.fromkeys(team + _involved(session, incident)))
    return [n for n in names if {"slack", "webhook"} & set(integrations_of(config, n))]


def _notify_involved(session: Session, config: Config, incident: Incident, event: NoticeEvent, now: datetime,
                     *, actor: str, note: str | None) -> None:
    notice = build_notice(session, config, incident, event, actor=actor, note=note)
    _enqueue_for(session, config, incident, notice, now=now, targets=[
        (receiver, f"incident/{incident.id}/e{incident.episode}/{event.value}/{receiver}")
        for receiver in _involved(session, incident) if receiver in config.receivers])


def _event(session: Session, incident: Incident, kind: EventKind, actor: str, now: datetime, message: str,
           data: dict[str, Any] | None = None) -> TimelineEvent:
    row = {"incident_id": incident.id, "at": now, "kind": kind.value, "actor": actor[:255], "message": message,
           "data": data or {}}
    # A Core INSERT at once on the transaction's connection rather than an ORM object flushed later: it costs
    # a quarter as much (intake writes three per new group), keeps the order things happened in, and a rolled
    # back savepoint takes its entries with it. The incident row is in the database by now (flushed on
    # opening), as the foreign key needs. The returned object is a plain record, not in the session.
    event_id = session.connection().execute(_INSERT_EVENT, row).scalar_one()
    return TimelineEvent(id=event_id, **row)


def record_delivery(session: Session, incident_id: int, receiver: str, integration: str, event: str,
                    delivered: bool, dead: bool, attempts: int, error: str | None, now: datetime) -> None:
    """Timeline entry for an outbox delivery (sent, failed and retrying, or given up)."""
    record_deliveries(session, [Outcome(0, incident_id, receiver, integration, event, delivered, dead, attempts,
                                        error, None)], now)


def record_deliveries(session: Session, outcomes: list[Outcome], now: datetime) -> None:
    """Timeline entries for a round of outbox deliveries: one look-up of the incidents, one INSERT."""
    ids = {o.incident_id for o in outcomes if o.incident_id is not None}
    if not ids:
        return
    existing = set(session.scalars(select(Incident.id).where(Incident.id.in_(ids))))
    rows: list[dict[str, Any]] = []
    for o in outcomes:
        if o.incident_id not in existing:
            continue  # deleted meanwhile, or not an incident's notification (policy notices)
        if o.delivered:
            kind, message = EventKind.NOTIFICATION_SENT, f"{o.event} sent to {o.receiver} ({o.integration})"
        elif o.dead:
            kind, message = (EventKind.NOTIFICATION_DEAD, f"{o.event} to {o.receiver} ({o.integration}) given up "
                                                          f"after {o.attempts} attempts: {o.error}")
        else:
            kind, message = (EventKind.NOTIFICATION_FAILED, f"{o.event} to {o.receiver} ({o.integration}) failed, "
                                                            f"attempt {o.attempts}, will retry: {o.error}")
        rows.append({"incident_id": o.incident_id, "at": now, "kind": kind.value, "actor": SYSTEM,
                     "message": message,
                     "data": {"receiver": o.receiver, "integration": o.integration, "attempts": o.attempts}})
    if rows:
        session.execute(insert(TimelineEvent), rows)  # an ORM bulk INSERT: one executemany
