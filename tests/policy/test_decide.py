"""Tier selection: boundaries, immediate worsening, hysteresis on recovery, unknown keeps what is in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fireline.policy.budget import BudgetReading, BudgetUnknown
from fireline.policy.decide import SLOState, decide, tier_for
from fireline.policy.settings import Hysteresis, PolicySettings
from fireline.policy.windows import BudgetWindow

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = PolicySettings()


def reading(remaining_percent: float, at: datetime = T0) -> BudgetReading:
    # 0.1% error budget, 1e6 events: errors chosen so the budget left is exactly remaining_percent.
    events = 1_000_000.0
    errors = (1 - remaining_percent / 100) * 0.001 * events
    window = BudgetWindow(at - timedelta(days=30), at)
    return BudgetReading("checkout", "availability", at, window, 0.001, errors, events, 0.0, 0.0, [])


def unknown(at: datetime) -> BudgetUnknown:
    return BudgetUnknown("checkout", "availability", at, "Prometheus unreachable")


def run(policy: PolicySettings, state: SLOState, percents: list[float]) -> list[tuple[str | None, bool]]:
    out = []
    at = T0
    for p in percents:
        decision = decide(policy, state, reading(p, at))
        state = decision.state
        out.append((state.tier, decision.transition is not None))
        at += timedelta(minutes=1)
    return out


@pytest.mark.parametrize(("percent", "tier"), [
    (100, "normal"), (75, "normal"), (74.99, "caution"), (50, "caution"), (49.9, "alert"), (25, "alert"),
    (24.9, "critical"), (10, "critical"), (9.99, "lockdown"), (0, "lockdown"), (-250, "lockdown"),
])
def test_tier_boundaries_are_inclusive_lower_bounds(percent: float, tier: str) -> None:
    assert tier_for(POLICY, percent).name == tier


def test_first_measurement_enters_the_tier_of_the_budget() -> None:
    decision = decide(POLICY, SLOState("checkout", "availability"), reading(20))
    assert decision.state.tier == "critical"
    assert decision.transition is not None
    assert decision.transition.from_tier is None
    assert decision.transition.entered == ["critical"]


def test_worse_tier_is_immediate_and_enters_every_tier_crossed() -> None:
    state = SLOState("checkout", "availability", tier="caution", since=T0, transitions=1)
    decision = decide(POLICY, state, reading(5))
    assert decision.transition is not None
    assert decision.transition.entered == ["alert", "critical", "lockdown"]
    assert decision.transition.left == "caution"
    assert decision.state.transitions == 2


def test_boundary_hover_does_not_flap() -> None:
    policy = PolicySettings(hysteresis=Hysteresis(cycles=3))
    state = SLOState("checkout", "availability")
    # Enters critical at 24.5, then hovers just above 25 (inside the 2-point margin): stays critical.
    history = run(policy, state, [24.5, 25.5, 24.8, 26.0, 26.9, 25.1, 24.9])
    assert [tier for tier, _ in history] == ["critical"] * 7
    assert sum(moved for _, moved in history) == 1


def test_recovery_needs_margin_for_n_consecutive_cycles() -> None:
    policy = PolicySettings(hysteresis=Hysteresis(cycles=3))
    history = run(policy, SLOState("checkout", "availability"), [20, 27.5, 28, 26.5, 27.1, 27.2, 27.3])
    # 26.5 breaks the streak (within the margin); three more cycles at >= 27 then recover to alert.
    assert [tier for tier, _ in history] == ["critical"] * 6 + ["alert"]
    assert history[-1][1]


def test_recovery_goes_only_as_far_as_the_worst_cycle_of_the_streak() -> None:
    policy = PolicySettings(hysteresis=Hysteresis(cycles=2))
    history = run(policy, SLOState("checkout", "availability"), [5, 90, 30])
    # 90 alone would qualify for normal, but the streak's second cycle only clears alert (25 + 2).
    assert history[-1] == ("alert", True)


def test_unknown_keeps_tier_and_notifies_once_after_grace() -> None:
    state = decide(POLICY, SLOState("checkout", "availability"), reading(5)).state
    assert state.tier == "lockdown"
    notified = []
    for minute in range(1, 15):
        decision = decide(POLICY, state, unknown(T0 + timedelta(minutes=minute)))
        state = decision.state
        assert decision.transition is None
        assert state.tier == "lockdown"
        notified.append(decision.notify_unknown)
    # grace period 10m from the first unknown cycle (minute 1): told at minute 11, once.
    assert notified.index(True) == 10
    assert notified.count(True) == 1
    back = decide(POLICY, state, reading(5, T0 + timedelta(minutes=20)))
    assert back.state.known and back.transition is None


def test_unknown_before_first_measurement_freezes_nothing() -> None:
    decision = decide(POLICY, SLOState("checkout", "availability"), unknown(T0))
    assert decision.state.tier is None
    assert not decision.state.known


def test_stored_tier_removed_from_policy_is_reentered_by_budget() -> None:
    state = SLOState("checkout", "availability", tier="yellow", since=T0, transitions=4)
    decision = decide(POLICY, state, reading(60))
    assert decision.state.tier == "caution"
    assert decision.transition is not None and decision.transition.left is None
