"""HTTP API of incidents: Alertmanager intake, incidents, updates, postmortems; and their background jobs.

Handlers are thin: parse, call one function of service.py inside one transaction, serialise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fireline.incidents import flows, postmortem, service
from fireline.incidents.intake import AlertmanagerNotification, storable
from fireline.incidents.models import ActionItem, Incident, IncidentAlert, Kind, Status, TimelineEvent
from fireline.notify.endpoints import HttpTransport, resolver
from fireline.notify.outbox import OutboxItem, OutboxStatus, OutboxWorker
from fireline.server.app import Actor, DbSession, context
from fireline.server.context import Job, ServerContext, ServerExtension
from fireline.server.db import StorageUnavailable
from fireline.server.groupcommit import GroupCommit

log = logging.getLogger("fireline.incidents")
MAX_ID = 2**31 - 1
_INTAKE_RETRIES = 3
_WRITER_LOCK = threading.Lock()


def _no_nul(value: str) -> str:
    # Every string the schema allows is taken: NUL and lone surrogates (which PostgreSQL and UTF-8 cannot
    # store) become U+FFFD instead of a refusal the schema does not announce.
    return storable(value)  # type: ignore[no-any-return]


Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000), AfterValidator(_no_nul)]
OptText = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)] | None
Short = Annotated[str, StringConstraints(max_length=255), AfterValidator(_no_nul)] | None
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="incident number", examples=[1])]


# --------------------------------------------------------------------------------------------- schemas

class AlertOut(BaseModel):
    fingerprint: str
    alertname: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None


class TimelineOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str
    message: str


class NotificationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 31, "incident_id": 12, "receiver": "payments-pager", "integration": "pagerduty", "event": "triggered",
        "status": "pending", "attempts": 2, "next_attempt_at": "2026-11-29T05:43:10Z", "delivered_at": None,
        "last_error": "HTTP 503: service unavailable"}]})

    id: int
    incident_id: int | None
    receiver: str
    integration: str
    event: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class ActionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "title": "Alert on fallback disabled", "owner": "alice", "due": "2026-12-06", "created_by": "bob",
        "created_at": "2026-11-29T09:00:00Z"}]})

    id: int
    title: str
    owner: str | None
    due: str | None
    created_by: str
    created_at: datetime


_INCIDENT_EXAMPLE: dict[str, Any] = {
    "id": 12, "kind": "incident", "severity": "SEV1", "status": "triggered",
    "title": "checkout availability: error budget burning 15.2x faster than allowed",
    "team": "payments", "service": "checkout", "slo": "availability",
    "group_key": "{}/{team=\"payments\"}:{alertname=\"CheckoutAvailabilityErrorBudgetBurn\"}",
    "opened_at": "2026-11-29T05:42:40Z", "acknowledged_at": None, "acknowledged_by": None,
    "mitigated_at": None, "resolved_at": None, "escalation_next_step": 1,
    "escalation_next_at": "2026-11-29T05:57:40Z",
    "escalation": [{"after_seconds": 0, "notify": ["payments-pager"]},
                   {"after_seconds": 900, "notify": ["payments-lead"]}],
    "firing_alerts": 1, "root_cause": None,
}


class IncidentSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_INCIDENT_EXAMPLE]})

    id: int
    kind: str
    severity: str
    status: str
    title: str
    team: str | None
    service: str | None
    slo: str | None
    group_key: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    escalation: list[dict[str, Any]]
    escalation_next_step: int
    escalation_next_at: datetime | None
    firing_alerts: int
    root_cause: str | None


class IncidentDetail(IncidentSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_INCIDENT_EXAMPLE, "labels": {"service": "checkout"}, "annotations": {"summary": "..."},
        "alerts": [], "timeline": [{"id": 1, "at": "2026-11-29T05:42:40Z", "kind": "opened", "actor": "alertmanager",
                                    "message": "SEV1 incident opened"}], "notifications": [], "actions": []}]})

    labels: dict[str, str]
    annotations: dict[str, str]
    alerts: list[AlertOut]
    timeline: list[TimelineOut]
    notifications: list[NotificationOut]
    actions: list[ActionOut]


class IntakeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"duplicate": False, "incident_id": 12, "opened": True, "alerts": 1, "note": "incident opened"}]})

    duplicate: bool
    incident_id: int | None
    opened: bool
    alerts: int
    note: str


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "looking at it"}]})
    note: OptText = None


class MitigateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "rolled back 1.42"}]})
    note: Text


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "error ratio back under the objective", "root_cause": "bad config push"}]})
    note: OptText = None
    root_cause: OptText = None


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "DB failover started"}]})
    text: Text


class UpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "what_happened": "Checkout returned 5xx for 12% of requests after the 14:02 deploy.",
        "root_cause": "A config change disabled the payment provider's fallback.",
        "mitigation": "Rolled back to 1.41 at 14:19.", "error_rate_before": "12%", "error_rate_after": "0.05%",
        "burn_rate": "0.5x", "budget_consumed": "9%", "budget_remaining": "71%",
        "next_steps": "Watch burn rate for 1h; postmortem tomorrow."}]})

    what_happened: Text
    root_cause: OptText = None
    mitigation: OptText = None
    error_rate_before: Short = None
    error_rate_after: Short = None
    burn_rate: Short = None
    budget_consumed: Short = None
    budget_remaining: Short = None
    next_steps: OptText = None


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"title": "Alert on fallback disabled", "owner": "alice", "due": "2026-12-06"}]})
    title: Text
    owner: Short = None
    due: Annotated[str, StringConstraints(max_length=32), AfterValidator(_no_nul)] | None = None


class TimelineEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"id": 7, "at": "2026-11-29T05:50:00Z", "kind": "comment", "actor": "alice",
         "message": "DB failover started"}]})
    id: int
    at: datetime
    kind: str
    actor: str
    message: str


# ------------------------------------------------------------------------------------------ serialising

def _firing_counts(session: Session, ids: list[int]) -> dict[int, int]:
    rows = session.execute(select(IncidentAlert.incident_id, func.count()).where(
        IncidentAlert.incident_id.in_(ids), IncidentAlert.status == "firing").group_by(IncidentAlert.incident_id))
    return {incident_id: count for incident_id, count in rows}


def _summary(session: Session, incident: Incident, firing: int | None = None) -> dict[str, Any]:
    if firing is None:
        firing = _firing_counts(session, [incident.id]).get(incident.id, 0)
    return {
        "id": incident.id, "kind": incident.kind, "severity": incident.severity, "status": incident.status,
        "title": incident.title, "team": incident.team, "service": incident.service, "slo": incident.slo,
        "group_key": incident.group_key, "opened_at": incident.opened_at,
        "acknowledged_at": incident.acknowledged_at, "acknowledged_by": incident.acknowledged_by,
        "mitigated_at": incident.mitigated_at, "resolved_at": incident.resolved_at,
        "escalation": incident.escalation, "escalation_next_step": incident.escalation_next_step,
        "escalation_next_at": incident.escalation_next_at, "firing_alerts": firing,
        "root_cause": incident.root_cause,
    }


def _notification(item: OutboxItem) -> NotificationOut:
    return NotificationOut(id=item.id, incident_id=item.incident_id, receiver=item.receiver,
                           integration=item.integration, event=item.event, status=item.status,
                           attempts=item.attempts, next_attempt_at=item.next_attempt_at,
                           delivered_at=item.delivered_at, last_error=item.last_error)


def _detail(session: Session, incident: Incident) -> IncidentDetail:
    alerts = session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident.id)
                             .order_by(IncidentAlert.id))
    timeline = session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                               .order_by(TimelineEvent.id))
    outbox = session.scalars(select(OutboxItem).where(OutboxItem.incident_id == incident.id).order_by(OutboxItem.id))
    actions = session.scalars(select(ActionItem).where(ActionItem.incident_id == incident.id).order_by(ActionItem.id))
    return IncidentDetail(
        **_summary(session, incident), labels=incident.labels, annotations=incident.annotations,
        alerts=[AlertOut(fingerprint=a.fingerprint, alertname=a.alertname, status=a.status, labels=a.labels,
                         annotations=a.annotations, starts_at=a.starts_at, ends_at=a.ends_at) for a in alerts],
        timeline=[TimelineOut(id=e.id, at=e.at, kind=e.kind, actor=e.actor, message=e.message) for e in timeline],
        notifications=[_notification(o) for o in outbox],
        actions=[ActionOut(id=a.id, title=a.title, owner=a.owner, due=a.due, created_by=a.created_by,
                           created_at=a.created_at) for a in actions],
    )


def _load(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} not found")
    return incident


@contextmanager
def _answers() -> Iterator[None]:
    """The HTTP answers of flows' refusals: 404 for no such incident, 409 for a transition not allowed."""
    try:
        yield
    except flows.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except flows.TransitionError as exc:
        raise HTTPException(409, str(exc)) from None


