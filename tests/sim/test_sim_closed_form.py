"""Detection times for constant error rates against the closed form long_window x threshold / error rate.

Windows up to 6h (every default page tier) are raw rate() ratios and agree to one evaluation plus one scrape interval.
Longer windows are sums of the 5m recordings (docs/series.md): each recording looks 5m back, so
the window's leading edge is blurred by half of 5m and detection comes 150s later; the simulator
must show exactly that shift, again to one evaluation plus one scrape interval.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from fireline.rules.sli import BASE_WINDOW, RAW_WINDOW_MAX
from fireline.sim.backtest import Clock, sweep
from fireline.sim.engine import SLOTarget
from fireline.sim.policies import PolicyTier, spec_policy, workbook_policy
from fireline.slo.durations import Duration
from fireline.slo.tiers import DEFAULT_TIERS, detection_seconds
from fireline.spec.models import SLOSpec

RATES = [0.0011, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0]


def _slo(window: str) -> SLOSpec:
    return SLOSpec.model_validate({
        "name": "availability", "objective": 99.9, "window": window,
        "sli": {"events": {"errors": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}},
    })


def _edge_blur(tier: PolicyTier) -> float:
    return BASE_WINDOW.seconds / 2 if tier.long_window > RAW_WINDOW_MAX else 0.0


@pytest.mark.parametrize("window", ["30d", "28d"])
@pytest.mark.parametrize(("scrape", "evaluation"), [("30s", "30s"), ("15s", "1m")])
def test_detection_matches_closed_form(window: str, scrape: str, evaluation: str) -> None:
    slo = _slo(window)
    target = SLOTarget("svc", "availability", slo.window, slo.error_budget)
    clock = Clock(Duration.parse(scrape), Duration.parse(evaluation))
    policy = spec_policy(slo)
    assert [t.burn_rate for t in policy.tiers] == [t.burn_rate_threshold(slo.window) for t in DEFAULT_TIERS]
    rows = sweep(target, [policy], RATES, clock)
    tolerance = clock.scrape_interval.seconds + clock.evaluation_interval.seconds
    checked = 0
    for row in rows:
        tier = next(t for t in policy.tiers if t.key == row.tier)
        closed = detection_seconds(tier.as_tier(slo.window), slo.window, slo.error_budget, row.error_rate)
        if closed == float("inf"):
            assert row.first_fire_seconds is None, f"{row.tier} fired at {row.error_rate} below its threshold"
            continue
        assert row.first_fire_seconds is not None, f"{row.tier} never fired at {row.error_rate}"
        expected = closed + _edge_blur(tier)
        assert abs(row.first_fire_seconds - expected) <= tolerance, (row, expected)
        checked += 1
    assert checked >= 20


def test_28d_thresholds_follow_the_budget_shares() -> None:
    policy = spec_policy(_slo("28d"))
    assert [float(t.burn_rate) for t in policy.tiers] == pytest.approx([13.44, 5.6, 2.8, 0.9333333], rel=1e-6)


def test_threshold_crossing_never_fires_just_below() -> None:
    """An error ratio a hair under the page threshold (0.0144) must never page."""
    slo = _slo("30d")
    target = SLOTarget("svc", "availability", slo.window, Decimal("0.001"))
    policy = workbook_policy(slo.window)
    rows = sweep(target, [policy], [0.0143, 0.0145], Clock(Duration.parse("30s"), Duration.parse("30s")))
    fast = {r.error_rate: r.first_fire_seconds for r in rows if r.tier == "1h/5m"}
    assert fast[0.0143] is None
    assert fast[0.0145] is not None
