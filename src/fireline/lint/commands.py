"""`fireline lint`: the command line over fireline.lint.runner."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fireline.lint.files import UsageError
from fireline.lint.output import FORMATS
from fireline.lint.registry import CHECK_IDS
from fireline.lint.runner import lint
from fireline.slo.durations import Duration, DurationError


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"fireline lint: {message}\n")
    return typer.Exit(2)


def lint_command(
    paths: Annotated[list[Path], typer.Argument(help="Rule files, Alertmanager configs, or directories of them.")],
    output_format: Annotated[str, typer.Option("--format", help="text, json or github.")] = "text",
    slo_period: Annotated[str, typer.Option("--slo-period", help="SLO window the budgets refer to.")] = "30d",
    disable: Annotated[list[str] | None, typer.Option("--disable", help="Check id to skip (repeatable).")] = None,
) -> None:
    """Check Prometheus rule files and Alertmanager configs for mistakes that make alerting fail.

    Exits 1 when any finding is an error, 2 when the input cannot be read.
    """
    if output_format not in FORMATS:
        raise _fail(f"unknown --format {output_format!r}: use one of {', '.join(FORMATS)}")
    unknown = [d for d in disable or [] if d not in CHECK_IDS]
    if unknown:
        raise _fail(f"unknown check id {', '.join(unknown)} for --disable; ids: {', '.join(CHECK_IDS)}")
    try:
        period = Duration.parse(slo_period)
    except DurationError as exc:
        raise _fail(f"--slo-period: {exc}") from None
    if period.milliseconds == 0:
        raise _fail("--slo-period must be longer than 0s")
    try:
        result = lint(paths, slo_period=period, disabled=set(disable or []))
    except UsageError as exc:
        raise _fail(str(exc)) from None
    for note in result.notes:
        sys.stderr.write(f"fireline lint: {note}\n")
    sys.stdout.write(FORMATS[output_format](result.findings))
    raise typer.Exit(1 if result.has_errors else 0)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
