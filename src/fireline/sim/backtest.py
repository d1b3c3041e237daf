"""Backtests of whole SLOs: pick the history (scenario, CSV, Prometheus), run the policies, report."""

from __future__ import annotations

from dataclasses import dataclass

from fireline.sim.engine import PolicyResult, SLOTarget, simulate_policies
from fireline.sim.history import SLIHistory, SLIShape
from fireline.sim.policies import Policy
from fireline.sim.report import AlertRow, SweepRow, alert_rows, budget_consumed
from fireline.sim.scenarios import Scenario, build_history, constant_history
from fireline.slo.durations import Duration
from fireline.slo.tiers import detection_seconds
from fireline.spec.models import ServiceSpec, SLOSpec

DEFAULT_SWEEP = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0)
SWEEP_MARGIN = Duration.parse("1h")


def slo_target(service: ServiceSpec, slo: SLOSpec) -> SLOTarget:
    if slo.sli.ratio is not None:
        shape = SLIShape.RATIO
    elif slo.sli.latency is not None:
        shape = SLIShape.LATENCY
    else:
        shape = SLIShape.EVENTS
    return SLOTarget(service.name, slo.name, slo.window, slo.error_budget, shape)


@dataclass(frozen=True)
class Clock:
    scrape_interval: Duration
    evaluation_interval: Duration


def longest_window(policies: list[Policy]) -> Duration:
    return max(p.longest_window for p in policies)


def scenario_backtest(
    target: SLOTarget, policies: list[Policy], scenario: Scenario, simulate_for: Duration, clock: Clock
) -> tuple[SLIHistory, list[PolicyResult], list[AlertRow]]:
    history = build_history(scenario, clean_history=longest_window(policies), simulate_for=simulate_for,
                            scrape_interval=clock.scrape_interval)
    return history, *history_backtest(target, policies, history, clock)


def history_backtest(
    target: SLOTarget, policies: list[Policy], history: SLIHistory, clock: Clock
) -> tuple[list[PolicyResult], list[AlertRow]]:
    results = simulate_policies(history, target, policies, clock.evaluation_interval)
    rows = [row for result in results for row in alert_rows(result, history)]
    return results, rows


def sweep(target: SLOTarget, policies: list[Policy], rates: list[float], clock: Clock) -> list[SweepRow]:
    """Detection time of every tier for constant error rates after a clean history (Workbook fig. 5-5)."""
    clean = longest_window(policies)
    longest_for = max(t.for_ for p in policies for t in p.tiers)
    # Any tier that fires at all fires within its long window (plus for:) of the incident's start.
    simulate_for = Duration(clean.milliseconds + longest_for.milliseconds + SWEEP_MARGIN.milliseconds)
    rows: list[SweepRow] = []
    by_rate = {}
    for rate in rates:
        history = constant_history(rate, clean_history=clean, simulate_for=simulate_for,
                                   scrape_interval=clock.scrape_interval)
        by_rate[rate] = (history, simulate_policies(history, target, policies, clock.evaluation_interval))
    for index, policy in enumerate(policies):
        for tier_index, tier in enumerate(policy.tiers):
            for rate in rates:
                history, results = by_rate[rate]
                tier_result = results[index].tiers[tier_index]
                start = history.reference_ms
                fired = [s.fire_ms for s in tier_result.spans if s.fire_ms >= start]
                first = fired[0] if fired else None
                closed = detection_seconds(tier.as_tier(target.window), target.window, target.error_budget, rate)
                rows.append(SweepRow(
                    policy=policy.name,
                    service=target.service,
                    slo=target.slo,
                    severity=tier.severity.value,
                    tier=tier.key,
                    error_rate=rate,
                    first_fire_seconds=None if first is None else (first - start) / 1000,
                    closed_form_seconds=None if closed == float("inf") else closed + tier.for_.seconds,
                    budget_consumed_at_detection=None if first is None else _rounded(
                        budget_consumed(history, target.window, target.error_budget, first)),
                ))
    return rows


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
