"""The simulator against `promtool test rules` with fireline's generated rules: same firing and
resolve times, to one evaluation interval, across scenarios chosen to hit every edge of the
evaluation: counter resets, missing scrapes, spikes, `for:`, `keep_firing_for`, low traffic,
scrapes out of step with evaluations, latency and ratio SLIs, a 28d window."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from promtool_crosscheck import (
    EVENTS_SERIES,
    EVENTS_SLI,
    LATENCY_SERIES,
    LATENCY_SLI,
    RATIO_SLI,
    cross_check,
    promtool_available,
    span_mismatches,
    write_spec,
)

from fireline.sim.promtool_format import SeriesNames
from fireline.sim.scenarios import build_history, parse_scenario
from fireline.slo.durations import Duration

pytestmark = [
    pytest.mark.promtool,
    pytest.mark.skipif(not promtool_available(), reason="promtool is not installed"),
]

FOR_TIERS = """      alerting:
        tiers:
          - {long: 1h, short: 5m, budget_percent: 2, severity: page, for: 5m}
          - {long: 6h, short: 30m, budget_percent: 5, severity: page, for: 2m}
          - {long: 1d, short: 2h, budget_percent: 10, severity: ticket, for: 15m}
"""


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str
    hours: int = 10
    scrape: str = "30s"
    evaluation: str = "1m"
    sli: str = EVENTS_SLI
    series: SeriesNames = EVENTS_SERIES
    tiers: str = ""
    window: str = "30d"
    keep_firing_for: str | None = None


CASES = [
    Case("constant", "constant:error_rate=0.05,start=1h,duration=2h"),
    Case("outage", "outage:start=1h,duration=20m"),
    Case("spikes", "spikes:error_rate=1,length=5m,every=15m,start=1h,duration=3h"),
    Case("counter-resets", "constant:error_rate=0.031,start=1h,duration=3h,restart_every=47m"),
    Case("missing-scrapes", "constant:error_rate=0.05,start=1h,duration=3h,gap_every=50m,gap_length=7m"),
    Case("for-with-flapping", "spikes:error_rate=1,length=4m,every=12m,start=1h,duration=3h", tiers=FOR_TIERS),
    Case("keep-firing-for", "spikes:error_rate=0.5,length=10m,every=40m,start=1h,duration=4h",
         keep_firing_for="10m"),
    Case("low-traffic", "low-traffic:rps=0.05,error_rate=0.3,baseline=0.01,seed=7,start=2h,duration=3h", hours=12),
    Case("diurnal", "diurnal:day_rps=20,night_rps=1,day_error_rate=0.01,night_error_rate=0.2,start=4h,duration=6h",
         hours=14),
    Case("ramp", "ramp:error_rate=0.2,over=2h,start=1h,duration=3h"),
    Case("scrapes-out-of-step", "constant:error_rate=0.04,start=1h,duration=2h", scrape="45s"),
    # Two-minute scrapes leave 2-3 samples in a 5m window: extrapolation decides the 5m ratio.
    Case("sparse-scrapes", "spikes:error_rate=0.3,length=20m,every=50m,start=1h,duration=4h,restart_every=37m",
         scrape="2m"),
    Case("latency-sli", "constant:error_rate=0.05,start=1h,duration=2h,restart_every=100m",
         sli=LATENCY_SLI, series=LATENCY_SERIES),
    Case("ratio-sli", "spikes:error_rate=0.6,length=10m,every=30m,start=1h,duration=3h", sli=RATIO_SLI),
    Case("28d-window", "outage:start=1h,duration=15m", window="28d", evaluation="30s", hours=8),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_simulator_fires_and_resolves_when_promtool_does(case: Case, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, sli=case.sli, window=case.window, tiers=case.tiers)
    scrape, evaluation = Duration.parse(case.scrape), Duration.parse(case.evaluation)
    history = build_history(parse_scenario(case.scenario), clean_history=Duration.parse("1h"),
                            simulate_for=Duration.parse(f"{case.hours}h"), scrape_interval=scrape)
    keep = Duration.parse(case.keep_firing_for) if case.keep_firing_for else None
    timelines = cross_check(tmp_path, spec, history, case.series, scrape, evaluation, keep)
    # A cross-check where nothing fires would prove nothing.
    assert any(timelines.promtool.values()), "promtool saw no alert at all: the scenario is too mild"
    assert span_mismatches(timelines, Duration(0)) == []
