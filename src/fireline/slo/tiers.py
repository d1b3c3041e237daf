"""Multi-window multi-burn-rate maths (Google SRE Workbook, "Alerting on SLOs").

burn rate b: how many times faster than "exactly on budget" the budget is being spent.
A tier pages when both its long and short window burn faster than its threshold, where
    burn_rate_threshold = budget_fraction x slo_window / long_window.
All figures here are closed forms for a clean history and a constant error ratio; the
simulator (fireline.sim) adds scrape and evaluation effects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from fireline.slo.durations import Duration


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True)
class Tier:
    """One window pair of a policy."""

    long_window: Duration
    short_window: Duration
    budget_percent: Decimal  # share of the whole SLO-window budget this tier lets burn before firing
    severity: Severity
    for_: Duration = Duration(0)  # noqa: RUF009 - Duration is frozen, sharing it is safe

    @property
    def budget_fraction(self) -> Decimal:
        return self.budget_percent / 100

    def burn_rate_threshold(self, slo_window: Duration) -> Decimal:
        return self.budget_fraction * Decimal(slo_window.milliseconds) / Decimal(self.long_window.milliseconds)

    def error_ratio_threshold(self, slo_window: Duration, error_budget: Decimal) -> Decimal:
        return self.burn_rate_threshold(slo_window) * error_budget

    @property
    def key(self) -> str:
        """Stable name of the tier, e.g. '1h/5m': the long and the short window."""
        return f"{self.long_window}/{self.short_window}"


# The Workbook's recommendation for a 30-day window; other windows keep the budget shares, so their
# thresholds follow the formula (28d: 13.44, 5.6, 2.8, 0.933).
DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(Duration.parse("1h"), Duration.parse("5m"), Decimal(2), Severity.PAGE),
    Tier(Duration.parse("6h"), Duration.parse("30m"), Decimal(5), Severity.PAGE),
    Tier(Duration.parse("1d"), Duration.parse("2h"), Decimal(10), Severity.TICKET),
    Tier(Duration.parse("3d"), Duration.parse("6h"), Decimal(10), Severity.TICKET),
)


def error_budget(objective_percent: Decimal) -> Decimal:
    """Allowed error ratio: 99.9 -> 0.001, exact (no 0.0009999999999999432 float artifact)."""
    return (Decimal(100) - objective_percent) / Decimal(100)


def decimal_text(value: Decimal) -> str:
    """Shortest faithful text for PromQL and labels: 14.4, 6, 0.9333333333333333."""
    as_float = float(value)
    if as_float == int(as_float) and abs(as_float) < 1e15:
        return str(int(as_float))
    return repr(as_float)


def detection_seconds(tier: Tier, slo_window: Duration, error_budget_ratio: Decimal, error_ratio: float) -> float:
    """Time from the start of a constant error ratio to the tier firing, with a clean history.

    The long window's ratio grows as error_ratio x t / long_window; the short one fills first.
    Returns inf when the error ratio never crosses the threshold.
    """
    threshold = float(tier.error_ratio_threshold(slo_window, error_budget_ratio))
    if error_ratio <= threshold or error_ratio <= 0:
        return float("inf")
    return max(tier.long_window.seconds, tier.short_window.seconds) * threshold / error_ratio


def budget_consumed_at_detection(
    tier: Tier, slo_window: Duration, error_budget_ratio: Decimal, error_ratio: float
) -> float:
    """Share of the whole budget spent by the time the tier fires (constant error ratio, clean history)."""
    seconds = detection_seconds(tier, slo_window, error_budget_ratio, error_ratio)
    if seconds == float("inf"):
        return float("nan")
    return error_ratio * seconds / (float(error_budget_ratio) * slo_window.seconds)


def time_to_exhaustion_seconds(slo_window: Duration, burn_rate: float, budget_remaining: float = 1.0) -> float:
    """At burn rate b the remaining budget lasts remaining x window / b (14.4x on 30d: 50h, not 2h)."""
    if burn_rate <= 0:
        return float("inf")
    return max(budget_remaining, 0.0) * slo_window.seconds / burn_rate


# Low traffic (SRE Workbook, "Alerting on SLOs", low-traffic services): a burn-rate tier should need
# several failed requests to fire, not one. With N events in the long window the tier fires at
# error_ratio_threshold x N errors, so N >= MIN_ERRORS_TO_FIRE / error_ratio_threshold events
# make at least MIN_ERRORS_TO_FIRE failures necessary. 99.9% over 30d: 348 events in 1h, 834 in 6h.
MIN_ERRORS_TO_FIRE = 5


def default_min_events(tier: Tier, slo_window: Duration, error_budget_ratio: Decimal) -> int:
    """Events the long window must hold before the tier may fire (the low-traffic guard)."""
    threshold = tier.error_ratio_threshold(slo_window, error_budget_ratio)
    if threshold <= 0:
        return 0
    return math.ceil(Decimal(MIN_ERRORS_TO_FIRE) / threshold)
