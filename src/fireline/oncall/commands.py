"""`fireline oncall [SCHEDULE] [--at T]` and `fireline overrides list|add|remove`: clients of a running
`fireline serve` (overrides live in its database, so the answer includes them)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fireline.server.commands import Client, ConfigOpt, Server, _config

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)
DEFAULT_SERVER = "http://127.0.0.1:8080"

overrides_app = typer.Typer(name="overrides", no_args_is_help=True,
                            help="On-call overrides on a running `fireline serve`: list, add, remove.")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _client(server: str, config: Path | None) -> Client:
    from fireline.server.context import TokenError, read_token

    try:
        return Client(server, read_token(_config(config).server))
    except TokenError as exc:
        raise _fail(str(exc)) from None


def parse_time(value: str, option: str) -> datetime:
    """RFC 3339 with a zone (Z or +01:00), or `now`; a time without a zone is refused, not guessed."""
    if value.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{option} {value!r} is not a time such as 2026-12-24T09:00:00+01:00 or 2026-12-24T08:00Z"
                    ) from None
    if parsed.tzinfo is None:
        raise _fail(f"{option} {value!r} has no time zone: add Z or an offset such as +01:00")
    return parsed


def _when(value: str | None) -> str:
    return "—" if value is None else value.replace("T", " ").replace("Z", " UTC")


def oncall(
    schedule: Annotated[str | None, typer.Argument(help="a schedule of fireline.yaml (default: all)")] = None,
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 time with zone (default: now)")] = None,
    server: Server = DEFAULT_SERVER, config: ConfigOpt = None,
    offline: Annotated[bool, typer.Option("--offline", help="from fireline.yaml alone, without a server "
                                          "(overrides, which live in the server's database, are not included)")]
    = False,
) -> None:
    """Who is on call, overrides included: now or at a given time."""
    if offline:
        _offline(schedule, parse_time(at, "--at") if at else datetime.now(UTC), config)
        return
    client = _client(server, config)
    params = {"at": parse_time(at, "--at").isoformat()} if at else None
    if schedule is not None:
        rows: list[dict[str, Any]] = [client.call("GET", f"/api/v1/schedules/{schedule}/oncall", params=params)]
    elif params is not None:
        names = [row["schedule"] for row in client.call("GET", "/api/v1/schedules")]
        rows = [client.call("GET", f"/api/v1/schedules/{name}/oncall", params=params) for name in names]
    else:
        rows = client.call("GET", "/api/v1/schedules")
    table = Table("schedule", "on call", "from", "until", "slack", "email")
    for row in rows:
        table.add_row(row["schedule"], row["person"] or "nobody", row["source"] or "", _when(row["until"]),
                      row["slack_user"] or "", row["email"] or "")
    console.print(table)


def _offline(schedule: str | None, at: datetime, config: Path | None) -> None:
    from fireline.oncall.rotation import ScheduleClock

    cfg = _config(config)
    names = [schedule] if schedule else sorted(cfg.schedules)
    table = Table("schedule", "on call", "from", "until", "slack", "email",
                  title=f"at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, without overrides", title_justify="left")
    for name in names:
        spec = cfg.schedules.get(name)
        if spec is None:
            known = ", ".join(sorted(cfg.schedules)) or "none"
            raise _fail(f"no schedule {name!r} in fireline.yaml (schedules: {known})")
        clock = ScheduleClock(spec)
        who = clock.on_call(at)
        until = clock.until(at)
        person = cfg.people.get(who.person) if who else None
        table.add_row(name, who.person if who else "nobody", who.source if who else "",
                      f"{until:%Y-%m-%d %H:%M} UTC" if until else "—", person.slack_user or "" if person else "",
                      person.email or "" if person else "")
    console.print(table)


@overrides_app.command("list")
def list_overrides(
    schedule: Annotated[str | None, typer.Option("--schedule", help="only this schedule")] = None,
    past: Annotated[bool, typer.Option("--past", help="include overrides that ended")] = False,
    server: Server = DEFAULT_SERVER, config: ConfigOpt = None,
) -> None:
    """Current and future overrides."""
    params = {k: v for k, v in {"schedule": schedule, "past": "true" if past else None}.items() if v}
    rows = _client(server, config).call("GET", "/api/v1/overrides", params=params)
    table = Table("id", "schedule", "person", "from", "to", "by", "reason")
    for row in rows:
        table.add_row(str(row["id"]), row["schedule"], row["person"], _when(row["start"]), _when(row["end"]),
                      escape(row["created_by"]), escape(row["reason"] or ""))
    console.print(table)


@overrides_app.command("add")
def add_override(
    schedule: Annotated[str, typer.Argument(help="the schedule")],
    person: Annotated[str, typer.Argument(help="who takes it (a name under people)")],
    start: Annotated[str, typer.Option("--from", help="RFC 3339 time with zone, or now")],
    end: Annotated[str, typer.Option("--to", help="RFC 3339 time with zone (exclusive)")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    server: Server = DEFAULT_SERVER, config: ConfigOpt = None,
) -> None:
    """Put someone on call for a span (a swap, cover); wins over every layer."""
    body = {"person": person, "from": parse_time(start, "--from").isoformat(),
            "to": parse_time(end, "--to").isoformat(), "reason": reason}
    row = _client(server, config).call("POST", f"/api/v1/schedules/{schedule}/overrides", body)
    console.print(f"override {row['id']}: {row['person']} on call for {row['schedule']} from {_when(row['start'])} "
                  f"to {_when(row['end'])}")


@overrides_app.command("remove")
def remove_override(override_id: Annotated[int, typer.Argument(min=1)], server: Server = DEFAULT_SERVER,
                    config: ConfigOpt = None) -> None:
    """Remove an override."""
    row = _client(server, config).call("DELETE", f"/api/v1/overrides/{override_id}")
    console.print(f"override {row['id']} removed ({row['person']} on {row['schedule']})")


def register(app: typer.Typer) -> None:
    app.command("oncall")(oncall)
    app.add_typer(overrides_app)