# -------------------------------------------------------------------------------------------- routes

intake = APIRouter(tags=["intake"])
incidents = APIRouter(prefix="/api/v1", tags=["incidents"])

def _writer(ctx: ServerContext) -> GroupCommit[AlertmanagerNotification, service.IntakeResult]:
    writer = ctx.services.get("intake-writer")
    if writer is None:
        with _WRITER_LOCK:
            writer = ctx.services.get("intake-writer")
            if writer is None:
                writer = ctx.services["intake-writer"] = GroupCommit(
                    ctx.db, lambda session, notification: service.ingest(session, ctx.config, notification,
                                                                         ctx.clock()),
                    # One writer per process, also on PostgreSQL: 2 or 4 side by side (round trips overlapping)
                    # measured slower on 2 cores, the GIL being the limit, and starved the outbox.
                    name="intake", retries=_INTAKE_RETRIES, order_key=AlertmanagerNotification.group_key)
    result: GroupCommit[AlertmanagerNotification, service.IntakeResult] = writer
    return result


def _ingest(ctx: ServerContext, notification: AlertmanagerNotification) -> service.IntakeResult:
    # Group commit: concurrent notifications share one transaction; the answer comes after its commit.
    # A constraint race with another replica (the same receipt or open incident created first) is run
    # again in the writer, now seeing the other row (a duplicate, or the incident to update).
    return _writer(ctx).submit(notification, timeout=ctx.settings.request_timeout.seconds)


