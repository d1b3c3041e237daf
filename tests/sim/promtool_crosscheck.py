"""Run a history through `promtool test rules` with fireline's generated rules, and through the simulator.

Used by the cross-check tests and by bench/simulate_bench.py.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fireline.rules.generate import render_rules_file, rule_groups
from fireline.rules.plan import RulePlan, burn_alert_name
from fireline.sim.backtest import slo_target
from fireline.sim.engine import PolicyResult, Span, evaluation_times, firing_spans, simulate
from fireline.sim.history import SLIHistory
from fireline.sim.policies import Policy, spec_policy
from fireline.sim.promtool_format import SeriesNames, alert_test_file, firing_from_report, input_series
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services
from fireline.spec.models import ServiceSpec
from fireline.yamlout import dump_yaml

EVENTS_SLI = """
        events:
          errors: sum(rate(sim_errors_total[{{.window}}]))
          total: sum(rate(sim_requests_total[{{.window}}]))"""
LATENCY_SLI = """
        latency:
          histogram: sim_latency_seconds
          threshold: 0.5"""
RATIO_SLI = """
        ratio: sum(rate(sim_errors_total[{{.window}}])) / sum(rate(sim_requests_total[{{.window}}]))"""
EVENTS_SERIES = SeriesNames(total="sim_requests_total", errors="sim_errors_total")
LATENCY_SERIES = SeriesNames(total="sim_latency_seconds_count", good='sim_latency_seconds_bucket{le="0.5"}')


def promtool_available() -> bool:
    return shutil.which("promtool") is not None


def write_spec(folder: Path, *, sli: str = EVENTS_SLI, window: str = "30d", objective: str = "99.9",
               tiers: str = "") -> ServiceSpec:
    text = f"""apiVersion: fireline/v1
kind: Service
metadata:
  name: sim
spec:
  team: sre
  slos:
    - name: availability
      objective: {objective}
      window: {window}
      sli:{sli}
{tiers}"""
    path = folder / "sim.yaml"
    path.write_text(text, encoding="utf-8")
    return load_services([path])[0].spec


@dataclass(frozen=True)
class Timelines:
    """Firing spans per tier (long_window/short_window) from each side."""

    promtool: dict[str, list[Span]]
    simulator: dict[str, list[Span]]
    promtool_seconds: float
    simulator_seconds: float


def run_promtool(folder: Path, spec: ServiceSpec, history: SLIHistory, names: SeriesNames,
                 scrape: Duration, evaluation: Duration,
                 keep_firing_for: Duration | None = None) -> tuple[dict[str, list[Span]], float]:
    slo = spec.spec.slos[0]
    if keep_firing_for is None:
        rules = render_rules_file(spec, "sim.yaml")
    else:
        # The generator has no keep_firing_for; add it to the burn alerts to check the state machine.
        groups = rule_groups(spec)
        for rule in (r for group in groups for r in group["rules"]):
            if rule.get("alert") == burn_alert_name(spec, slo):
                rule["keep_firing_for"] = str(keep_firing_for)
        rules = dump_yaml({"groups": groups})
    (folder / "rules.yml").write_text(rules, encoding="utf-8")
    eval_ms = evaluation_times(history, evaluation)
    alertname = burn_alert_name(spec, slo)
    order = [g.name for g in RulePlan.build(spec, slo).groups]
    test = alert_test_file("rules.yml", input_series(history, names, scrape), alertname, eval_ms, scrape, evaluation,
                           order)
    (folder / "test.yml").write_text(test, encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=folder, capture_output=True, text=True,
                          timeout=900, check=False)
    elapsed = time.perf_counter() - started
    report = done.stdout + done.stderr
    if "FAILED" not in report and "SUCCESS" not in report:
        raise RuntimeError(f"promtool did not run the test:\n{report[:2000]}")
    firing = firing_from_report(report, alertname)
    spans: dict[str, list[Span]] = {}
    for tier in slo.tiers():
        key = tier.key
        mask = np.array([any(f"{a.get('long_window')}/{a.get('short_window')}" == key for a in firing.get(t, []))
                         for t in eval_ms.tolist()], dtype=np.bool_)
        spans[key] = firing_spans(mask, eval_ms)
    return spans, elapsed


def run_simulator(spec: ServiceSpec, history: SLIHistory, evaluation: Duration,
                  keep_firing_for: Duration | None = None) -> tuple[dict[str, list[Span]], float]:
    slo = spec.spec.slos[0]
    policy = spec_policy(slo)
    if keep_firing_for is not None:
        policy = Policy(policy.name, tuple(replace(t, keep_firing_for=keep_firing_for) for t in policy.tiers))
    started = time.perf_counter()
    result: PolicyResult = simulate(history, slo_target(spec, slo), policy, evaluation)
    elapsed = time.perf_counter() - started
    return {t.tier.key: t.spans for t in result.tiers}, elapsed


def cross_check(folder: Path, spec: ServiceSpec, history: SLIHistory, names: SeriesNames,
                scrape: Duration, evaluation: Duration, keep_firing_for: Duration | None = None) -> Timelines:
    theirs, promtool_seconds = run_promtool(folder, spec, history, names, scrape, evaluation, keep_firing_for)
    ours, simulator_seconds = run_simulator(spec, history, evaluation, keep_firing_for)
    return Timelines(theirs, ours, promtool_seconds, simulator_seconds)


def span_mismatches(timelines: Timelines, tolerance: Duration) -> list[str]:
    """Differences beyond the tolerance between promtool's and the simulator's firing spans."""
    problems = []
    limit = tolerance.milliseconds
    for key, theirs in timelines.promtool.items():
        ours = timelines.simulator.get(key, [])
        if len(ours) != len(theirs):
            problems.append(f"{key}: promtool fired {len(theirs)} times {theirs}, simulator {len(ours)} {ours}")
            continue
        for a, b in zip(theirs, ours, strict=True):
            if abs(a.fire_ms - b.fire_ms) > limit:
                problems.append(f"{key}: fires at {a.fire_ms / 1000}s in promtool, {b.fire_ms / 1000}s simulated")
            if (a.resolve_ms is None) != (b.resolve_ms is None) or (
                    a.resolve_ms is not None and b.resolve_ms is not None and abs(a.resolve_ms - b.resolve_ms) > limit):
                problems.append(f"{key}: resolves at {a.resolve_ms} in promtool, {b.resolve_ms} simulated")
    return problems
