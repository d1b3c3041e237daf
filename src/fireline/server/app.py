"""The FastAPI app of `fireline serve`: built from a ServerContext and a list of ServerExtensions.

Incidents (intake, API, escalation, outbox) are the built-in extension; other modules plug in the
same way (`create_app(ctx, extensions=[...])` or the `fireline.server` entry-point group).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fireline.server.context import Job, ServerContext, ServerExtension
from fireline.server.db import StorageUnavailable, expected_heads, register_migrations
from fireline.server.scheduler import Scheduler, leadership_for

log = logging.getLogger("fireline.server")
EXTENSION_GROUP = "fireline.server"
_bearer = HTTPBearer(auto_error=False, description="server.token_file of fireline.yaml or FIRELINE_TOKEN")


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.fireline
    return ctx


Context = Annotated[ServerContext, Depends(context)]


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """Bearer token check (constant time); returns the caller's name for the timeline."""
    ctx = context(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), ctx.current_token().encode()):
        raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    actor = request.headers.get("x-fireline-actor", "").strip()
    return actor[:255] if actor else "api"


Actor = Annotated[str, Depends(require_token)]


def db_session(request: Request) -> Any:
    """A session in one transaction for a request handler (committed when the handler returns)."""
    with context(request).db.transaction() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def discover_extensions() -> list[ServerExtension]:
    """Extensions installed as entry points: `fireline.server = name = module:factory`."""
    found: list[ServerExtension] = []
    for point in entry_points(group=EXTENSION_GROUP):
        factory: Callable[[], ServerExtension] = point.load()
        found.append(factory())
    return found


def builtin_extensions() -> list[ServerExtension]:
    from fireline.incidents.api import extension as incidents_extension

    return [incidents_extension()]