def _close_writer(ctx: ServerContext) -> None:
    writer = ctx.services.pop("intake-writer", None)
    if writer is not None:
        writer.close()


@intake.post(
    "/api/v1/alerts/alertmanager", response_model=IntakeOut,
    summary="Alertmanager webhook intake (payload version 4)",
    responses={401: {"description": "missing or wrong bearer token"},
               413: {"description": "body above server.max_body_bytes"},
               422: {"description": "not an Alertmanager v4 payload; names the field"},
               503: {"description": "storage unavailable; Alertmanager retries"}})
def alertmanager_intake(notification: AlertmanagerNotification, request: Request, _actor: Actor) -> IntakeOut:
    """Record the notification's alerts, open/update/mitigate the incident, start escalation.

    The data is committed before the 2xx. The same notification delivered twice changes nothing.
    """
    ctx = context(request)
    started = time.perf_counter()
    try:
        result = _ingest(ctx, notification)
    except StorageUnavailable:
        ctx.metrics.intake_notifications.labels("unavailable").inc()
        raise
    if not result.duplicate:  # its pages are committed: on the leader, the outbox sends them now
        request.app.state.scheduler.wake("outbox")
    ctx.metrics.intake_notifications.labels("duplicate" if result.duplicate else "accepted").inc()
    ctx.metrics.intake_alerts.inc(len(notification.alerts))
    ctx.metrics.intake_latency.observe(time.perf_counter() - started)
    return IntakeOut(**result.__dict__)


@incidents.get("/incidents", response_model=list[IncidentSummary], summary="List incidents and tickets")
def list_incidents(
    session: DbSession, _actor: Actor,
    status: Annotated[Status | None, Query(description="triggered, acknowledged, mitigated or resolved")] = None,
    severity: Annotated[Literal["SEV1", "SEV2", "SEV3", "ticket"] | None, Query()] = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=255, pattern=r"^[^\x00]*$")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Newest first; filter by status, severity, service and kind."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Incident.status == status.value)
    if severity is not None:
        query = query.where(Incident.severity == severity)
    if service_name is not None:
        query = query.where(Incident.service == service_name)
    if kind is not None:
        query = query.where(Incident.kind == kind.value)
    found = list(session.scalars(query))
    firing = _firing_counts(session, [incident.id for incident in found])
    return [_summary(session, incident, firing.get(incident.id, 0)) for incident in found]


_ERRORS: dict[int | str, dict[str, Any]] = {404: {"description": "no such incident"},
                                            409: {"description": "not allowed in the incident's status"}}


@incidents.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=_ERRORS,
               summary="One incident with alerts, timeline, notifications and action items")
def get_incident(incident_id: IncidentId, session: DbSession, _actor: Actor) -> IncidentDetail:
    return _detail(session, _load(session, incident_id))


@incidents.post("/incidents/{incident_id}/ack", response_model=IncidentDetail, responses=_ERRORS,
                summary="Acknowledge: someone owns it; escalation stops")
