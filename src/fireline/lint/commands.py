"""`fireline lint`: the command line over fireline.lint.runner.

Imports only what linting needs (no SQLAlchemy, FastAPI, numpy, pydantic): in pre-commit and CI the
start-up is paid on every call.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fireline.lint.files import UsageError
from fireline.lint.output import FORMATS, WRITERS, as_sarif
from fireline.slo.durations import Duration, DurationError


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"fireline lint: {message}\n")
    return typer.Exit(2)


def lint_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Rule files, Alertmanager configs, or directories of them (default: the config's paths)."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text, json, github or sarif.")] = "text",
    slo_period: Annotated[
        str | None,
        typer.Option("--slo-period", help="SLO window the budgets refer to (default 30d, or the config's slo_period)."),
    ] = None,
    disable: Annotated[list[str] | None, typer.Option("--disable", help="Check id to skip (repeatable).")] = None,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", help="Project settings (default: .fireline-lint.yaml in the working directory)."),
    ] = None,
    changed_from: Annotated[
        str | None,
        typer.Option("--changed-from", help="Git ref: report only findings on lines changed since it."),
    ] = None,
    prometheus: Annotated[
        str | None, typer.Option("--prometheus", help="Prometheus URL for the live checks (live/*).")
    ] = None,
) -> None:
    """Check Prometheus rule files and Alertmanager configs for mistakes that make alerting fail.

    Exits 1 when any finding is an error, 2 when the input cannot be read.
    """
    from fireline.lint import registry
    from fireline.lint.config import find_config
    from fireline.lint.registry import CHECK_IDS
    from fireline.lint.runner import lint

    if output_format not in FORMATS:
        raise _fail(f"unknown --format {output_format!r}: use one of {', '.join(FORMATS)}")
    unknown = [d for d in disable or [] if d not in CHECK_IDS]
    if unknown:
        raise _fail(f"unknown check id {', '.join(unknown)} for --disable; ids: {', '.join(CHECK_IDS)}")
    period = None
    if slo_period is not None:
        try:
            period = Duration.parse(slo_period)
        except DurationError as exc:
            raise _fail(f"--slo-period: {exc}") from None
        if period.milliseconds == 0:
            raise _fail("--slo-period must be longer than 0s")
    try:
        config = find_config(config_path, CHECK_IDS)
        if not paths and not config.paths:
            raise UsageError("give the files or directories to lint, or list them under paths: in .fireline-lint.yaml")
        changed = None
        if changed_from is not None:
            from fireline.lint.changed import changed_lines

            changed = changed_lines(changed_from)
        result = lint(
            list(paths or []), slo_period=period, disabled=set(disable or []), config=config, changed=changed,
            prometheus=prometheus,
        )
    except UsageError as exc:
        raise _fail(str(exc)) from None
    for note in result.notes:
        sys.stderr.write(f"fireline lint: {note}\n")
    if result.versions:
        used = ", ".join(f"{tool} {version}" for tool, version in sorted(result.versions.items()))
        sys.stderr.write(f"fireline lint: checked with {used}\n")
    if output_format == "sarif":
        checks = registry.all_checks()
        sys.stdout.write(as_sarif(result.findings, checks, result.suppressed_findings, tools=result.versions))
    else:
        sys.stdout.write(WRITERS[output_format](result.findings))
    sys.stderr.write(f"fireline lint: {result.summary()}\n")
    raise typer.Exit(1 if result.has_errors else 0)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
