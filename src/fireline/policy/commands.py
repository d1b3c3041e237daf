"""`fireline gate check` and `fireline budget status|exclude|exclusions|revoke`, against a running server.

Exit codes of `gate check` are the pipeline's contract: 0 allowed, 1 refused, 2 unknown (budget
unknown, server unreachable, service not watched); `--on-unknown allow|deny` turns 2 into 0 or 1
for the budget-unknown and unreachable cases. Every failure is one line on stderr.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fireline.policy.exclusions import ExclusionReason
from fireline.policy.settings import ChangeClass

SERVER_ENV = "FIRELINE_SERVER"
TOKEN_ENV = "FIRELINE_TOKEN"
DEFAULT_SERVER = "http://127.0.0.1:8080"
EXIT_ALLOWED, EXIT_REFUSED, EXIT_UNKNOWN = 0, 1, 2

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, width=400)


class OnUnknown(StrEnum):
    FAIL = "fail"
    ALLOW = "allow"
    DENY = "deny"


class CommandError(Exception):
    """A one-line error for the user; exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_UNKNOWN) -> None:
        super().__init__(message)
        self.code = code


ServerOption = Annotated[str | None, typer.Option(
    "--server", help=f"fireline serve base URL (default ${SERVER_ENV} or {DEFAULT_SERVER}).")]
TokenFileOption = Annotated[Path | None, typer.Option(
    "--token-file", help=f"File holding the API token (default ${TOKEN_ENV}).")]


def _fail(message: str, code: int) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(f"--token-file: cannot read {token_file}: {exc.strerror or exc}") from None
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _base(server: str | None) -> str:
    base = (server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise CommandError(f"--server: {base!r} must be an http:// or https:// URL")
    return base


def _request(method: str, server: str | None, token_file: Path | None, path: str,
             **kwargs: Any) -> httpx.Response:
    base = _base(server)
    token = _token(token_file)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=15, **kwargs)
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach fireline at {base}: {type(exc).__name__}: {exc}") from None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(f"{d.get('field', '?')}: {d.get('message', '')}" for d in detail if isinstance(d, dict))
    return str(detail or body)


def _checked(response: httpx.Response) -> Any:
    if response.status_code == 401:
        raise CommandError(f"unauthorized: give the API token with --token-file or ${TOKEN_ENV}")
    if not 200 <= response.status_code < 300:
        raise CommandError(f"HTTP {response.status_code}: {_detail(response)}")
    return response.json()


def _parse_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{option}: {value!r} is not a time such as 2026-11-28T02:00:00Z") from None
    if parsed.tzinfo is None:
        raise CommandError(f"{option}: {value!r} has no time zone; add Z or +01:00")
    return parsed


def gate_exit(status_code: int | None, on_unknown: OnUnknown) -> int:
    """The exit code for a gate answer (None: the server could not be reached)."""
    if status_code == 200:
        return EXIT_ALLOWED
    if status_code == 423:
        return EXIT_REFUSED
    if status_code in (None, 503):
        return {OnUnknown.ALLOW: EXIT_ALLOWED, OnUnknown.DENY: EXIT_REFUSED}.get(on_unknown, EXIT_UNKNOWN)
    return EXIT_UNKNOWN


