"""`fireline report`: how each SLO did over a month, an ISO week or the last N days."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from fireline.spec.errors import SpecError

if TYPE_CHECKING:
    from fireline.reports.build import Report
    from fireline.reports.period import Period
    from fireline.spec.config import Config
    from fireline.spec.models import ServiceSpec
    from fireline.spec.policy_settings import PolicySettings

Format = Literal["html", "pdf", "md"]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _parse_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--at {text!r} is not an ISO 8601 time such as 2026-12-01T00:00:00Z") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _database_note(url: str) -> str | None:
    """Why the database cannot be read, or None when it can be opened (never creates a SQLite file)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            return (f"no incidents, policy tiers or exclusions: the database {path} does not exist "
                    "(fireline serve creates it; pass --database)")
    return None


def report(
    period: Annotated[str, typer.Option("--period", help="2026-11 (a month), 2026-W48 (an ISO week) or last-30d")],
    specs: Annotated[list[Path] | None, typer.Argument(
        metavar="[SPEC...]", help="spec files or folders; default: the specs fireline.yaml names")] = None,
    config_file: Annotated[Path | None, typer.Option("--config", "-c", help="fireline.yaml")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or md")] = "html",
    out: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default report-PERIOD.FORMAT")]
    = None,
    prometheus: Annotated[str | None, typer.Option("--prometheus", help="overrides prometheus.url")] = None,
    database: Annotated[str | None, typer.Option("--database", help="overrides server.database")] = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="where months and weeks begin; default policy.timezone, else UTC")] = None,
    at: Annotated[str | None, typer.Option("--at", help="report as of this time (ISO 8601); default now")] = None,
) -> None:
    """How each SLO did over a month, a week or the last N days: HTML, PDF or Markdown.

    Per service and SLO: compliance against the objective, budget consumed and a burn-down chart,
    incidents with time to acknowledge and resolve, pages per week, time in each policy tier, exclusions.
    """
    from fireline.reports.period import PeriodError, parse_period

    if fmt not in ("html", "pdf", "md"):
        raise _fail(f"--format {fmt!r}: use html, pdf or md")
    try:
        config = _load_config(config_file)
    except SpecError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    policy = config.policy if config is not None else None
    zone = timezone or (policy.timezone if policy is not None else "UTC")
    try:
        from fireline.spec.policy_settings import check_timezone

        check_timezone(zone)
        chosen = parse_period(period, _parse_at(at), zone)
    except (PeriodError, ValueError) as exc:
        raise _fail(str(exc)) from None
    services = _load_specs(specs, config)
    target = out or Path(f"report-{chosen.label}.{fmt}")
    result = _build(services, chosen, config, prometheus, database)
    written = _render(result, fmt, target)  # type: ignore[arg-type]
    typer.echo(f"wrote {written}")


def _load_config(path: Path | None) -> Config | None:
    from fireline.spec.loader import load_config

    if path is None:
        return None
    return load_config(path)


def _load_specs(specs: list[Path] | None, config: Config | None) -> list[ServiceSpec]:
    from fireline.policy.server import spec_paths
    from fireline.spec.loader import load_services

    paths = list(specs or [])
    if not paths and config is not None:
        paths = spec_paths(config)
    if not paths:
        raise _fail("no specs: name them (fireline report --period P SPEC...) or list them under specs: "
                    "in fireline.yaml (-c)")
    try:
        return [s.spec for s in load_services(paths)]
    except SpecError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _build(services: list[ServiceSpec], period: Period, config: Config | None, prometheus: str | None,
           database: str | None) -> Report:
    from fireline.clients.prometheus import PrometheusClient, PrometheusUnavailable
    from fireline.reports.build import build_report
    from fireline.server.db import Database, StorageUnavailable

    policy: PolicySettings | None = config.policy if config is not None else None
    settings = config.prometheus if config is not None else None
    client: PrometheusClient | None = None
    try:
        if prometheus is not None:
            client = PrometheusClient(prometheus, headers=settings.request_headers() if settings is not None else {})
        elif settings is not None and settings.url is not None:
            client = PrometheusClient.from_settings(settings)
    except (PrometheusUnavailable, ValueError) as exc:  # a header file that cannot be read: named, never shown
        raise _fail(str(exc)) from None
    url = database or (config.server.database if config is not None else None)
    note = ("no incidents, policy tiers or exclusions: no database (pass -c fireline.yaml or --database)"
            if url is None else _database_note(url))
    try:
        if url is None or note is not None:
            return build_report(services, period, client=client, session=None, policy=policy, database_note=note)
        db = Database(url)
        try:
            with db.transaction() as session:
                return build_report(services, period, client=client, session=session, policy=policy)
        except StorageUnavailable as exc:
            return build_report(services, period, client=client, session=None, policy=policy,
                                database_note=("no incidents, policy tiers or exclusions: the database cannot be "
                                               f"read ({exc})"))
        finally:
            db.dispose()
    finally:
        if client is not None:
            client.close()


def _render(result: Report, fmt: Format, target: Path) -> Path:
    from fireline.reports.render import ReportRenderError, render_html, render_markdown, render_pdf

    try:
        if fmt == "html":
            target.write_text(render_html(result), encoding="utf-8")
        elif fmt == "md":
            assets = target.with_name(f"{target.stem}-charts")
            target.write_text(render_markdown(result, assets, assets.name), encoding="utf-8")
        else:
            render_pdf(result, target)
    except ReportRenderError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def register(app: typer.Typer) -> None:
    app.command("report")(report)
