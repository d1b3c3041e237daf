"""Burn-rate tier maths for 30d, 28d and 7d windows (SRE Workbook, "Alerting on SLOs")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fireline.slo.durations import Duration, DurationError, human_seconds
from fireline.slo.tiers import (
    DEFAULT_TIERS,
    budget_consumed_at_detection,
    decimal_text,
    detection_seconds,
    error_budget,
    time_to_exhaustion_seconds,
)

D = Duration.parse


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("30d", ["14.4", "6", "3", "1"]),
        ("28d", ["13.44", "5.6", "2.8", "0.9333333333333333"]),
        ("7d", ["3.36", "1.4", "0.7", "0.23333333333333334"]),
    ],
)
def test_default_thresholds_follow_budget_fraction_times_window_over_long_window(
    window: str, expected: list[str]
) -> None:
    assert [decimal_text(t.burn_rate_threshold(D(window))) for t in DEFAULT_TIERS] == expected


def test_error_budget_is_exact() -> None:
    assert error_budget(Decimal("99.9")) == Decimal("0.001")
    assert decimal_text(Decimal("14.4") * error_budget(Decimal("99.9"))) == "0.0144"


def test_time_to_exhaustion_at_14_4_on_30d_is_50_hours_not_2() -> None:
    assert time_to_exhaustion_seconds(D("30d"), 14.4) == pytest.approx(50 * 3600)
    assert time_to_exhaustion_seconds(D("30d"), 14.4, budget_remaining=0.5) == pytest.approx(25 * 3600)
    assert time_to_exhaustion_seconds(D("30d"), 0) == float("inf")


@pytest.mark.parametrize("window", ["30d", "28d", "7d"])
def test_budget_consumed_at_detection_equals_the_tier_share_for_any_error_ratio(window: str) -> None:
    budget = Decimal("0.001")
    for tier in DEFAULT_TIERS:
        for share in (1.01, 1.5, 10):
            ratio = min(1.0, float(tier.error_ratio_threshold(D(window), budget)) * share)
            if ratio <= float(tier.error_ratio_threshold(D(window), budget)):
                continue
            consumed = budget_consumed_at_detection(tier, D(window), budget, ratio)
            assert consumed == pytest.approx(float(tier.budget_fraction))


def test_detection_time_for_a_total_outage_on_99_9_over_30d() -> None:
    fast = DEFAULT_TIERS[0]
    # 1h x 1.44% of errors: 51.84 seconds.
    assert detection_seconds(fast, D("30d"), Decimal("0.001"), 1.0) == pytest.approx(51.84)
    assert detection_seconds(fast, D("30d"), Decimal("0.001"), 0.01) == float("inf")


@pytest.mark.parametrize(
    ("text", "ms", "canonical"),
    [("5m", 300_000, "5m"), ("1h30m", 5_400_000, "1h30m"), ("4w", 2_419_200_000, "28d"), ("90s", 90_000, "1m30s")],
)
def test_durations(text: str, ms: int, canonical: str) -> None:
    assert D(text).milliseconds == ms
    assert str(D(text)) == canonical


@pytest.mark.parametrize("text", ["", "5", "m", "1.5h", "30days", "-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError):
        D(text)


def test_human_seconds() -> None:
    assert human_seconds(51.84) == "52s"
    assert human_seconds(50 * 3600) == "50h"
    assert human_seconds(5 * 86400) == "5d"
