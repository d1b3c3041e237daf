"""`fireline serve`, `fireline incidents ...` (a client of a running server) and `fireline capture`."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)
URL_ENV = "FIRELINE_URL"

incidents_app = typer.Typer(name="incidents", no_args_is_help=True,
                            help="Incidents on a running `fireline serve`: list, show, ack, resolve, update.")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _config(path: Path | None) -> Config:
    if path is None:
        default = Path("fireline.yaml")
        if not default.exists():
            return Config.model_validate({"apiVersion": "fireline/v1", "kind": "Config"})
        path = default
    try:
        return load_config(path)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/red] {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(2) from None


def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="fireline.yaml (default: ./fireline.yaml)")]
    = None,
    database: Annotated[str | None, typer.Option("--database", help="SQLAlchemy URL; overrides server.database "
                                                 "(sqlite:///fireline.db, postgresql://user@host/db)")] = None,
    host: Annotated[str | None, typer.Option("--host", help="overrides server.listen's host")] = None,
    port: Annotated[int | None, typer.Option("--port", help="overrides server.listen's port", min=1,
                                             max=65535)] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning")] = "info",
) -> None:
    """Run the service: Alertmanager intake, incidents, escalation, notifications, API, metrics."""
    import uvicorn

    from fireline.server import logs
    from fireline.server.app import create_app
    from fireline.server.context import TokenError, make_context
    from fireline.server.db import StorageUnavailable, migrate

    cfg = _config(config)
    try:
        ctx = make_context(cfg, database=database)
    except (TokenError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # an unusable database URL (unknown driver, bad syntax)
        raise _fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    logs.configure(log_level, lambda: logs.configured_secrets(ctx.config, ctx.current_token()))
    app = create_app(ctx)  # registers every extension's migrations before migrating
    try:
        migrate(ctx.db.url)
    except StorageUnavailable as exc:
        raise _fail(f"cannot migrate the database: {exc}", 1) from None
    listen_host = host or cfg.server.host
    listen_port = port or cfg.server.port
    logging.getLogger("fireline.server").info(
        "fireline serve on %s:%s, database %s, extensions %s", listen_host, listen_port, ctx.db.dialect,
        ", ".join(ext.name for ext in ctx.extensions))
    # log_config=None: uvicorn adds no handlers of its own, so its records pass the root's redacting filter.
    # SIGTERM: stop accepting, answer the requests in flight (each bounded by server.request_timeout, the
    # drain by DRAIN_SECONDS), stop the scheduler (3 s); uvicorn then re-raises the signal, so the process
    # ends by it (deliveries still blocked on a slow receiver are sent again: their lease expires).
    uvicorn.run(app, host=listen_host, port=listen_port, log_level=log_level.lower(), access_log=False,
                timeout_graceful_shutdown=DRAIN_SECONDS, log_config=None)


DRAIN_SECONDS = 5


def capture(
    port: Annotated[int, typer.Option("--port", help="port on 127.0.0.1 (0 picks a free one)", min=0, max=65535)]
    = 0,
    host: Annotated[str, typer.Option("--host", help="a loopback address")] = "127.0.0.1",
) -> None:
    """Run a capture server that records Slack/PagerDuty/webhook requests (GET /_capture/requests)."""
    from fireline.notify.capture import CaptureServer

    try:
        server = CaptureServer(host, port)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"capture server on {server.url} (GET {server.url}/_capture/requests)")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


# ------------------------------------------------------------------------------------------ the client

class Client:
    def __init__(self, url: str, token: str) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=30,
                                  headers={"Authorization": f"Bearer {token}",
                                           "X-Fireline-Actor": os.environ.get("USER", "cli")})

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach fireline at {self._http.base_url}: {type(exc).__name__}", 1) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise _fail(f"{response.status_code}: {detail}", 1)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text


Server = Annotated[str, typer.Option("--server", envvar=URL_ENV, help="fireline serve base URL")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="fireline.yaml, for server.token_file")]


def _client(server: str, config: Path | None) -> Client:
    from fireline.server.context import TokenError, read_token

    try:
        token = read_token(_config(config).server)
    except TokenError as exc:
        raise _fail(str(exc)) from None
    return Client(server, token)


_DEFAULT_SERVER = "http://127.0.0.1:8080"


@incidents_app.command("list")
def list_incidents(
    server: Server = _DEFAULT_SERVER, config: ConfigOpt = None,
    status: Annotated[str | None, typer.Option(help="triggered, acknowledged, mitigated, resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="SEV1, SEV2, SEV3, ticket")] = None,
    service: Annotated[str | None, typer.Option(help="service name")] = None,
) -> None:
    """List incidents and tickets, newest first."""
    params = {k: v for k, v in {"status": status, "severity": severity, "service": service}.items() if v}
    rows = _client(server, config).call("GET", "/api/v1/incidents", params=params)
    table = Table("id", "severity", "status", "service/slo", "team", "opened", "title")
    for row in rows:
        table.add_row(str(row["id"]), row["severity"], row["status"],
                      "/".join(p for p in (row["service"], row["slo"]) if p), row["team"] or "",
                      row["opened_at"][:19], row["title"])
    console.print(table)


@incidents_app.command("show")
def show_incident(incident_id: Annotated[int, typer.Argument(min=1)], server: Server = _DEFAULT_SERVER,
                  config: ConfigOpt = None) -> None:
    """One incident: state, alerts, timeline, notifications."""
    data = _client(server, config).call("GET", f"/api/v1/incidents/{incident_id}")
    console.print(f"[bold]#{data['id']} {escape(data['title'])}[/bold]")
    console.print(f"{data['severity']} {data['kind']}, {data['status']}; team {data['team']}; "
                  f"{data['firing_alerts']} firing alert(s); opened {data['opened_at']}")
    if data["escalation_next_at"]:
        console.print(f"next escalation step {data['escalation_next_step'] + 1} at {data['escalation_next_at']}")
    table = Table("time", "event", "by", "what", title="timeline", title_justify="left")
    for event in data["timeline"]:
        table.add_row(event["at"][:19], event["kind"], escape(event["actor"]), escape(event["message"]))
    console.print(table)
    notes = Table("id", "receiver", "integration", "event", "status", "attempts", "error",
                  title="notifications", title_justify="left")
    for item in data["notifications"]:
        notes.add_row(str(item["id"]), item["receiver"], item["integration"], item["event"], item["status"],
                      str(item["attempts"]), escape(item["last_error"] or ""))
    console.print(notes)


@incidents_app.command("ack")
def ack_incident(incident_id: Annotated[int, typer.Argument(min=1)], server: Server = _DEFAULT_SERVER,
                 config: ConfigOpt = None, note: Annotated[str | None, typer.Option()] = None) -> None:
    """Acknowledge: you own it; escalation stops."""
    data = _client(server, config).call("POST", f"/api/v1/incidents/{incident_id}/ack", {"note": note})
    console.print(f"#{data['id']} {data['status']} by {data['acknowledged_by']}")


@incidents_app.command("resolve")
def resolve_incident(incident_id: Annotated[int, typer.Argument(min=1)], server: Server = _DEFAULT_SERVER,
                     config: ConfigOpt = None, note: Annotated[str | None, typer.Option()] = None,
                     root_cause: Annotated[str | None, typer.Option("--root-cause")] = None) -> None:
    """Resolve: PagerDuty is resolved and the channel is told."""
    data = _client(server, config).call("POST", f"/api/v1/incidents/{incident_id}/resolve",
                                        {"note": note, "root_cause": root_cause})
    console.print(f"#{data['id']} {data['status']}")


@incidents_app.command("update")
def update_incident(
    incident_id: Annotated[int, typer.Argument(min=1)],
    what_happened: Annotated[str, typer.Option("--what-happened", help="required")],
    server: Server = _DEFAULT_SERVER, config: ConfigOpt = None,
    root_cause: Annotated[str | None, typer.Option("--root-cause")] = None,
    mitigation: Annotated[str | None, typer.Option()] = None,
    error_rate_before: Annotated[str | None, typer.Option("--error-rate-before")] = None,
    error_rate_after: Annotated[str | None, typer.Option("--error-rate-after")] = None,
    burn_rate: Annotated[str | None, typer.Option("--burn-rate")] = None,
    budget_consumed: Annotated[str | None, typer.Option("--budget-consumed")] = None,
    budget_remaining: Annotated[str | None, typer.Option("--budget-remaining")] = None,
    next_steps: Annotated[str | None, typer.Option("--next-steps")] = None,
) -> None:
    """Post a status update to the team's channel."""
    body = {"what_happened": what_happened, "root_cause": root_cause, "mitigation": mitigation,
            "error_rate_before": error_rate_before, "error_rate_after": error_rate_after, "burn_rate": burn_rate,
            "budget_consumed": budget_consumed, "budget_remaining": budget_remaining, "next_steps": next_steps}
    event = _client(server, config).call("POST", f"/api/v1/incidents/{incident_id}/updates", body)
    console.print(f"update {event['id']} posted to incident #{incident_id}")


@incidents_app.command("postmortem")
def postmortem(incident_id: Annotated[int, typer.Argument(min=1)], server: Server = _DEFAULT_SERVER,
               config: ConfigOpt = None) -> None:
    """Print the postmortem draft (Markdown)."""
    sys.stdout.write(_client(server, config).call("GET", f"/api/v1/incidents/{incident_id}/postmortem"))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("capture")(capture)
    app.add_typer(incidents_app)