def create_app(ctx: ServerContext, extensions: Sequence[ServerExtension] | None = None, *,
               run_scheduler: bool = True) -> FastAPI:
    exts = builtin_extensions() + list(discover_extensions() if extensions is None else extensions)
    ctx.extensions = exts
    for ext in exts:
        if ext.migrations is not None:
            register_migrations(ext.migrations)
    for ext in exts:
        if ext.setup is not None:
            ext.setup(ctx)
    jobs: list[Job] = [job for ext in exts for job in ext.jobs]
    scheduler = Scheduler(ctx, jobs, leadership_for(ctx.db.url), ctx.settings.scheduler_interval.seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for ext in exts:
            if ext.on_startup is not None:
                ext.on_startup(ctx)
        if run_scheduler:
            scheduler.start()
        try:
            yield
        finally:
            if run_scheduler:
                scheduler.stop()
            for ext in exts:
                if ext.on_shutdown is not None:
                    ext.on_shutdown(ctx)

    app = FastAPI(
        title="fireline",
        summary="Alert intake, incidents with escalation, notifications and postmortems",
        version="1",
        lifespan=lifespan,
    )
    app.state.fireline = ctx
    app.state.scheduler = scheduler
    app.add_middleware(BodySizeLimit, limit=ctx.settings.max_body_bytes)
    # Outermost: whatever hangs inside (a blackholed database, a stuck lock), the client has its answer in time.
    app.add_middleware(RequestTimeout, seconds=ctx.settings.request_timeout.seconds)
    heads: list[set[str]] = []

    @app.exception_handler(StorageUnavailable)
    async def _storage(_request: Request, exc: StorageUnavailable) -> JSONResponse:
        # 503 makes Alertmanager retry the notification; 4xx would drop it.
        log.warning("storage unavailable: %s", exc)
        return storage_unavailable()

    @app.exception_handler(SQLAlchemyError)
    async def _database(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Raised outside Database.transaction (a commit at the end of a request, a constraint race).
        log.warning("database error: %s", type(exc).__name__)
        return storage_unavailable()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": [_describe(e) for e in exc.errors()]}, status_code=422)

    @app.get("/healthz", tags=["service"], responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "database": "postgresql",
                                                           "instance": "web-1:4242", "scheduler_leader": True}}}}})
    def healthz(request: Request) -> JSONResponse:
        """Liveness: 200 while the process serves HTTP. Whether it can do its work is /readyz."""
        ctx_ = context(request)
        return JSONResponse({"status": "ok", "database": ctx_.db.dialect, "instance": ctx_.instance,
                             "scheduler_leader": scheduler.is_leader})

    @app.get("/readyz", tags=["service"], responses={
        200: {"content": {"application/json": {"schema": _READINESS, "example": {
            "status": "ready", "database": "postgresql", "instance": "web-1:4242",
            "checks": {"reachable": "ok", "migrated": "ok", "writable": "ok"}}}}},
        503: {"description": "not ready: the failing check says why; Retry-After", "content": {
            "application/json": {"schema": _READINESS, "example": {
                "status": "unavailable", "database": "sqlite", "instance": "web-1:4242",
                "checks": {"reachable": "ok", "migrated": "ok",
                           "writable": "attempt to write a readonly database"}}}}}})
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the database is reachable, migrated (every branch at its head, every table there) and
        writable. Load balancers send intake only to replicas that answer 200."""
        ctx_ = context(request)
        if not heads:
            heads.append(expected_heads())
        checks = ctx_.db.readiness(heads[0])
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "unavailable", "database": ctx_.db.dialect,
                "instance": ctx_.instance, "checks": checks}
        if not ready:
            log.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok"))
        return JSONResponse(body, status_code=200 if ready else 503,
                            headers=None if ready else {"Retry-After": RETRY_AFTER})

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {"example": "fireline_open_incidents{...} 1.0\n"}}}})
    def metrics(request: Request) -> PlainTextResponse:
        """Prometheus metrics: intake count and latency, open incidents, outbox depth, escalation lag."""
        return PlainTextResponse(generate_latest(context(request).metrics.registry),
                                 media_type=CONTENT_TYPE_LATEST)

    for ext in exts:
        for router in ext.routers:
            app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


# ------------------------------------------------------------------------------------------- openapi

_ERROR = {"type": "object", "required": ["detail"], "additionalProperties": True,
          "properties": {"detail": {"type": "string", "description": "what is wrong, in a sentence"}}}
_FIELD_PROBLEM = {"type": "object", "required": ["field", "message"], "properties": {
    "field": {"type": "string", "description": "the field, dotted (alerts.0.status), or (body)"},
    "message": {"type": "string"}, "type": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
_VALIDATION = {"type": "object", "required": ["detail"], "properties": {"detail": {"anyOf": [
    {"type": "array", "items": {"$ref": "#/components/schemas/FieldProblem"}},
    {"type": "string"}]}}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
# Answers any operation can give, whatever its handler: the framework's, the middlewares' and storage's.
_COMMON = {
    "400": "the body could not be read (not UTF-8, not parseable as its content type)",
    "413": "body above server.max_body_bytes",
    "503": "storage unavailable, or no answer within server.request_timeout; retry after Retry-After",
}


def _error(description: str, schema: str = "Error", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description,
                              "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if headers:
        answer["headers"] = headers
    return answer


def _has_schema(answer: dict[str, Any]) -> bool:
    return any("schema" in media for media in answer.get("content", {}).values())


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, completed with every status code and error body the service really sends."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update({"Error": _ERROR, "FieldProblem": _FIELD_PROBLEM, "ValidationProblems": _VALIDATION})
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, answer in list(responses.items()):
                if code.startswith(("4", "5")) and code != "422" and not _has_schema(answer):
                    documented = _error(answer.get("description", "refused"), headers=answer.get("headers"))
                    example = answer.get("content", {}).get("application/json", {}).get("example")
                    if example is not None:
                        documented["content"]["application/json"]["example"] = example
                    responses[code] = documented
            for code, description in _COMMON.items():
                if code == "400" and "requestBody" not in operation:
                    continue
                responses.setdefault(code, _error(description, headers=_RETRY_AFTER if code == "503" else None))
            if "503" in responses:
                responses["503"].setdefault("headers", _RETRY_AFTER)
            if operation.get("security"):
                responses.setdefault("401", _error("missing or wrong bearer token", headers={
                    "WWW-Authenticate": {"schema": {"type": "string"}}}))
            if operation.get("parameters") or "requestBody" in operation:
                responses["422"] = _error("the request does not have the documented shape: each problem names "
                                          "its field", "ValidationProblems")
            if "{" in path or path.startswith("/api/"):
                # Extensions answer 404 too when their feature is not enabled in fireline.yaml (policy:).
                responses.setdefault("404", _error("no such resource, or its feature is not enabled in fireline.yaml"))
    app.openapi_schema = document
    return document


RETRY_AFTER = "5"
_READINESS: dict[str, Any] = {"type": "object", "required": ["status", "database", "instance", "checks"],
                              "properties": {
    "status": {"enum": ["ready", "unavailable"]}, "database": {"type": "string"}, "instance": {"type": "string"},
    "checks": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "reachable, migrated, writable: ok or why not"}}}


def storage_unavailable() -> JSONResponse:
    return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503,
                        headers={"Retry-After": RETRY_AFTER})


class RequestTimeout:
    """503 with Retry-After for a request that has no answer within server.request_timeout.

    The handler may still be blocked in a worker thread (the database's own timeouts end it); its late
    answer is dropped, since the client already has one.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        timed_out = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if task in done:
            task.result()
            return
        if started:  # a streamed answer is under way: let it finish
            await task
            return
        timed_out = True
        task.cancel()
        log.warning("%s %s had no answer within %gs: 503", scope.get("method"), scope.get("path"), self.seconds)
        response = JSONResponse({"detail": f"no answer within server.request_timeout ({self.seconds:g}s), "
                                           "retry later"}, status_code=503, headers={"Retry-After": RETRY_AFTER})
        await response(scope, receive, send)


class BodySizeLimit:
    """413 for request bodies above server.max_body_bytes, by Content-Length or as the body streams in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._too_large(scope, receive, send)
                return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # Read the body here (it is at most `limit` bytes) so an oversized stream is refused before any
        # handler parses it, then hand the same bytes to the app.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # client went away: let the app see the disconnect
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body larger than server.max_body_bytes ({self.limit} bytes)"},
                                status_code=413)
        await response(scope, receive, send)


def _describe(error: Any) -> dict[str, Any]:
    # Name the field and say what is wrong; never echo the whole input back (it may be large).
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {"field": ".".join(loc) or "(body)", "message": error.get("msg", "invalid"), "type": error.get("type")}
