"""The fireline command line: one sub-command per job, the work done in the modules it calls."""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fireline.lazy_cli import LazyGroup
from fireline.spec.errors import SpecError, display_path

if TYPE_CHECKING:
    from rich.console import Console

    from fireline.spec.config import Config
    from fireline.spec.loader import LoadedService

# Start-up is paid on every call (pre-commit, CI): the commands below import their heavy modules
# (bundle generation, pydantic specs, numpy) inside their bodies, and the sub-command modules
# (simulate, lint, serve, ...) load only when used: fireline.lazy_cli lists them.
app = typer.Typer(
    name="fireline",
    help="SLO specs to correct, tested Prometheus alerting and incident response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


class TargetOption(StrEnum):
    """fireline.targets.layout.Target's values, here so building the command imports no generator."""

    PROMETHEUS = "prometheus"
    PROMETHEUS_OPERATOR = "prometheus-operator"
    VMALERT = "vmalert"
    VMRULE = "vmrule"
    MIMIR = "mimir"
    CORTEX = "cortex"
    THANOS = "thanos"


EXIT_USAGE = 2


# Built on first use: rich is not imported by commands that print without it (lint).
@cache
def console() -> Console:
    from rich.console import Console

    # Tables stay readable when piped (rich assumes 80 columns without a terminal).
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err_console().print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def load_specs_or_exit(paths: list[Path]) -> list[LoadedService]:
    from fireline.spec.loader import load_services

    try:
        services = load_services(paths)
    except SpecError as exc:
        for problem in exc.problems:
            err_console().print(f"[red]error:[/red] {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    for loaded in services:
        for warning in loaded.warnings:
            err_console().print(f"[yellow]warning:[/yellow] {escape(str(warning))}", soft_wrap=True)
    return services


def load_config_or_exit(path: Path | None) -> Config | None:
    if path is None:
        return None
    from fireline.spec.loader import load_config

    try:
        return load_config(path)
    except SpecError as exc:
        for problem in exc.problems:
            err_console().print(f"[red]error:[/red] {escape(str(problem))}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None


SpecPaths = Annotated[list[Path], typer.Argument(help="Spec files or folders (fireline, Sloth, OpenSLO).")]


@app.command()
def generate(
    specs: SpecPaths,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the bundle.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="fireline.yaml (kind: Config).")] = None,
    target: Annotated[TargetOption, typer.Option("--target", "--format", help="Where the rules run: the layout "
                                                 "of the rule files (docs/targets.md).")] = TargetOption.PROMETHEUS,
    compat: Annotated[str | None, typer.Option(
        "--compat", help="sloth: also Sloth's labels (sloth_id, sloth_service, sloth_slo, sloth_severity) and "
                         "metadata series, so Sloth's dashboards, routes and silences keep working.")] = None,
) -> None:
    """Write Prometheus rules, promtool tests and the rest of the bundle for the SLO specs."""
    from fireline.bundle import BundleContext, generate_bundle
    from fireline.rules.plan import COMPAT_MODES
    from fireline.targets.layout import RulerLimitError, Target

    if compat is not None and compat not in COMPAT_MODES:
        raise fail(f"--compat {compat!r}: use {', '.join(COMPAT_MODES)}")
    services = load_specs_or_exit(specs)
    ctx = BundleContext(services=services, out=out, config=load_config_or_exit(config),
                        rule_format=Target(target.value), compat=compat)
    try:
        generate_bundle(ctx)
    except RulerLimitError as exc:
        raise fail(str(exc)) from None
    for path in ctx.written:
        console().print(f"wrote {display_path(path)}")
    for note in ctx.notes:
        err_console().print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    slos = sum(len(s.spec.spec.slos) for s in services)
    console().print(f"{len(services)} services, {slos} SLOs -> {display_path(out)}")


@app.command()
def check(out: Annotated[Path, typer.Argument(help="A bundle written by `fireline generate`.")]) -> None:
    """Run `promtool check rules` and `promtool test rules` on a bundle."""
    from fireline.adapters.promtool import ToolMissing
    from fireline.check import BundleError, check_bundle

    try:
        results = check_bundle(out)
    except (BundleError, ToolMissing) as exc:
        raise fail(str(exc)) from None
    failed = [r for r in results if not r.ok]
    for result in results:
        mark = "[green]ok[/green]  " if result.ok else "[red]FAIL[/red]"
        detail = f"  ({result.detail})" if result.detail else ""
        console().print(f"{mark} {result.step:<12} {result.service}{detail}")
        if not result.ok:
            console().print(result.output, markup=False, soft_wrap=True)
    console().print(f"{len(results) - len(failed)}/{len(results)} passed")
    if failed:
        raise typer.Exit(1)


@app.command()
def explain(specs: SpecPaths) -> None:
    """Print, per SLO and tier: thresholds, budget spent at detection, detection and exhaustion times."""
    from rich.table import Table

    from fireline.slo.durations import human_seconds
    from fireline.slo.explain import explain_slo
    from fireline.slo.tiers import decimal_text

    for loaded in load_specs_or_exit(specs):
        for slo in loaded.spec.spec.slos:
            table = Table(
                title=(f"{loaded.spec.name}/{slo.name}: objective {decimal_text(slo.objective)}% over "
                       f"{slo.window}, error budget {float(slo.error_budget):.4g}"),
                title_justify="left",
            )
            for column in ("tier", "severity", "burn rate >", "error ratio >", "budget spent at detection",
                           "detects 100% errors", "detects 1.5x threshold", "budget lasts at threshold"):
                table.add_column(column, justify="right" if column not in ("tier", "severity") else "left")
            for row in explain_slo(slo):
                tier = row.tier
                suffix = f" (for {tier.for_})" if tier.for_.milliseconds else ""
                table.add_row(
                    tier.key + suffix,
                    tier.severity.value,
                    f"{row.burn_rate_threshold:.4g}",
                    f"{row.error_ratio_threshold:.4%}",
                    f"{row.budget_consumed_at_detection:.1%}",
                    human_seconds(row.detection_outage_seconds),
                    human_seconds(row.detection_at_1_5x_seconds),
                    human_seconds(row.exhaustion_at_threshold_seconds),
                )
            if not slo.tiers():
                table.add_row("(no tiers: page and ticket disabled)", "", "", "", "", "", "", "")
            console().print(table)


# simulate, lint, routes, stack, drill, policy gate/budget, serve, capture, incidents, oncall,
# overrides: fireline.lazy_cli.


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
