"""`fireline simulate`: backtest alerting policies on synthetic incidents or real SLI history."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from fireline.sim.backtest import (
    DEFAULT_SWEEP,
    Clock,
    history_backtest,
    longest_window,
    scenario_backtest,
    slo_target,
    sweep,
)
from fireline.sim.csvinput import CSVValues, read_history_csv, read_incidents_csv
from fireline.sim.engine import PolicyResult
from fireline.sim.errors import SimInputError
from fireline.sim.history import SLIHistory
from fireline.sim.policies import PLAIN_POLICY, SPEC_POLICY, Policy, describe, resolve_policy
from fireline.sim.report import AlertRow, SweepRow, render_alert_table, render_sweep_table, to_json
from fireline.sim.scenarios import TRAFFIC_PRESETS, parse_scenario
from fireline.slo.durations import Duration, DurationError
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from fireline.spec.models import ServiceSpec, SLOSpec


def _duration(text: str, option: str) -> Duration:
    try:
        value = Duration.parse(text)
    except DurationError as exc:
        raise SimInputError(f"{option}: {exc}") from None
    if value.milliseconds <= 0:
        raise SimInputError(f"{option}: must be longer than 0s")
    return value


def parse_rates(text: str) -> list[float]:
    rates = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            rate = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        except ValueError:
            raise SimInputError(f"--sweep: {part!r} is not an error rate (e.g. 0.001,0.01,1 or 0.1%,1%)") from None
        if not 0 < rate <= 1:
            raise SimInputError(f"--sweep: error rate {part} must be above 0 and at most 1")
        rates.append(rate)
    if not rates:
        raise SimInputError("--sweep: give a comma-separated list of error rates, e.g. 0.001,0.01,0.1,1")
    return sorted(set(rates))


def _select(services: list[ServiceSpec], wanted: list[str]) -> list[tuple[ServiceSpec, SLOSpec]]:
    chosen = [(svc, slo) for svc in services for slo in svc.spec.slos
              if not wanted or slo.name in wanted or f"{svc.name}/{slo.name}" in wanted]
    if not chosen:
        known = ", ".join(f"{svc.name}/{slo.name}" for svc in services for slo in svc.spec.slos)
        raise SimInputError(f"--slo {', '.join(wanted)} matches no SLO; the specs have {known}")
    return chosen


def _policies(names: list[str], slo: SLOSpec) -> list[Policy]:
    policies = [resolve_policy(name, slo) for name in (names or [SPEC_POLICY])]
    seen = [p.name for p in policies]
    repeated = sorted({n for n in seen if seen.count(n) > 1})
    if repeated:
        raise SimInputError(f"--policy {repeated[0]} given twice")
    if any(not p.tiers for p in policies):
        empty = next(p.name for p in policies if not p.tiers)
        raise SimInputError(f"policy {empty} has no tiers (the spec disables both page and ticket)")
    return policies


def _clock_text(clock: Clock) -> str:
    return f"scrape every {clock.scrape_interval}, rules evaluated every {clock.evaluation_interval}"


def run_simulate(
    specs: list[Path],
    slos: list[str],
    policy_names: list[str],
    scenario_text: str | None,
    csv_path: Path | None,
    csv_values: CSVValues,
    prometheus_url: str | None,
    since_text: str,
    step_text: str | None,
    incidents_path: Path | None,
    duration_text: str,
    sweep_text: str | None,
    scrape_text: str,
    eval_text: str,
    output_format: str,
    plot_path: Path | None,
    prometheus_headers: dict[str, str] | None = None,
    preset: str | None = None,
) -> str:
    """Everything `fireline simulate` does, returning what it prints (raises SimInputError/SpecError)."""
    if output_format not in ("table", "json"):
        raise SimInputError(f"--format must be table or json, got {output_format!r}")
    if preset is not None:
        if preset not in TRAFFIC_PRESETS:
            raise SimInputError(f"--preset {preset!r}: use one of {', '.join(TRAFFIC_PRESETS)}")
        if scenario_text or csv_path or prometheus_url or sweep_text:
            raise SimInputError("--preset is a scenario of its own: give it without --scenario, --csv, "
                                "--prometheus or --sweep")
        # The preset's traffic, the plain policy beside the guarded one unless --policy chooses.
        scenario_text, duration_text = TRAFFIC_PRESETS[preset].scenario, TRAFFIC_PRESETS[preset].duration
        policy_names = policy_names or [PLAIN_POLICY, SPEC_POLICY]
    sources = [name for name, given in (("--scenario", scenario_text), ("--csv", csv_path),
                                         ("--prometheus", prometheus_url), ("--sweep", sweep_text)) if given]
    if len(sources) > 1:
        raise SimInputError(f"give one of --scenario, --csv, --prometheus or --sweep, not {' and '.join(sources)}")
    if incidents_path is not None and not (csv_path or prometheus_url):
        raise SimInputError("--incidents is for real history (--csv or --prometheus); scenarios know their incidents")
    if plot_path is not None and plot_path.suffix.lower() != ".png":
        raise SimInputError(f"--plot: write a .png file, got {plot_path}")
    clock = Clock(_duration(scrape_text, "--scrape-interval"), _duration(eval_text, "--eval-interval"))
    simulate_for = _duration(duration_text, "--duration")
    scenario = parse_scenario(scenario_text) if scenario_text else None
    incidents = read_incidents_csv(incidents_path) if incidents_path else None
    chosen = _select([loaded.spec for loaded in load_services(specs)], slos)
    if csv_path is not None and len(chosen) > 1:
        names = ", ".join(f"{svc.name}/{slo.name}" for svc, slo in chosen)
        raise SimInputError(f"--csv holds one SLI history; choose one SLO with --slo (found {names})")

    if scenario is None and csv_path is None and prometheus_url is None:
        rates = parse_rates(sweep_text) if sweep_text else list(DEFAULT_SWEEP)
        sweep_rows: list[SweepRow] = []
        for svc, slo in chosen:
            sweep_rows += sweep(slo_target(svc, slo), _policies(policy_names, slo), rates, clock)
        if plot_path is not None:
            raise SimInputError("--plot draws one backtest: give --scenario, --csv or --prometheus")
        if output_format == "json":
            return to_json("sweep", sweep_rows)
        return f"{_clock_text(clock)}; clean history before each constant error rate\n\n" + \
            render_sweep_table(sweep_rows)

    shared_history: SLIHistory | None = None
    if csv_path is not None:
        shared_history = read_history_csv(csv_path, csv_values)
    fetched: dict[str, SLIHistory] = {}
    if prometheus_url is not None:
        from fireline.sim.prometheus_source import RangeWindow, fetch_history, open_client

        step = _duration(step_text, "--step") if step_text else Duration.parse("1m")
        window = RangeWindow.ending_at(int(time.time() * 1000), _duration(since_text, "--since"), step)
        with open_client(prometheus_url, headers=prometheus_headers) as client:
            for svc, slo in chosen:
                fetched[f"{svc.name}/{slo.name}"] = fetch_history(client, slo, window)

    rows: list[AlertRow] = []
    lines: list[str] = []
    plotted: tuple[SLIHistory, list[PolicyResult]] | None = None
    for svc, slo in chosen:
        target = slo_target(svc, slo)
        policies = _policies(policy_names, slo)
        if scenario is not None:
            history, results, slo_rows = scenario_backtest(target, policies, scenario, simulate_for, clock)
            source = f"scenario {scenario.text}, clean history {longest_window(policies)}, then {simulate_for}"
            if preset is not None:
                source = f"preset {preset} ({TRAFFIC_PRESETS[preset].about}): {source}"
        else:
            history = shared_history if shared_history is not None else fetched[f"{svc.name}/{slo.name}"]
            if incidents is not None:
                history = SLIHistory(history.timestamps_ms, history.total, history.errors, incidents)
            results, slo_rows = history_backtest(target, policies, history, clock)
            source = f"{csv_path}" if csv_path else f"{prometheus_url}, last {since_text}"
        rows += slo_rows
        lines.append(f"{svc.name}/{slo.name} (objective {slo.objective}% over {slo.window}): {source}")
        lines += [f"  {describe(p)}" for p in policies]
        if plotted is None:
            plotted = (history, results)
    if plot_path is not None and plotted is not None:
        from fireline.sim.plot import plot_backtest

        plot_backtest(plotted[0], plotted[1], plot_path)
    if output_format == "json":
        return to_json("results", rows)
    return "\n".join([*lines, _clock_text(clock), "", render_alert_table(rows)])


def _prometheus_headers(config_path: Path) -> dict[str, str]:
    from fireline.spec.loader import load_config

    try:
        return load_config(config_path).prometheus.request_headers()
    except ValueError as exc:  # a header file or variable that cannot be read; never its value
        raise SimInputError(str(exc)) from None


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_command(
        specs: Annotated[list[Path], typer.Argument(help="Spec files or directories")],
        slo: Annotated[list[str], typer.Option("--slo", help="Only this SLO (name or service/name); repeatable")] = [],  # noqa: B006
        policy: Annotated[list[str], typer.Option(
            "--policy", help="spec, plain, workbook, sloth, pyrra, single-burn, guide, or a policy YAML file; "
            "repeatable"
        )] = [],  # noqa: B006
        scenario: Annotated[str | None, typer.Option(
            "--scenario", help="KIND:key=value,... with KIND constant, outage, spikes, diurnal, low-traffic, ramp"
        )] = None,
        preset: Annotated[str | None, typer.Option(
            "--preset", help="low-traffic, bursty or trickle: low-traffic cases, plain and guarded policy side by side"
        )] = None,
        csv: Annotated[Path | None, typer.Option("--csv", help="CSV history: timestamp,total,errors")] = None,
        csv_values: Annotated[CSVValues, typer.Option("--csv-values", help="CSV values are counters or rates")] =
            CSVValues.COUNTERS,
        prometheus: Annotated[str | None, typer.Option("--prometheus", help="Replay history from this URL")] = None,
        since: Annotated[str, typer.Option("--since", help="How far back --prometheus replays")] = "30d",
        step: Annotated[str | None, typer.Option("--step", help="Resolution of --prometheus history (1m)")] = None,
        incidents: Annotated[Path | None, typer.Option("--incidents", help="CSV start,end of real incidents")] = None,
        duration: Annotated[str, typer.Option("--duration", help="How long to simulate after the incident starts")]
            = "3d",
        sweep_rates: Annotated[str | None, typer.Option(
            "--sweep", help="Detection times for these constant error rates, e.g. 0.001,0.01,0.1,1"
        )] = None,
        scrape_interval: Annotated[str, typer.Option("--scrape-interval")] = "30s",
        eval_interval: Annotated[str, typer.Option("--eval-interval", help="Rule evaluation interval")] = "30s",
        output_format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
        plot: Annotated[Path | None, typer.Option("--plot", help="Draw the backtest to this PNG")] = None,
        config: Annotated[Path | None, typer.Option(
            "--config", "-c", help="fireline.yaml: its prometheus.tenant and headers go with --prometheus queries"
        )] = None,
    ) -> None:
        """Backtest alerting policies: when would they page, at what budget cost, how noisily.

        With no --scenario, --csv or --prometheus: the detection-time table for constant error rates.
        """
        try:
            headers = _prometheus_headers(config) if config is not None and prometheus is not None else None
            output = run_simulate(
                specs, slo, policy, scenario, csv, csv_values, prometheus, since, step, incidents, duration,
                sweep_rates, scrape_interval, eval_interval, output_format, plot, prometheus_headers=headers,
                preset=preset,
            )
        except SimInputError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except SpecError as exc:
            for problem in exc.problems:
                typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2) from None
        typer.echo(output)
