"""Gate answers for every tier x change class; calendar windows; exclusion clipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fireline.policy.decide import SLOState
from fireline.policy.gate import gate_decision
from fireline.policy.settings import ChangeClass, PolicySettings
from fireline.policy.windows import Interval, budget_window, clip_and_merge, month_start
from fireline.slo.durations import Duration

POLICY = PolicySettings()
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# Default policy: feature frozen from alert down, critical frozen in lockdown, hotfix never.
EXPECTED = {
    "normal": set(), "caution": set(), "alert": {"feature"}, "critical": {"feature"},
    "lockdown": {"feature", "critical"},
}


@pytest.mark.parametrize("tier", list(EXPECTED))
@pytest.mark.parametrize("change", list(ChangeClass))
def test_gate_every_tier_and_change_class(tier: str, change: ChangeClass) -> None:
    states = [SLOState("checkout", "availability", tier=tier, since=T0, remaining=0.3, measured_at=T0),
              SLOState("checkout", "latency", tier="normal", since=T0, remaining=0.9, measured_at=T0)]
    answer = gate_decision(POLICY, "checkout", change, states)
    refused = str(change) in EXPECTED[tier]
    assert answer.allowed is (not refused)
    assert answer.status_code == (423 if refused else 200)
    body = answer.as_dict()
    assert set(body) >= {"allowed", "tier", "reason", "since", "slos"}
    if refused:
        assert body["tier"] == tier and str(change) in body["reason"]
        assert body["since"] == T0.isoformat()


def test_unknown_budget_keeps_freeze_in_force() -> None:
    state = SLOState("checkout", "availability", tier="lockdown", since=T0, remaining=0.05,
                     unknown_since=T0 + timedelta(minutes=3), unknown_reason="Prometheus unreachable")
    refused = gate_decision(POLICY, "checkout", ChangeClass.FEATURE, [state])
    assert refused.allowed is False and refused.status_code == 423
    assert "currently unknown" in refused.reason
    hotfix = gate_decision(POLICY, "checkout", ChangeClass.HOTFIX, [state])
    assert hotfix.allowed is None and hotfix.status_code == 503
    assert "Prometheus unreachable" in hotfix.reason


def test_never_measured_is_unknown_not_frozen() -> None:
    answer = gate_decision(POLICY, "checkout", ChangeClass.FEATURE, [SLOState("checkout", "availability")])
    assert answer.allowed is None and answer.tier == "unknown"


def test_calendar_month_starts_at_local_midnight_of_the_first() -> None:
    at = datetime(2026, 7, 15, 9, 30, tzinfo=UTC)
    assert month_start(at, "UTC") == datetime(2026, 7, 1, tzinfo=UTC)
    # Berlin is UTC+2 in summer: the month began at 22:00 UTC on 30 June.
    assert month_start(at, "Europe/Berlin") == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    # 23:30 UTC on 31 July is already August in Berlin.
    assert month_start(datetime(2026, 7, 31, 23, 30, tzinfo=UTC), "Europe/Berlin") == \
        datetime(2026, 7, 31, 22, 0, tzinfo=UTC)
    window = budget_window(at, Duration.parse("30d"), "month", "UTC")
    assert window.start == datetime(2026, 7, 1, tzinfo=UTC) and window.end == at
    rolling = budget_window(at, Duration.parse("30d"), None, "UTC")
    assert rolling.end - rolling.start == timedelta(days=30)


def test_exclusions_clipped_to_window_and_merged() -> None:
    window = Interval(T0 - timedelta(days=1), T0)
    parts = clip_and_merge([
        Interval(T0 - timedelta(days=3), T0 - timedelta(hours=23)),  # starts before the window
        Interval(T0 - timedelta(hours=10), T0 - timedelta(hours=8)),
        Interval(T0 - timedelta(hours=9), T0 - timedelta(hours=7)),  # overlaps the one before
        Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=2)),  # in the future
    ], window)
    assert parts == [Interval(T0 - timedelta(days=1), T0 - timedelta(hours=23)),
                     Interval(T0 - timedelta(hours=10), T0 - timedelta(hours=7))]


def test_calendar_per_service_and_slo_overrides() -> None:
    policy = PolicySettings.model_validate({
        "calendar": "month", "timezone": "Europe/Berlin",
        "windows": [{"service": "search", "rolling": True},
                    {"service": "search", "slo": "latency", "calendar": "month", "timezone": "UTC"},
                    {"service": "checkout", "timezone": "America/New_York"}]})
    assert policy.window_for("search", "availability") == (None, "Europe/Berlin")
    assert policy.window_for("search", "latency") == ("month", "UTC")
    assert policy.window_for("checkout", "availability") == ("month", "America/New_York")
    assert policy.window_for("other", "x") == ("month", "Europe/Berlin")
