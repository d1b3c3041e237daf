"""The on-call page of the web UI (`/oncall`): who is on call, overrides, incident roles, response times.

Reading follows the UI's rule (open or after login); adding or removing an override and assigning a
role need a login and a valid CSRF token, and go through fireline.oncall.service (roles under the
incident's row lock, like every other incident change) in one transaction each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from fireline.incidents import flows
from fireline.incidents.models import Incident, Kind, Status
from fireline.oncall import service as oncall
from fireline.oncall import stats
from fireline.oncall.api import response_report
from fireline.oncall.rotation import Segment
from fireline.oncall.settings import ROLES
from fireline.server.app import context
from fireline.server.context import ServerContext

PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}
DONE = {"override": "Override added.", "removed": "Override removed.", "role": "Role updated."}


@dataclass(frozen=True)
class ScheduleView:
    name: str
    time_zone: str
    person: str | None
    source: str | None
    until: datetime | None
    next_shifts: list[Segment]


def _schedules(ctx: ServerContext, session: Any, now: datetime) -> list[ScheduleView]:
    views = []
    for name, spec in sorted(ctx.config.schedules.items()):
        who = oncall.on_call(session, ctx.config, name, now)
        shifts = oncall.segments(session, ctx.config, name, now, now + timedelta(days=21))
        views.append(ScheduleView(name, spec.time_zone, who.person if who else None, who.source if who else None,
                                  oncall.until(session, ctx.config, name, now), shifts[1:6]))
    return views


def _local_time(value: str, zone: str, field: str) -> datetime:
    """A `datetime-local` form value (no zone) read in the schedule's time zone."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field} {value[:40]!r} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed


def router(ui: Any) -> APIRouter:
    """`ui` is fireline.ui.routes.UI (page rendering, forms, login)."""
    pages = APIRouter(include_in_schema=False)

    def render(request: Request, error: tuple[int, str] | None = None, form: dict[str, str] | None = None
               ) -> Response:
        ctx = context(request)
        now = ctx.clock()
        period = request.query_params.get("period", "30d")
        span = PERIODS.get(period, PERIODS["30d"])
        with ctx.db.transaction() as session:
            schedules = _schedules(ctx, session, now)
            overrides = oncall.list_overrides(session, None, now)
            open_incidents = list(session.scalars(
                select(Incident).where(Incident.status != Status.RESOLVED.value, Incident.kind == Kind.INCIDENT.value)
                .order_by(Incident.id.desc()).limit(50)))
            roles = {i.id: oncall.roles(session, i.id) for i in open_incidents}
            report = response_report(session, now - span, now, now, None)
        return ui.page(  # type: ignore[no-any-return]
            request, "oncall.html.j2", status=error[0] if error else 200, schedules=schedules,
            overrides=overrides, incidents=open_incidents, roles=roles, role_names=ROLES,
            people=sorted(ctx.config.people), report=report, human=stats.human, target=stats.ACK_TARGET,
            period=period if period in PERIODS else "30d", periods=list(PERIODS), now=now,
            error=error[1] if error else None, form=form or {}, done=DONE.get(request.query_params.get("done", "")))

    @pages.get("/oncall", response_class=HTMLResponse)
    def oncall_page(request: Request) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate  # type: ignore[no-any-return]
        return render(request)

    async def acting(request: Request) -> tuple[dict[str, str], str] | Response:
        form = await ui.form(request)
        if isinstance(form, Response):
            return form
        denied = ui.check_form(request, form, needs_login=True)
        if denied is not None:
            return denied  # type: ignore[no-any-return]
        session = ui.session(request)
        assert session is not None
        return form, session.actor

    def add(ctx: ServerContext, form: dict[str, str], actor: str) -> tuple[int, str] | None:
        schedule = form.get("schedule", "")
        spec = ctx.config.schedules.get(schedule)
        if spec is None:
            return 422, f"Choose a schedule ({schedule[:40]!r} is not one)."
        try:
            start = _local_time(form.get("from", ""), spec.time_zone, "From")
            end = _local_time(form.get("to", ""), spec.time_zone, "To")
            with ctx.db.transaction() as session:
                oncall.add_override(session, ctx.config, schedule, form.get("person", ""), start, end,
                                    (form.get("reason") or "").strip()[:2000] or None, actor, ctx.clock())
        except oncall.OnCallError as exc:
            return exc.status, str(exc)
        except ValueError as exc:
            return 422, str(exc)
        return None

    @pages.post("/oncall/overrides")
    async def add_override(request: Request) -> Response:
        got = await acting(request)
        if isinstance(got, Response):
            return got
        form, actor = got
        failed = await run_in_threadpool(add, context(request), form, actor)
        if failed is not None:
            return await run_in_threadpool(render, request, failed, form)
        return RedirectResponse("/oncall?done=override#overrides", status_code=303)

    def remove(ctx: ServerContext, override_id: int) -> tuple[int, str] | None:
        try:
            with ctx.db.transaction() as session:
                oncall.remove_override(session, override_id)
        except oncall.OnCallError as exc:
            return exc.status, str(exc)
        return None

    @pages.post("/oncall/overrides/{override_id}/remove")
    async def remove_override(request: Request, override_id: int) -> Response:
        got = await acting(request)
        if isinstance(got, Response):
            return got
        failed = await run_in_threadpool(remove, context(request), override_id)
        if failed is not None:
            return await run_in_threadpool(render, request, failed, None)
        return RedirectResponse("/oncall?done=removed#overrides", status_code=303)

    def assign(ctx: ServerContext, incident_id: int, form: dict[str, str], actor: str) -> tuple[int, str] | None:
        person = form.get("person", "").strip() or None
        try:
            with ctx.db.transaction() as session:
                incident = flows.locked(session, incident_id)
                oncall.assign_role(session, ctx.config, incident, form.get("role", ""), person, actor, ctx.clock())
        except flows.IncidentNotFound:
            return 404, f"Incident {incident_id} does not exist."
        except oncall.OnCallError as exc:
            return exc.status, str(exc)
        return None

    @pages.post("/oncall/incidents/{incident_id}/roles")
    async def assign_role(request: Request, incident_id: int) -> Response:
        got = await acting(request)
        if isinstance(got, Response):
            return got
        form, actor = got
        failed = await run_in_threadpool(assign, context(request), incident_id, form, actor)
        if failed is not None:
            return await run_in_threadpool(render, request, failed, form)
        return RedirectResponse("/oncall?" + urlencode({"done": "role"}) + "#roles", status_code=303)

    return pages