def ack_incident(incident_id: IncidentId, session: DbSession, actor: Actor, request: Request,
                 body: Annotated[AckIn | None, Body()] = None) -> IncidentDetail:
    ctx = context(request)
    with _answers():
        incident = flows.acknowledge(session, ctx.config, incident_id, actor=actor, now=ctx.clock(),
                                     note=body.note if body else None)
    return _detail(session, incident)


@incidents.post("/incidents/{incident_id}/mitigate", response_model=IncidentDetail, responses=_ERRORS,
                summary="Mitigate: impact is over, the cause may remain")
def mitigate_incident(incident_id: IncidentId, body: MitigateIn, session: DbSession, actor: Actor,
                      request: Request) -> IncidentDetail:
    ctx = context(request)
    with _answers():
        incident = flows.mitigate(session, ctx.config, incident_id, actor=actor, now=ctx.clock(), note=body.note)
    return _detail(session, incident)


@incidents.post("/incidents/{incident_id}/resolve", response_model=IncidentDetail, responses=_ERRORS,
                summary="Resolve: closed; PagerDuty is resolved and the channel told")
def resolve_incident(incident_id: IncidentId, session: DbSession, actor: Actor, request: Request,
                     body: Annotated[ResolveIn | None, Body()] = None) -> IncidentDetail:
    ctx = context(request)
    with _answers():
        incident = flows.resolve(session, ctx.config, incident_id, actor=actor, now=ctx.clock(),
                                 note=body.note if body else None, root_cause=body.root_cause if body else None)
    return _detail(session, incident)


@incidents.post("/incidents/{incident_id}/comments", response_model=TimelineEventOut, status_code=201,
                responses=_ERRORS, summary="Add a comment to the timeline")
def comment_incident(incident_id: IncidentId, body: CommentIn, session: DbSession, actor: Actor,
                     request: Request) -> TimelineEventOut:
    with _answers():
        event = flows.comment(session, incident_id, actor=actor, now=context(request).clock(), text=body.text)
    return TimelineEventOut(id=event.id, at=event.at, kind=event.kind, actor=event.actor, message=event.message)


@incidents.post("/incidents/{incident_id}/updates", response_model=TimelineEventOut, status_code=201,
                responses=_ERRORS, summary="Post a templated status update to the team's channel")
def update_incident(incident_id: IncidentId, body: UpdateIn, session: DbSession, actor: Actor,
                    request: Request) -> TimelineEventOut:
    ctx = context(request)
    with _answers():
        event = flows.post_update(session, ctx.config, incident_id, actor=actor, now=ctx.clock(),
                                  update=service.StatusUpdate(**body.model_dump()))
    return TimelineEventOut(id=event.id, at=event.at, kind=event.kind, actor=event.actor, message=event.message)


@incidents.post("/incidents/{incident_id}/actions", response_model=ActionOut, status_code=201,
                responses=_ERRORS, summary="Add a postmortem action item")
def action_incident(incident_id: IncidentId, body: ActionIn, session: DbSession, actor: Actor,
                    request: Request) -> ActionOut:
    with _answers():
        item = flows.add_action(session, incident_id, actor=actor, now=context(request).clock(), title=body.title,
                                owner=body.owner, due=body.due)
    return ActionOut(id=item.id, title=item.title, owner=item.owner, due=item.due, created_by=item.created_by,
                     created_at=item.created_at)


@incidents.get("/incidents/{incident_id}/postmortem", response_class=PlainTextResponse, responses={
    **_ERRORS, 200: {"content": {"text/markdown": {"example": "# Postmortem: checkout availability ...\n"}}}},
    summary="Postmortem draft in Markdown")
def incident_postmortem(incident_id: IncidentId, session: DbSession, _actor: Actor,
                        request: Request) -> PlainTextResponse:
    ctx = context(request)
    incident = _load(session, incident_id)
    text = postmortem.draft(
        incident,
        list(session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident.id))),
        list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident.id)
                             .order_by(TimelineEvent.id))),
        list(session.scalars(select(ActionItem).where(ActionItem.incident_id == incident.id)
                             .order_by(ActionItem.id))),
        ctx.prometheus, ctx.clock())
    return PlainTextResponse(text, media_type="text/markdown")


@incidents.get("/outbox", response_model=list[NotificationOut], tags=["notifications"],
               summary="Notifications by status: pending (with retries), delivered, dead letters")
