"""HTTP API of on call: people, schedules, who is on call, overrides, calendar feeds, incident roles,
response times, and the Slack and PagerDuty request URLs. Mounted as the `oncall` ServerExtension.

The integration endpoints authenticate by signature (Slack v0, PagerDuty v1), not by the API
token; calendar feeds accept the API token or the feed's own `token` (calendar apps cannot send
headers). Handlers are thin: parse, one transaction, serialise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Body, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from fireline.incidents import flows
from fireline.incidents.models import Incident, Kind
from fireline.oncall import ical, pagerduty, signing, slack, stats
from fireline.oncall import service as oncall
from fireline.oncall.rotation import Segment, person_segments
from fireline.server.app import Actor, DbSession, context
from fireline.server.context import Job, ServerContext, ServerExtension

log = logging.getLogger("fireline.oncall")
MIGRATIONS = FilePath(__file__).resolve().parent / "migrations" / "versions"
MAX_ID = 2**31 - 1
FEED_PAST = timedelta(days=14)
FEED_AHEAD = timedelta(days=90)
MAX_SHIFTS_SPAN = timedelta(days=92)
MAX_REPORT_SPAN = timedelta(days=366)
RECEIPT_RETENTION = timedelta(days=2)
_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Name = Annotated[str, Path(max_length=255, pattern=_NAME, description="a name from fireline.yaml",
                           examples=["payments-primary"])]
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID, description="incident number", examples=[1])]
RoleName = Annotated[str, Path(pattern="^(commander|communications|scribe)$", examples=["commander"])]
Short = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_no_nul)]
OptText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)] | None


# --------------------------------------------------------------------------------------------- schemas

class PersonOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "alice", "slack_user": "U01ALICE", "email": "alice@example.com", "pagerduty_user": None,
        "schedules": ["payments-primary"]}]})
    name: str
    slack_user: str | None
    email: str | None
    pagerduty_user: str | None
    schedules: list[str]


class OnCallOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "schedule": "payments-primary", "at": "2026-12-02T10:00:00Z", "person": "alice", "source": "layer 1",
        "until": "2026-12-07T08:00:00Z", "slack_user": "U01ALICE", "email": "alice@example.com"}]})
    schedule: str
    at: datetime
    person: str | None
    source: str | None
    until: datetime | None
    slack_user: str | None
    email: str | None


class ShiftOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "schedule": "payments-primary", "person": "bob", "start": "2026-12-07T08:00:00Z",
        "end": "2026-12-14T08:00:00Z", "source": "layer 1"}]})
    schedule: str
    person: str
    start: datetime
    end: datetime
    source: str


class ScheduleOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "payments-primary", "time_zone": "Europe/Berlin", "layers": 1, "people": ["alice", "bob"],
        "on_call": None, "next_shifts": [],
        "calendar_url": "/api/v1/schedules/payments-primary/calendar.ics?token=..."}]})
    name: str
    time_zone: str
    layers: int
    people: list[str]
    on_call: OnCallOut
    next_shifts: list[ShiftOut]
    calendar_url: str


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra={"examples": [{
        "person": "bob", "from": "2026-12-24T09:00:00+01:00", "to": "2026-12-27T09:00:00+01:00",
        "reason": "swap with alice"}]})
    person: Short
    from_: datetime = Field(alias="from", description="start, RFC 3339 with zone")
    to: datetime = Field(description="end (exclusive), RFC 3339 with zone")
    reason: OptText = None


class OverrideOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "schedule": "payments-primary", "person": "bob", "start": "2026-12-24T08:00:00Z",
        "end": "2026-12-27T08:00:00Z", "reason": "swap with alice", "created_by": "alice",
        "created_at": "2026-12-02T10:00:00Z"}]})
    id: int
    schedule: str
    person: str
    start: datetime
    end: datetime
    reason: str | None
    created_by: str
    created_at: datetime


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"person": "alice"}]})
    person: Short


class RolesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "incident_id": 12, "roles": {"commander": "alice", "scribe": "bob"}}]})
    incident_id: int
    roles: dict[str, str]


class SummaryOut(BaseModel):
    incidents: int
    acknowledged: int
    resolved: int
    within_target: int
    missed_target: int
    within_target_ratio: float | None
    mtta_seconds: float | None
    mttr_seconds: float | None


class IncidentResponseOut(BaseModel):
    id: int
    team: str | None
    severity: str
    title: str
    opened_at: datetime
    acknowledged_by: str | None
    time_to_acknowledge_seconds: float | None
    time_to_resolve_seconds: float | None
    within_target: bool | None


class ResponseTimesOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "target_seconds": 900,
        "overall": {"incidents": 4, "acknowledged": 4, "resolved": 3, "within_target": 3, "missed_target": 1,
                    "within_target_ratio": 0.75, "mtta_seconds": 412.5, "mttr_seconds": 5400.0},
        "teams": {}, "incidents": []}]})
    from_: datetime = Field(alias="from")
    to: datetime
    target_seconds: float
    overall: SummaryOut
    teams: dict[str, SummaryOut]
    incidents: list[IncidentResponseOut]


# ---------------------------------------------------------------------------------------- helpers

def _answer(exc: oncall.OnCallError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _aware(value: datetime | None, what: str, default: datetime) -> datetime:
    if value is None:
        return default
    if value.tzinfo is None:
        raise HTTPException(422, f"{what} needs a time zone, e.g. 2026-12-02T10:00:00Z or +01:00")
    return value.astimezone(UTC)


def _on_call_out(ctx: ServerContext, session: Any, schedule: str, at: datetime) -> OnCallOut:
    who = oncall.on_call(session, ctx.config, schedule, at)
    person = ctx.config.people.get(who.person) if who else None
    return OnCallOut(schedule=schedule, at=at, person=who.person if who else None, source=who.source if who else None,
                     until=oncall.until(session, ctx.config, schedule, at),
                     slack_user=person.slack_user if person else None, email=person.email if person else None)


def _shift(schedule: str, segment: Segment) -> ShiftOut:
    return ShiftOut(schedule=schedule, person=segment.person, start=segment.start, end=segment.end,
                    source=segment.source)


def feed_token(ctx: ServerContext, kind: str, name: str) -> str:
    """A calendar feed's own secret: derived from the API token, it reads only that one feed."""
    return hmac.new(ctx.token.encode(), f"calendar:{kind}:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def _feed_allowed(request: Request, kind: str, name: str, token: str | None) -> None:
    ctx = context(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip().encode(), ctx.token.encode()):
        return
    if token is not None and hmac.compare_digest(token.encode(), feed_token(ctx, kind, name).encode()):
        return
    raise HTTPException(401, "calendar feeds need the API token (Bearer) or the feed's token parameter",
                        headers={"WWW-Authenticate": "Bearer"})


def _override_out(row: Any) -> OverrideOut:
    return OverrideOut(id=row.id, schedule=row.schedule, person=row.person, start=row.starts_at, end=row.ends_at,
                       reason=row.reason, created_by=row.created_by, created_at=row.created_at)


def _summary_out(summary: stats.Summary) -> SummaryOut:
    return SummaryOut(incidents=summary.incidents, acknowledged=summary.acknowledged, resolved=summary.resolved,
                      within_target=summary.within_target, missed_target=summary.missed_target,
                      within_target_ratio=summary.within_target_ratio, mtta_seconds=summary.mtta,
                      mttr_seconds=summary.mttr)


def response_report(session: Any, start: datetime, end: datetime, now: datetime, team: str | None) -> stats.Report:
    query = select(Incident).where(Incident.kind == Kind.INCIDENT.value, Incident.opened_at >= start,
                                   Incident.opened_at < end).order_by(Incident.id)
    if team is not None:
        query = query.where(Incident.team == team)
    rows = [stats.IncidentTimes(i.id, i.team, i.severity, i.title, i.opened_at, i.acknowledged_at, i.acknowledged_by,
                                i.resolved_at) for i in session.scalars(query)]
    return stats.report(rows, start, end, now)


# -------------------------------------------------------------------------------------------- routes

router = APIRouter(prefix="/api/v1", tags=["on call"])
integrations = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such schedule, person or override"}}


@router.get("/people", response_model=list[PersonOut], summary="People who can be on call (fireline.yaml)")
def list_people(request: Request, _actor: Actor) -> list[PersonOut]:
    config = context(request).config
    return [PersonOut(name=name, slack_user=p.slack_user, email=p.email, pagerduty_user=p.pagerduty_user,
                      schedules=sorted(s for s, spec in config.schedules.items()
                                       if any(name in layer.people for layer in spec.layers)))
            for name, p in sorted(config.people.items())]


@router.get("/schedules", response_model=list[OnCallOut], summary="Every schedule with who is on call now")
def list_schedules(request: Request, session: DbSession, _actor: Actor) -> list[OnCallOut]:
    ctx = context(request)
    now = ctx.clock()
    return [_on_call_out(ctx, session, name, now) for name in sorted(ctx.config.schedules)]


@router.get("/schedules/{name}", response_model=ScheduleOut, responses=_NOT_FOUND,
            summary="A schedule: who is on call now, the next shifts, its calendar feed")
def get_schedule(name: Name, request: Request, session: DbSession, _actor: Actor) -> ScheduleOut:
    ctx = context(request)
    spec = ctx.config.schedules.get(name)
    if spec is None:
        raise HTTPException(404, f"no schedule {name!r} in fireline.yaml")
    now = ctx.clock()
    shifts = oncall.segments(session, ctx.config, name, now, now + timedelta(days=28))
    people = list(dict.fromkeys(p for layer in spec.layers for p in layer.people))
    return ScheduleOut(name=name, time_zone=spec.time_zone, layers=len(spec.layers), people=people,
                       on_call=_on_call_out(ctx, session, name, now),
                       next_shifts=[_shift(name, s) for s in shifts[:20]],
                       calendar_url=f"/api/v1/schedules/{name}/calendar.ics?token={feed_token(ctx, 'schedule', name)}")


@router.get("/schedules/{name}/oncall", response_model=OnCallOut, responses=_NOT_FOUND,
            summary="Who is on call at a moment (default: now), overrides included")
def schedule_oncall(name: Name, request: Request, session: DbSession, _actor: Actor,
                    at: Annotated[datetime | None, Query(description="RFC 3339 time with zone; default now")]
                    = None) -> OnCallOut:
    ctx = context(request)
    moment = _aware(at, "at", ctx.clock())
    try:
        return _on_call_out(ctx, session, name, moment)
    except oncall.OnCallError as exc:
        raise _answer(exc) from None


@router.get("/schedules/{name}/shifts", response_model=list[ShiftOut], responses=_NOT_FOUND,
            summary="Who is on call over a span (at most 92 days)")
def schedule_shifts(name: Name, request: Request, session: DbSession, _actor: Actor,
                    from_: Annotated[datetime | None, Query(alias="from")] = None,
                    to: Annotated[datetime | None, Query()] = None) -> list[ShiftOut]:
    ctx = context(request)
    start = _aware(from_, "from", ctx.clock())
    end = _aware(to, "to", start + timedelta(days=14))
    if end <= start or end - start > MAX_SHIFTS_SPAN:
        raise HTTPException(422, "to must be after from, and at most 92 days later")
    try:
        return [_shift(name, s) for s in oncall.segments(session, ctx.config, name, start, end)]
    except oncall.OnCallError as exc:
        raise _answer(exc) from None


_ICS: dict[int | str, dict[str, Any]] = {200: {"content": {"text/calendar": {"example": "BEGIN:VCALENDAR\r\n..."}}},
        401: {"description": "neither the API token nor the feed's token"}, **_NOT_FOUND}


@router.get("/schedules/{name}/calendar.ics", response_class=Response, responses=_ICS,
            summary="iCalendar feed of a schedule's shifts (two weeks back, 90 days ahead)")
def schedule_calendar(name: Name, request: Request, session: DbSession,
                      token: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    _feed_allowed(request, "schedule", name, token)
    ctx = context(request)
    if name not in ctx.config.schedules:
        raise HTTPException(404, f"no schedule {name!r} in fireline.yaml")
    now = ctx.clock()
    shifts = oncall.segments(session, ctx.config, name, now - FEED_PAST, now + FEED_AHEAD)
    body = ical.feed(f"On call: {name}", [(name, s) for s in shifts], now)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{name}.ics"', "Cache-Control": "no-store"})


@router.get("/people/{name}/calendar.ics", response_class=Response, responses=_ICS,
            summary="iCalendar feed of one person's shifts over every schedule")
def person_calendar(name: Name, request: Request, session: DbSession,
                    token: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    _feed_allowed(request, "person", name, token)
    ctx = context(request)
    if name not in ctx.config.people:
        raise HTTPException(404, f"no person {name!r} in fireline.yaml")
    now = ctx.clock()
    start, end = now - FEED_PAST, now + FEED_AHEAD
    clocks = {s: oncall.clock_for(ctx.config, s) for s in ctx.config.schedules}
    overrides = {s: oncall.overrides(session, s, start, end) for s in clocks}
    body = ical.feed(f"On call: {name}", person_segments(clocks, overrides, name, start, end), now)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{name}.ics"', "Cache-Control": "no-store"})


@router.get("/overrides", response_model=list[OverrideOut], summary="Current and future overrides")
def list_overrides(request: Request, session: DbSession, _actor: Actor,
                   schedule: Annotated[str | None, Query(max_length=255, pattern=_NAME)] = None,
                   past: Annotated[bool, Query(description="include overrides that ended")] = False
                   ) -> list[OverrideOut]:
    ctx = context(request)
    return [_override_out(r) for r in oncall.list_overrides(session, schedule, ctx.clock(), include_past=past)]


@router.post("/schedules/{name}/overrides", response_model=OverrideOut, status_code=201,
             responses={**_NOT_FOUND, 422: {"description": "unknown person, or a span fireline refuses"}},
             summary="Put someone on call for a span (a swap, cover); wins over every layer")
def create_override(name: Name, body: Annotated[OverrideIn, Body()], request: Request, session: DbSession,
                    actor: Actor) -> OverrideOut:
    ctx = context(request)
    try:
        row = oncall.add_override(session, ctx.config, name, body.person, body.from_, body.to, body.reason, actor,
                                  ctx.clock())
    except oncall.OnCallError as exc:
        raise _answer(exc) from None
    return _override_out(row)


@router.delete("/overrides/{override_id}", response_model=OverrideOut, responses=_NOT_FOUND,
               summary="Remove an override")
def delete_override(override_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: DbSession,
                    _actor: Actor) -> OverrideOut:
    try:
        return _override_out(oncall.remove_override(session, override_id))
    except oncall.OnCallError as exc:
        raise _answer(exc) from None


@router.get("/incidents/{incident_id}/roles", response_model=RolesOut,
            responses={404: {"description": "no such incident"}}, summary="Who holds which incident role")
def get_roles(incident_id: IncidentId, session: DbSession, _actor: Actor) -> RolesOut:
    if session.get(Incident, incident_id) is None:
        raise HTTPException(404, f"incident {incident_id} not found")
    return RolesOut(incident_id=incident_id, roles=oncall.roles(session, incident_id))


@router.put("/incidents/{incident_id}/roles/{role}", response_model=RolesOut,
            responses={404: {"description": "no such incident"}, 422: {"description": "unknown person"}},
            summary="Give an incident role (commander, communications, scribe) to a person; on the timeline")
def put_role(incident_id: IncidentId, role: RoleName, body: RoleIn, request: Request, session: DbSession,
             actor: Actor) -> RolesOut:
    return _set_role(request, session, incident_id, role, body.person, actor)


@router.delete("/incidents/{incident_id}/roles/{role}", response_model=RolesOut,
               responses={404: {"description": "no such incident"}}, summary="Release an incident role")
def delete_role(incident_id: IncidentId, role: RoleName, request: Request, session: DbSession,
                actor: Actor) -> RolesOut:
    return _set_role(request, session, incident_id, role, None, actor)


def _set_role(request: Request, session: Any, incident_id: int, role: str, person: str | None,
              actor: str) -> RolesOut:
    ctx = context(request)
    try:
        incident = flows.locked(session, incident_id)
        oncall.assign_role(session, ctx.config, incident, role, person, actor, ctx.clock())
    except flows.IncidentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except oncall.OnCallError as exc:
        raise _answer(exc) from None
    return RolesOut(incident_id=incident_id, roles=oncall.roles(session, incident_id))


@router.get("/response-times", response_model=ResponseTimesOut,
            summary="Time to acknowledge per incident and team against the 15-minute target; MTTA and MTTR")
def response_times(request: Request, session: DbSession, _actor: Actor,
                   from_: Annotated[datetime | None, Query(alias="from", description="default: 30 days ago")]
                   = None,
                   to: Annotated[datetime | None, Query(description="default: now")] = None,
                   team: Annotated[str | None, Query(max_length=255, pattern=_NAME)] = None) -> dict[str, Any]:
    ctx = context(request)
    now = ctx.clock()
    end = _aware(to, "to", now)
    start = _aware(from_, "from", end - timedelta(days=30))
    if end <= start or end - start > MAX_REPORT_SPAN:
        raise HTTPException(422, "to must be after from, and at most 366 days later")
    found = response_report(session, start, end, now, team)
    return {
        "from_": found.start, "to": found.end, "target_seconds": found.target,
        "overall": _summary_out(found.overall), "teams": {t: _summary_out(s) for t, s in found.teams.items()},
        "incidents": [IncidentResponseOut(
            id=i.id, team=i.team, severity=i.severity, title=i.title, opened_at=i.opened_at,
            acknowledged_by=i.acknowledged_by, time_to_acknowledge_seconds=i.time_to_acknowledge,
            time_to_resolve_seconds=i.time_to_resolve, within_target=i.within_target) for i in found.incidents],
    }


# ------------------------------------------------------------------------------------- integrations

_SIGNED: dict[int | str, dict[str, Any]] = {200: {"description": "handled (or nothing to do, with the reason)"},
           400: {"description": "not a payload fireline reads"},
           401: {"description": "bad, stale or replayed signature: nothing changed"},
           404: {"description": "the integration is not configured"},
           503: {"description": "the signing secret file cannot be read"}}


def _slack_secret(request: Request) -> bytes:
    settings = context(request).config.integrations.slack
    if settings is None:
        raise HTTPException(404, "Slack interactivity is not configured (integrations.slack in fireline.yaml)")
    try:
        return signing.read_secret(settings.signing_secret_file, "integrations.slack.signing_secret_file")
    except signing.SecretUnavailable as exc:
        log.error("%s", exc)
        raise HTTPException(503, "the Slack signing secret cannot be read; see the server log") from None


def _verified_slack(request: Request, body: bytes, session: Any) -> None:
    """Signature, age, then replay: a request is acted on once (the receipt commits with its effect)."""
    secret = _slack_secret(request)
    ctx = context(request)
    signature = request.headers.get("x-slack-signature")
    try:
        signing.verify_slack(secret, request.headers.get("x-slack-request-timestamp"), signature, body,
                             ctx.clock().timestamp())
    except signing.SignatureError as exc:
        raise HTTPException(401, f"Slack signature refused: {exc}") from None
    assert signature is not None
    if not oncall.first_receipt(session, signing.receipt_digest("slack", signature.strip()), "slack", ctx.clock()):
        raise HTTPException(401, "Slack signature refused: this request was already received (replayed)")


def post_to_slack(url: str, body: dict[str, Any], timeout: float) -> None:
    """Replace the message through response_url (after the commit; Slack wants the 200 within 3 s)."""
    try:
        response = httpx.post(url, json=body, timeout=timeout)
        if response.status_code >= 300:
            log.warning("Slack response_url answered %s", response.status_code)
    except httpx.HTTPError as exc:
        # response_url is a secret for 30 minutes: name the failure, not the URL.
        log.warning("Slack response_url request failed: %s", type(exc).__name__)


@integrations.post("/slack/interactions", responses=_SIGNED,
                   summary="Slack button presses (Acknowledge, I'm on it, Resolve); the app's interactivity URL")
async def slack_interactions(request: Request, background: BackgroundTasks) -> Response:
    body = await request.body()
    ctx = context(request)

    def run() -> slack.Reply:
        with ctx.db.transaction() as session:
            _verified_slack(request, body, session)
            try:
                press = slack.parse_press(body)
            except slack.PayloadError as exc:
                raise HTTPException(400, str(exc)) from None
            return slack.handle_press(session, ctx.config, press, ctx.clock())

    reply = await run_in_threadpool(run)
    if reply.update is not None and reply.response_url is not None:
        background.add_task(post_to_slack, reply.response_url, reply.update, ctx.settings.outbox.timeout.seconds)
    return Response(status_code=200)


@integrations.post("/slack/commands", responses=_SIGNED,
                   summary="The /fireline slash command: ack, resolve, status, oncall, role")
async def slack_commands(request: Request) -> JSONResponse:
    body = await request.body()
    ctx = context(request)

    def run() -> slack.Reply:
        with ctx.db.transaction() as session:
            _verified_slack(request, body, session)
            try:
                command = slack.parse_command(body)
            except slack.PayloadError as exc:
                raise HTTPException(400, str(exc)) from None
            return slack.handle_command(session, ctx.config, command, ctx.clock())

    reply = await run_in_threadpool(run)
    return JSONResponse(reply.body or slack.ephemeral("done"))


@integrations.post("/pagerduty/webhooks", responses=_SIGNED,
                   summary="PagerDuty webhooks v3: incident.acknowledged and incident.resolved move the incident")
async def pagerduty_webhooks(request: Request) -> JSONResponse:
    body = await request.body()
    ctx = context(request)
    settings = ctx.config.integrations.pagerduty
    if settings is None:
        raise HTTPException(404, "PagerDuty webhooks are not configured (integrations.pagerduty in fireline.yaml)")
    try:
        secret = signing.read_secret(settings.webhook_secret_file, "integrations.pagerduty.webhook_secret_file")
    except signing.SecretUnavailable as exc:
        log.error("%s", exc)
        raise HTTPException(503, "the PagerDuty webhook secret cannot be read; see the server log") from None
    try:
        signing.verify_pagerduty(secret, request.headers.get("x-pagerduty-signature"), body)
    except signing.SignatureError as exc:
        raise HTTPException(401, f"PagerDuty signature refused: {exc}") from None
    try:
        event = pagerduty.parse(body)
    except pagerduty.PayloadError as exc:
        raise HTTPException(400, str(exc)) from None
    now = ctx.clock()
    too_old = pagerduty.check_age(event, now, timedelta(milliseconds=settings.max_event_age.milliseconds))
    if too_old is not None:
        raise HTTPException(401, f"PagerDuty event refused: {too_old}")

    def run() -> tuple[bool, str]:
        with ctx.db.transaction() as session:
            if not oncall.first_receipt(session, signing.receipt_digest("pagerduty", event.id), "pagerduty", now):
                raise HTTPException(401, f"PagerDuty event refused: event {event.id} was already received (replayed)")
            return pagerduty.handle(session, ctx.config, event, now)

    changed, text = await run_in_threadpool(run)
    return JSONResponse({"changed": changed, "result": text})


# --------------------------------------------------------------------------------------------- jobs

def prune_receipts(ctx: ServerContext, now: datetime) -> None:
    with ctx.db.transaction() as session:
        oncall.prune_receipts(session, now - RECEIPT_RETENTION)


def extension() -> ServerExtension:
    """The `fireline.server` entry point of on call."""
    return ServerExtension(name="oncall", routers=[router, integrations], migrations=MIGRATIONS,
                           jobs=[Job("integration-receipts", 3600.0, prune_receipts)])
