"""Budget windows (rolling or calendar month) and exclusion intervals clipped to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from fireline.slo.durations import Duration


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class BudgetWindow(Interval):
    """The interval whose errors and events count against the budget at one evaluation."""

    calendar: Literal["month"] | None = None
    timezone: str = "UTC"

    def describe(self) -> str:
        if self.calendar == "month":
            return f"calendar month since {self.start.isoformat()} ({self.timezone})"
        return f"rolling {Duration.of_seconds(self.seconds)}"


def month_start(at: datetime, timezone: str) -> datetime:
    """Midnight of the 1st of at's month in the given zone, as UTC (DST-correct through zoneinfo)."""
    local = at.astimezone(ZoneInfo(timezone))
    first = datetime(local.year, local.month, 1, tzinfo=ZoneInfo(timezone))
    return first.astimezone(UTC)


def budget_window(at: datetime, slo_window: Duration, calendar: Literal["month"] | None,
                  timezone: str) -> BudgetWindow:
    # Whole seconds: PromQL ranges are written in seconds and every query of the cycle must agree.
    at = at.astimezone(UTC).replace(microsecond=0)
    if calendar == "month":
        return BudgetWindow(month_start(at, timezone), at, calendar, timezone)
    return BudgetWindow(at - timedelta(milliseconds=slo_window.milliseconds), at, None, timezone)


def clip_and_merge(intervals: list[Interval], window: Interval) -> list[Interval]:
    """Parts of the intervals inside the window, overlaps merged, so no event is subtracted twice."""
    clipped = sorted(
        (Interval(max(i.start, window.start), min(i.end, window.end)) for i in intervals),
        key=lambda i: i.start,
    )
    merged: list[Interval] = []
    for interval in clipped:
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    # Whole seconds, as for the window itself.
    return [Interval(i.start.replace(microsecond=0), i.end.replace(microsecond=0)) for i in merged
            if int(Interval(i.start.replace(microsecond=0), i.end.replace(microsecond=0)).seconds) > 0]