def list_outbox(session: DbSession, _actor: Actor,
                status: Annotated[OutboxStatus | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[NotificationOut]:
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxItem.status == status.value)
    return [_notification(item) for item in session.scalars(query)]


@incidents.post("/outbox/{item_id}/retry", response_model=NotificationOut, tags=["notifications"],
                responses={404: {"description": "no such notification"},
                           409: {"description": "only dead letters can be retried"}},
                summary="Send a dead-lettered notification again")
def retry_outbox(item_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: DbSession, _actor: Actor,
                 request: Request) -> NotificationOut:
    item = session.get(OutboxItem, item_id)
    if item is None:
        raise HTTPException(404, f"notification {item_id} not found")
    if item.status != OutboxStatus.DEAD.value:
        raise HTTPException(409, f"notification {item_id} is {item.status}, not dead")
    item.status = OutboxStatus.PENDING.value
    item.attempts = 0
    item.next_attempt_at = context(request).clock()
    return _notification(item)


# --------------------------------------------------------------------------------------------- jobs

def run_escalations(ctx: ServerContext, now: datetime) -> None:
    with ctx.db.transaction() as session:
        due = service.due_escalations(session, now)
    for incident_id in due:
        with ctx.db.transaction() as session:
            try:
                incident = flows.locked(session, incident_id)
            except flows.IncidentNotFound:
                continue
            if incident.escalation_next_at is None:
                continue
            lag = (now - incident.escalation_next_at).total_seconds()
            if service.escalate_due(session, ctx.config, incident, now):
                ctx.metrics.escalation_lag.observe(max(lag, 0.0))


RECEIPT_RETENTION = timedelta(days=7)


def prune_receipts(ctx: ServerContext, now: datetime) -> None:
    with ctx.db.transaction() as session:
        service.prune_receipts(session, now - RECEIPT_RETENTION)


def outbox_worker(ctx: ServerContext) -> OutboxWorker:
    outbox = ctx.settings.outbox
    return OutboxWorker(
        db=ctx.db, transport=HttpTransport(outbox.timeout.seconds), resolve=resolver(ctx.config),
        max_attempts=outbox.max_attempts, base_backoff=timedelta(milliseconds=outbox.backoff.milliseconds),
        max_backoff=timedelta(milliseconds=outbox.max_backoff.milliseconds),
        # Longer than one request can take, so a live worker never sees its own claim expire.
        lease=timedelta(seconds=outbox.timeout.seconds * 3 + 5), clock=ctx.clock, parallel=outbox.parallel,
        slack_interval=timedelta(milliseconds=outbox.slack_interval.milliseconds),
        # Timeline entries of the deliveries that finished, in the transaction that records them.
        on_recorded=lambda session, outcomes: service.record_deliveries(session, outcomes, ctx.clock()))


def read_state(ctx: ServerContext) -> dict[str, dict[tuple[str, ...], float]]:
    with ctx.db.transaction() as session:
        incidents_rows = session.execute(
            select(Incident.kind, Incident.severity, Incident.status, func.count())
            .where(Incident.status != Status.RESOLVED.value)
            .group_by(Incident.kind, Incident.severity, Incident.status)).all()
        outbox_rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
    outbox: dict[tuple[str, ...], float] = {(status.value,): 0.0 for status in OutboxStatus}
    outbox.update({(status,): float(count) for status, count in outbox_rows})
    return {"open_incidents": {(k, s, st): float(c) for k, s, st, c in incidents_rows}, "outbox": outbox}


class DeliveryJob:
    """Delivers the outbox continuously; the worker (HTTP client, endpoint resolver) is made on first use.
    Returns True while deliveries are in flight, so the scheduler calls again at once instead of waiting."""

    def __init__(self) -> None:
        self._worker: OutboxWorker | None = None

    def __call__(self, ctx: ServerContext, now: datetime) -> bool:
        if self._worker is None:
            self._worker = outbox_worker(ctx)
        outcomes, busy = self._worker.pump(now)
        for outcome in outcomes:
            ctx.metrics.notifications.labels(
                outcome.integration, "delivered" if outcome.delivered else "dead" if outcome.dead else "retry").inc()
        return busy or bool(outcomes)


def _setup(ctx: ServerContext) -> None:
    ctx.metrics.watch_state(lambda: read_state(ctx))


def extension() -> ServerExtension:
    return ServerExtension(
        name="incidents",
        routers=[intake, incidents],
        # Both run every scheduler tick (server.scheduler_interval).
        jobs=[Job("escalation", 0.0, run_escalations), Job("outbox", 0.0, DeliveryJob()),
              Job("intake-receipts", 3600.0, prune_receipts)],
        setup=_setup,
        on_shutdown=_close_writer,
    )