def register(app: typer.Typer) -> None:
    gate_app = typer.Typer(help="The deploy gate of the error-budget policy.", no_args_is_help=True)
    budget_app = typer.Typer(help="Error budgets: status and exclusions (partial resets).", no_args_is_help=True)
    app.add_typer(gate_app, name="gate")
    app.add_typer(budget_app, name="budget")

    @gate_app.command("check")
    def gate_check(
        service: Annotated[str, typer.Option("--service", help="Service name (metadata.name of its spec).")],
        change: Annotated[str, typer.Option("--change", help="feature, critical or hotfix.")] = "feature",
        server: ServerOption = None,
        token_file: TokenFileOption = None,
        on_unknown: Annotated[str, typer.Option(
            "--on-unknown", help="When the budget is unknown or the server unreachable: allow (exit 0), deny "
            "(exit 1), or fail (exit 2, the default).")] = "fail",
    ) -> None:
        """May this change deploy now? Exit 0 allowed, 1 refused, 2 unknown or unreachable."""
        try:
            if change not in set(ChangeClass):
                raise CommandError(f"--change: {change!r} is not one of feature, critical, hotfix")
            if on_unknown not in set(OnUnknown):
                raise CommandError(f"--on-unknown: {on_unknown!r} is not one of allow, deny, fail")
            policy = OnUnknown(on_unknown)
            try:
                response = _request("GET", server, token_file, f"/api/v1/gate/{service}", params={"change": change})
            except CommandError as exc:
                code = gate_exit(None, policy)
                err_console.print(f"unknown: {escape(str(exc))}" + (
                    f" (--on-unknown {policy}: {'allowed' if code == 0 else 'refused'})" if code != 2 else ""),
                    soft_wrap=True)
                raise typer.Exit(code) from None
            if response.status_code in (200, 423, 503):
                body = response.json()
                code = gate_exit(response.status_code, policy)
                word = {200: "allowed", 423: "refused", 503: "unknown"}[response.status_code]
                suffix = (f" (--on-unknown {policy}: {'allowed' if code == 0 else 'refused'})"
                          if response.status_code == 503 and code != EXIT_UNKNOWN else "")
                line = f"{word}: {body.get('reason', '')}{suffix}"
                (console if code == 0 else err_console).print(escape(line), soft_wrap=True)
                raise typer.Exit(code)
            _checked(response)
            raise CommandError(f"unexpected answer HTTP {response.status_code} from the gate")
        except CommandError as exc:
            raise _fail(str(exc), exc.code) from None

    @budget_app.command("status")
    def budget_status(server: ServerOption = None, token_file: TokenFileOption = None,
                      service: Annotated[str | None, typer.Option("--service")] = None) -> None:
        """Every watched SLO: tier in force, budget remaining (exclusions applied), frozen change classes."""
        try:
            params = {"service": service} if service else {}
            body = _checked(_request("GET", server, token_file, "/api/v1/budget/status", params=params))
        except CommandError as exc:
            raise _fail(str(exc), exc.code) from None
        table = Table(title="error budgets", title_justify="left")
        for column in ("service", "slo", "tier", "budget left", "frozen", "since", "note"):
            table.add_column(column, justify="right" if column == "budget left" else "left")
        for s in body["slos"]:
            left = "-" if s["budget_remaining"] is None else f"{s['budget_remaining'] * 100:.1f}%"
            note = "" if s["known"] else f"unknown: {s['unknown_reason'] or 'not measured yet'}"
            table.add_row(s["service"], s["slo"], s["tier"], left, ", ".join(s["frozen"]) or "-", s["since"] or "-",
                          escape(note))
        console.print(table)

    @budget_app.command("exclude")
    def budget_exclude(
        service: Annotated[str, typer.Option("--service")],
        start: Annotated[str, typer.Option("--from", help="Start, e.g. 2026-11-28T02:00:00Z.")],
        end: Annotated[str, typer.Option("--to", help="End, e.g. 2026-11-28T03:30:00Z.")],
        reason: Annotated[str, typer.Option("--reason", help="platform-outage, measurement-bug or maintenance.")],
        approved_by: Annotated[str, typer.Option("--approved-by", help="Who approved the partial reset.")],
        slo: Annotated[str | None, typer.Option("--slo", help="One SLO; every SLO of the service if left out.")] = None,
        note: Annotated[str, typer.Option("--note")] = "",
        silence: Annotated[bool, typer.Option(
            "--silence", help="maintenance only: also create the matching Alertmanager silence.")] = False,
        server: ServerOption = None,
        token_file: TokenFileOption = None,
    ) -> None:
        """Exclude an interval from the error budget (its errors and events no longer count); audited."""
        try:
            if reason not in set(ExclusionReason):
                raise CommandError(f"--reason: {reason!r} is not one of platform-outage, measurement-bug, "
                                   "maintenance")
            begin, finish = _parse_time(start, "--from"), _parse_time(end, "--to")
            if finish <= begin:
                raise CommandError("--to must be after --from")
            if silence and reason != ExclusionReason.MAINTENANCE:
                raise CommandError("--silence: only maintenance windows are silenced (--reason maintenance)")
            body = {"service": service, "slo": slo, "start": begin.isoformat(), "end": finish.isoformat(),
                    "reason": reason, "approved_by": approved_by, "note": note, "silence": silence}
            row = _checked(_request("POST", server, token_file, "/api/v1/budget/exclusions", json=body))
        except CommandError as exc:
            raise _fail(str(exc), exc.code) from None
        what = f"{row['service']}/{row['slo']}" if row["slo"] else f"{row['service']} (every SLO)"
        silenced = f", Alertmanager silence {row['silence_id']}" if row.get("silence_id") else ""
        console.print(f"exclusion #{row['id']}: {what} {row['start']} .. {row['end']} ({row['reason']}, approved by "
                      f"{escape(row['approved_by'])}{silenced})")

    @budget_app.command("exclusions")
    def budget_exclusions(server: ServerOption = None, token_file: TokenFileOption = None,
                          service: Annotated[str | None, typer.Option("--service")] = None,
                          include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked.")] = False
                          ) -> None:
        """List exclusions."""
        try:
            params: dict[str, str] = {"include_revoked": "true" if include_revoked else "false"}
            if service:
                params["service"] = service
            body = _checked(_request("GET", server, token_file, "/api/v1/budget/exclusions", params=params))
        except CommandError as exc:
            raise _fail(str(exc), exc.code) from None
        table = Table(title="budget exclusions", title_justify="left")
        for column in ("id", "service", "slo", "from", "to", "reason", "approved by", "revoked"):
            table.add_column(column)
        for e in body["exclusions"]:
            table.add_row(str(e["id"]), e["service"], e["slo"] or "(all)", e["start"], e["end"], e["reason"],
                          escape(e["approved_by"]), e["revoked_at"] or "-")
        console.print(table)

    @budget_app.command("revoke")
    def budget_revoke(exclusion_id: Annotated[int, typer.Argument(help="Exclusion id.")],
                      server: ServerOption = None, token_file: TokenFileOption = None) -> None:
        """Revoke an exclusion: its interval counts against the budget again."""
        try:
            row = _checked(_request("DELETE", server, token_file, f"/api/v1/budget/exclusions/{exclusion_id}"))
        except CommandError as exc:
            raise _fail(str(exc), exc.code) from None
        console.print(f"exclusion #{row['id']} revoked at {row['revoked_at']}")
