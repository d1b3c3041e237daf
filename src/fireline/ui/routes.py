"""The web UI of `fireline serve` at `/`: server-rendered pages and plain HTML forms.

It is a ServerExtension (entry point `fireline.server = ui`), like the policy engine. Reading is
open or needs a login (FIRELINE_UI_READ); acting always needs a login with the API token, and
every form is CSRF-protected (fireline.ui.auth). Acknowledge, resolve, status updates and comments
go through fireline.incidents.flows, the same locked transition functions the HTTP API calls, in one
transaction each; the UI adds no rules of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from fireline.clients.prometheus import PrometheusError
from fireline.incidents import flows, postmortem, service
from fireline.incidents.models import ActionItem, Incident, IncidentAlert, Kind, Status, TimelineEvent
from fireline.notify import links
from fireline.notify.outbox import OutboxItem
from fireline.server.app import context
from fireline.server.context import ServerContext, ServerExtension
from fireline.ui import auth, read, stack
from fireline.ui.charts import Band, Line, Threshold, budget_burndown_svg, burn_rate_svg
from fireline.ui.settings import UISettings

log = logging.getLogger("fireline.ui")
STATIC = files("fireline.ui") / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
MAX_TEXT = 10_000
MAX_FORM_BYTES = 64 * 1024
BURN_RANGES = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "3d": timedelta(days=3),
               "7d": timedelta(days=7)}
SEVERITIES = ("SEV1", "SEV2", "SEV3", "ticket")
DONE = {"acknowledged": "Incident acknowledged.", "resolved": "Incident resolved.",
        "mitigated": "Incident marked mitigated.", "update": "Status update posted.", "comment": "Comment added."}
# Inline SVG charts carry presentation attributes only, so no inline style or script is needed.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _markdown() -> MarkdownIt:
    # Raw HTML off: postmortems and runbooks quote alert text, which must never become markup; and
    # links only to http(s) URLs or paths on this site (markdown-it alone allows ftp:, mailto:, ...).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.validateLink = lambda url: links.safe_url(url, relative=True) is not None  # type: ignore[method-assign]
    return md


@dataclass
class UIState:
    settings: UISettings = field(default_factory=UISettings)
    catalog: read.Catalog = field(default_factory=read.Catalog)
    limiter: auth.LoginLimiter = field(default_factory=auth.LoginLimiter)
    runbooks: dict[str, str] = field(default_factory=dict)
    env: Environment = field(default_factory=lambda: _environment())


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fireline.ui", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["percent"] = read.percent
    env.filters["ts"] = _ts
    env.filters["rate"] = lambda v: "—" if v is None else f"{v:.2f}×"
    env.filters["threshold"] = lambda v: f"{v:.3g}×"
    env.filters["labels"] = read.describe_labels
    env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    return env


def _ts(value: datetime | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | int):
        from datetime import UTC
        value = datetime.fromtimestamp(value, UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


# ------------------------------------------------------------------------------------------ rendering

class UI:
    def __init__(self) -> None:
        self.state = UIState()
        self.markdown = _markdown()

    def setup(self, ctx: ServerContext) -> None:
        from fireline.runbooks.generate import render_runbooks

        self.state.settings = UISettings.from_environ()
        self.state.catalog = read.load_catalog(ctx)
        if self.state.catalog.error:
            log.warning("web UI: %s", self.state.catalog.error)
        self.state.runbooks = render_runbooks([s.spec for s in self.state.catalog.services], ctx.config)

    def key(self, request: Request) -> bytes:
        """The signing key of the token in force now (a rotated token makes new CSRF tokens too)."""
        return auth.signing_key(context(request).current_token())

    def load_session(self, request: Request) -> None:
        """Router dependency: read the session before the handler opens a transaction of its own
        (SQLite would make a second, nested write transaction wait for the first)."""
        self.session(request)

    def session(self, request: Request) -> auth.Session | None:
        """The live session of this request, read once from ui_sessions (shared by every replica)."""
        if not hasattr(request.state, "fireline_session"):
            cookie = request.cookies.get(auth.SESSION_COOKIE)
            found = None
            if cookie:
                ctx = context(request)
                with ctx.db.transaction() as db:
                    found = auth.read_session(db, ctx.current_token(), cookie, ctx.clock())
            request.state.fireline_session = found
        session: auth.Session | None = request.state.fireline_session
        return session

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        nonce = request.cookies.get(auth.CSRF_COOKIE) or auth.new_nonce()
        html = self.state.env.get_template(template).render(
            user=self.session(request), csrf=auth.csrf_token(self.key(request), nonce), csrf_field=auth.CSRF_FIELD,
            path=request.url.path, open_reading=self.state.settings.open_reading, **values)
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if request.cookies.get(auth.CSRF_COOKIE) != nonce:
            auth.set_cookie(response, auth.CSRF_COOKIE, nonce, secure=self._secure(request), max_age=None)
        return response

    def _secure(self, request: Request) -> bool:
        return auth.secure_cookies(request, context(request).settings.external_url)

    def must_log_in(self, request: Request) -> Response | None:
        """A redirect to the login page when reading needs a login and there is none."""
        if self.state.settings.open_reading or self.session(request) is not None:
            return None
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    def refuse(self, request: Request, status: int, message: str) -> HTMLResponse:
        back = urlsplit(request.headers.get("referer", "")).path if request.method == "POST" else request.url.path
        return self.page(request, "refused.html.j2", status=status, message=message,
                         login=f"/login?{urlencode({'next': auth.safe_next(back)})}")

    async def form(self, request: Request) -> dict[str, str] | Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return self.refuse(request, 413, "The form is larger than fireline accepts.")
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=40)
        except (UnicodeDecodeError, ValueError):
            return self.refuse(request, 400, "The form could not be read.")
        return {k: v[0] for k, v in parsed.items()}

    def check_form(self, request: Request, form: dict[str, str], *, needs_login: bool) -> Response | None:
        """CSRF (and origin) first, then the login: a forged request learns nothing about sessions."""
        if not auth.same_origin(request) or not auth.csrf_valid(
                self.key(request), request.cookies.get(auth.CSRF_COOKIE), form.get(auth.CSRF_FIELD)):
            return self.refuse(request, 403, "This form has expired or did not come from this fireline page. "
                                             "Reload the page and try again.")
        if needs_login and self.session(request) is None:
            return self.refuse(request, 401, "Actions need the API token: log in first.")
        return None


# --------------------------------------------------------------------------------------------- pages

def _text(form: dict[str, str], name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = form.get(name, "").replace("\x00", "").strip()
    if not value:
        if required:
            raise ValueError(f"{name.replace('_', ' ')} is required")
        return None
    if len(value) > limit:
        raise ValueError(f"{name.replace('_', ' ')} is longer than {limit} characters")
    return value


def _incident_actions(ui: UI) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(ui.load_session)])

    def apply(ctx: ServerContext, incident_id: int, action: str, form: dict[str, str],
              actor: str) -> tuple[int, str] | None:
        """Run one transition through incidents.flows (the API's locked path) in one transaction;
        (HTTP status, error to show), or None when done."""
        try:
            with ctx.db.transaction() as session:
                now = ctx.clock()
                if action == "acknowledged":
                    flows.acknowledge(session, ctx.config, incident_id, actor=actor, now=now, note=_text(form, "note"))
                elif action == "mitigated":
                    flows.mitigate(session, ctx.config, incident_id, actor=actor, now=now,
                                   note=_text(form, "note", required=True) or "")
                elif action == "resolved":
                    flows.resolve(session, ctx.config, incident_id, actor=actor, now=now, note=_text(form, "note"),
                                  root_cause=_text(form, "root_cause"))
                elif action == "update":
                    short = {name: _text(form, name, limit=255) for name in (
                        "error_rate_before", "error_rate_after", "burn_rate", "budget_consumed", "budget_remaining")}
                    flows.post_update(session, ctx.config, incident_id, actor=actor, now=now,
                                      update=service.StatusUpdate(
                                          what_happened=_text(form, "what_happened", required=True) or "",
                                          root_cause=_text(form, "root_cause"), mitigation=_text(form, "mitigation"),
                                          next_steps=_text(form, "next_steps"), **short))
                elif action == "comment":
                    flows.comment(session, incident_id, actor=actor, now=now,
                                  text=_text(form, "text", required=True) or "")
                else:
                    return 404, f"unknown action {action}"
        except flows.IncidentNotFound:
            return 404, f"Incident {incident_id} does not exist."
        except flows.TransitionError as exc:  # the transaction is rolled back on the way out
            return 409, str(exc)
        except ValueError as exc:  # a required field left empty or too long
            return 422, str(exc)
        return None

    def register(path: str, action: str) -> None:
        async def handler(request: Request, incident_id: int) -> Response:
            form = await ui.form(request)
            if isinstance(form, Response):
                return form
            denied = ui.check_form(request, form, needs_login=True)
            if denied is not None:
                return denied
            session = ui.session(request)
            assert session is not None
            ctx = context(request)
            failed = await run_in_threadpool(apply, ctx, incident_id, action, form, session.actor)
            if failed is not None and failed[0] == 404:
                return ui.refuse(request, 404, failed[1])
            if failed is not None:
                return await run_in_threadpool(_incident_page, ui, request, incident_id, failed, form)
            return RedirectResponse(f"/incidents/{incident_id}?done={action}#timeline", status_code=303)

        router.add_api_route(f"/incidents/{{incident_id}}/{path}", handler, methods=["POST"])

    for path, action in (("acknowledge", "acknowledged"), ("mitigate", "mitigated"), ("resolve", "resolved"),
                         ("updates", "update"), ("comments", "comment")):
        register(path, action)
    return router


def _incident_page(ui: UI, request: Request, incident_id: int, failed: tuple[int, str] | None = None,
                   form: dict[str, str] | None = None) -> Response:
    ctx = context(request)
    with ctx.db.transaction() as session:
        incident = session.get(Incident, incident_id)
        if incident is None:
            return ui.refuse(request, 404, f"Incident {incident_id} does not exist.")
        alerts = list(session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident_id)
                                      .order_by(IncidentAlert.id)))
        timeline = list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                                        .order_by(TimelineEvent.id)))
        actions = list(session.scalars(select(ActionItem).where(ActionItem.incident_id == incident_id)
                                       .order_by(ActionItem.id)))
        outbox = list(session.scalars(select(OutboxItem).where(OutboxItem.incident_id == incident_id)
                                      .order_by(OutboxItem.id)))
        draft = _postmortem(ctx, incident, alerts, timeline, actions)
        runbook = incident.annotations.get("runbook_url") or next(
            (a.annotations.get("runbook_url") for a in alerts if a.annotations.get("runbook_url")), None)
        entry = ui.state.catalog.find(incident.service or "", incident.slo or "")
        status = Status(incident.status)
        return ui.page(
            request, "incident.html.j2", status=failed[0] if failed else 200, incident=incident, alerts=alerts,
            timeline=timeline, actions=actions, outbox=outbox, error=failed[1] if failed else None, form=form or {},
            done=DONE.get(request.query_params.get("done", "")),
            postmortem_html=ui.markdown.render(draft), slo_link=entry is not None,
            can_acknowledge=status is Status.TRIGGERED,
            can_mitigate=status in (Status.TRIGGERED, Status.ACKNOWLEDGED),
            can_resolve=status is not Status.RESOLVED,
            runbook=runbook, runbook_link=links.safe_url(runbook, relative=True))


def _postmortem(ctx: ServerContext, incident: Incident, alerts: list[IncidentAlert], timeline: list[TimelineEvent],
                actions: list[ActionItem]) -> str:
    return postmortem.draft(incident, alerts, timeline, actions, ctx.prometheus, ctx.clock())


def build_router(ui: UI) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(ui.load_session)])

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request, team: str | None = None, service: str | None = None) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        ctx = context(request)
        catalog = ui.state.catalog
        readings = read.read_prometheus(ctx, ctx.clock())
        with ctx.db.transaction() as session:
            views = read.slo_views(ctx, catalog, session, readings, team=team or None, service=service or None)
        return ui.page(request, "overview.html.j2", views=views, readings=readings, catalog=catalog,
                       teams=read.distinct([e.team for e in catalog.entries]),
                       services=read.distinct([e.service.name for e in catalog.entries]),
                       team=team or "", service=service or "", policy=read.policy_enabled(ctx),
                       now=ctx.clock())

    @router.get("/slos/{service_name}/{slo_name}", response_class=HTMLResponse)
    def slo_page(request: Request, service_name: str, slo_name: str, burn_range: str = "24h") -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        from fireline.policy.exclusions import list_exclusions
        from fireline.policy.tables import PolicyAudit

        ctx = context(request)
        entry = ui.state.catalog.find(service_name, slo_name)
        if entry is None:
            return ui.refuse(request, 404, f"No SLO {service_name}/{slo_name} in the specs fireline.yaml names.")
        now = ctx.clock()
        readings = read.read_prometheus(ctx, now)
        policy = read.policy_enabled(ctx)
        with ctx.db.transaction() as session:
            view = read.slo_views(ctx, ui.state.catalog, session, readings, service=service_name)
            this = next(v for v in view if v.slo == slo_name)
            exclusions, audit = [], []
            if policy:
                exclusions = [e for e in list_exclusions(session, service_name, include_revoked=True)
                              if e.slo in (None, slo_name)]
                audit = list(session.scalars(
                    select(PolicyAudit).where(PolicyAudit.service == service_name,
                                              (PolicyAudit.slo == slo_name) | PolicyAudit.slo.is_(None))
                    .order_by(PolicyAudit.id.desc()).limit(100)))
            incidents = list(session.scalars(select(Incident).where(
                Incident.service == service_name, Incident.slo == slo_name).order_by(Incident.id.desc()).limit(20)))
        span = BURN_RANGES.get(burn_range, BURN_RANGES["24h"])
        charts, chart_error = _charts(ctx, entry, now, span, exclusions)
        return ui.page(request, "slo.html.j2", view=this, entry=entry, readings=readings, policy=policy,
                       exclusions=exclusions, audit=audit, incidents=incidents, charts=charts,
                       chart_error=chart_error, firing=read.firing_alerts_for(readings, entry),
                       burn_range=burn_range if burn_range in BURN_RANGES else "24h", burn_ranges=list(BURN_RANGES),
                       runbooks=[(kind, links.safe_url(read.runbook_link(ctx, entry, kind), relative=True))
                                 for kind in ("page", "ticket", "budget-warning", "budget-critical")],
                       now=now)

    @router.get("/incidents", response_class=HTMLResponse)
    def incidents_page(request: Request, status: str = "open", severity: str = "", service: str = "",
                       team: str = "", kind: str = "") -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        ctx = context(request)
        query = select(Incident).order_by(Incident.id.desc()).limit(500)
        if status == "open":
            query = query.where(Incident.status != Status.RESOLVED.value)
        elif status in {s.value for s in Status}:
            query = query.where(Incident.status == status)
        if severity in SEVERITIES:
            query = query.where(Incident.severity == severity)
        if service:
            query = query.where(Incident.service == service)
        if team:
            query = query.where(Incident.team == team)
        if kind in {k.value for k in Kind}:
            query = query.where(Incident.kind == kind)
        with ctx.db.transaction() as session:
            rows = list(session.scalars(query))
            services = list(session.scalars(select(Incident.service).distinct()))
            teams = list(session.scalars(select(Incident.team).distinct()))
        return ui.page(request, "incidents.html.j2", incidents=rows,
                       filters={"status": status, "severity": severity, "service": service, "team": team,
                                "kind": kind},
                       statuses=["open", "all", *[s.value for s in Status]], severities=SEVERITIES,
                       services=read.distinct(services), teams=read.distinct(teams), kinds=[k.value for k in Kind])

    @router.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: int) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        return _incident_page(ui, request, incident_id)

    @router.get("/incidents/{incident_id}/postmortem.md")
    def postmortem_download(request: Request, incident_id: int) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        ctx = context(request)
        with ctx.db.transaction() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return ui.refuse(request, 404, f"Incident {incident_id} does not exist.")
            text = _postmortem(
                ctx, incident,
                list(session.scalars(select(IncidentAlert).where(IncidentAlert.incident_id == incident_id))),
                list(session.scalars(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
                                     .order_by(TimelineEvent.id))),
                list(session.scalars(select(ActionItem).where(ActionItem.incident_id == incident_id)
                                     .order_by(ActionItem.id))))
        return Response(text, media_type="text/markdown; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="incident-{incident_id}-postmortem.md"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @router.get("/notifications", response_class=HTMLResponse)
    def notifications(request: Request) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        ctx = context(request)
        with ctx.db.transaction() as session:
            outbox = list(session.scalars(select(OutboxItem).order_by(OutboxItem.id.desc()).limit(200)))
        folder = stack.stack_dir(ui.state.settings.stack_dir, ctx.db.url)
        capture_url = ui.state.settings.capture_url or stack.capture_url(folder)
        captured, capture_error = _captured(capture_url)
        return ui.page(request, "notifications.html.j2", outbox=outbox, captured=captured,
                       capture_url=capture_url, capture_error=capture_error)

    @router.get("/drill", response_class=HTMLResponse)
    def drill(request: Request) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        ctx = context(request)
        checklist, error = stack.last_drill(stack.stack_dir(ui.state.settings.stack_dir, ctx.db.url))
        return ui.page(request, "drill.html.j2", checklist=checklist, error=error)

    @router.get("/reports", response_class=HTMLResponse)
    def report(request: Request, period: str = "last-30d") -> Response:
        """The same report `fireline report --format html` writes, for the specs fireline.yaml names."""
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        from fireline.clients.prometheus import PrometheusClient, PrometheusUnavailable
        from fireline.reports.build import build_report
        from fireline.reports.period import PeriodError, parse_period
        from fireline.reports.render import render_html

        ctx = context(request)
        policy = ctx.config.policy if read.policy_enabled(ctx) else None
        try:
            chosen = parse_period(period[:32], ctx.clock(), policy.timezone if policy is not None else "UTC")
        except PeriodError as exc:
            return ui.refuse(request, 400, str(exc))
        try:
            client: PrometheusClient | None = PrometheusClient.from_settings(ctx.prometheus, timeout=10)
        except PrometheusUnavailable:
            client = None
        try:
            with ctx.db.transaction() as session:
                result = build_report([s.spec for s in ui.state.catalog.services], chosen, client=client,
                                      session=session, policy=policy, now=ctx.clock())
        finally:
            if client is not None:
                client.close()
        html = render_html(result)
        # The report's one inline style block is allowed by its hash; still no script, no other style.
        style = re.search(r"<style>(.*?)</style>", html, re.S)
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode() if style else ""
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"]
                   .replace("style-src 'self'", f"style-src 'self' 'sha256-{digest}'")}
        return HTMLResponse(html, headers=headers)

    @router.get("/runbooks/{name}", response_class=HTMLResponse)
    def runbook(request: Request, name: str) -> Response:
        if (gate := ui.must_log_in(request)) is not None:
            return gate
        text = ui.state.runbooks.get(name)
        if text is None:
            return ui.refuse(request, 404, f"No generated runbook {name}.")
        return ui.page(request, "runbook.html.j2", name=name, body=ui.markdown.render(text))

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return ui.page(request, "login.html.j2", next=auth.safe_next(next), error=None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await ui.form(request)
        if isinstance(form, Response):
            return form
        denied = ui.check_form(request, form, needs_login=False)
        if denied is not None:
            return denied
        client = request.client.host if request.client else "unknown"
        wait = ui.state.limiter.retry_after(client)
        if wait is not None:
            log.warning("web UI login refused for %s: %d failed logins within %gs, retry in %ds", client,
                        ui.state.limiter.failures, ui.state.limiter.window, wait)
            refused = ui.refuse(request, 429, f"Too many failed logins from your address. Try again in {wait} s.")
            refused.headers["Retry-After"] = str(wait)
            return refused
        target = auth.safe_next(form.get("next"))
        name = (form.get("name") or "").strip()[:64]
        ctx = context(request)
        token = ctx.current_token()
        if not auth.token_matches(token, form.get("token", "")):
            count = ui.state.limiter.failed(client)
            log.warning("web UI login failed from %s (%d within %gs)", client, count, ui.state.limiter.window)
            return ui.page(request, "login.html.j2", status=401, next=target, name=name,
                           error="That is not the API token of this fireline.")
        if not name:
            return ui.page(request, "login.html.j2", status=422, next=target, name=name,
                           error="Give your name: it is written on the timeline of what you do.")
        ui.state.limiter.succeeded(client)

        def record() -> str:
            with ctx.db.transaction() as db:
                return auth.make_session(db, token, name, ctx.clock())

        cookie = await run_in_threadpool(record)
        response = RedirectResponse(target, status_code=303)
        secure = ui._secure(request)
        auth.set_cookie(response, auth.SESSION_COOKIE, cookie, secure=secure, max_age=auth.SESSION_SECONDS)
        # A new CSRF nonce with the new session: a nonce planted before login is worth nothing after it.
        auth.set_cookie(response, auth.CSRF_COOKIE, auth.new_nonce(), secure=secure, max_age=None)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await ui.form(request)
        if isinstance(form, Response):
            return form
        denied = ui.check_form(request, form, needs_login=False)
        if denied is not None:
            return denied
        ctx = context(request)

        def revoke() -> None:
            with ctx.db.transaction() as db:
                auth.revoke_session(db, ctx.current_token(), request.cookies.get(auth.SESSION_COOKIE), ctx.clock())

        await run_in_threadpool(revoke)  # server-side: the cookie is dead on every replica, kept or not
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
        return response

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        suffix = Path(name).suffix
        resource = STATIC / name
        if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES or not resource.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(resource.read_bytes(), media_type=STATIC_TYPES[suffix],
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})

    return router


def _charts(ctx: ServerContext, entry: read.CatalogEntry, now: datetime, burn_span: timedelta,
            exclusions: list[Any]) -> tuple[dict[str, str], str | None]:
    if ctx.prometheus.url is None:
        return {}, "prometheus.url is not set in fireline.yaml: no charts"
    window = timedelta(milliseconds=entry.slo.window.milliseconds)
    budget_range = read.chart_range(now, window)
    burn_range = read.chart_range(now, burn_span)
    try:
        budget_points = read.range_series(ctx, read.budget_query(entry, budget_range.step), budget_range)
        lines = [Line(f"{w} window", read.range_series(ctx, read.burn_query(entry, w), burn_range))
                 for w in read.long_windows(entry)]
    except PrometheusError as exc:
        return {}, f"Prometheus could not answer the chart queries: {exc}"
    bands = [Band(e.start.timestamp(), e.end.timestamp(), f"excluded: {e.reason}, approved by {e.approved_by}")
             for e in exclusions if e.revoked_at is None]
    thresholds = [Threshold(float(t.burn_rate_threshold(entry.slo.window)),
                            f"{float(t.burn_rate_threshold(entry.slo.window)):.3g}× {t.key} {t.severity.value}")
                  for t in entry.slo.tiers()]
    return {
        "budget": budget_burndown_svg(
            budget_points, start=budget_range.start.timestamp(), end=budget_range.end.timestamp(),
            step=budget_range.step, boundaries=[Threshold(v, label) for v, label in read.tier_boundaries(ctx)],
            exclusions=bands, title=f"Error budget remaining over {entry.slo.window} (recorded series)"),
        "burn": burn_rate_svg(lines, thresholds, start=burn_range.start.timestamp(), end=burn_range.end.timestamp(),
                              step=burn_range.step, title=f"Burn rate over the last {_span_text(burn_span)}"),
    }, None


def _span_text(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g}h" if hours < 48 else f"{hours / 24:g}d"


def _captured(url: str | None) -> tuple[list[dict[str, Any]], str | None]:
    if url is None:
        return [], None
    try:
        response = httpx.get(f"{url}/_capture/requests", timeout=3)
        response.raise_for_status()
        items = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return [], f"the capture server at {url} did not answer: {exc}"
    if not isinstance(items, list):
        return [], f"the capture server at {url} answered something that is not a list of requests"
    return [_describe_capture(item) for item in reversed(items) if isinstance(item, dict)], None


def _describe_capture(item: dict[str, Any]) -> dict[str, Any]:
    """Who it was for and what it said, from the Slack, PagerDuty or webhook body."""
    body = item.get("json")
    summary = ""
    if isinstance(body, dict):
        payload = body.get("payload")
        if isinstance(payload, dict) and payload.get("summary"):
            summary = f"PagerDuty {body.get('event_action', '')}: {payload['summary']}"
        elif body.get("text"):
            summary = str(body["text"])
        elif body.get("title") or body.get("event"):
            summary = " ".join(str(body.get(k, "")) for k in ("event", "title")).strip()
        else:
            summary = json.dumps(body)[:300]
    else:
        summary = str(item.get("body", ""))[:300]
    return {"method": item.get("method", ""), "path": item.get("path", ""), "status": item.get("status"),
            "received_at": item.get("received_at"), "summary": summary[:600], "body": item.get("body", "")}


def extension() -> ServerExtension:
    """The `fireline.server` entry point of the web UI."""
    from fireline.ui.oncall import router as oncall_pages

    ui = UI()
    routers = [build_router(ui), _incident_actions(ui), oncall_pages(ui)]
    return ServerExtension(name="ui", routers=routers, setup=ui.setup, migrations=auth.MIGRATIONS)
