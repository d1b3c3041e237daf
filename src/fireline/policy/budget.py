"""Error budget remaining from the SLI's own expressions over the budget window, minus exclusions.

The SLI queries are evaluated over the whole window directly (not fireline's recorded `slo:`
series), so the budget is right from the first cycle on a Prometheus that holds months of raw
counters but none of fireline's recordings. For `events` and `latency` SLIs the counts are exact:
errors = (error rate over W) x W seconds, which is Prometheus' increase() over W; all errors over
all events, never an average of ratios. `ratio` SLIs have no counts, so their window ratio is a
time average of the 5m ratio (docs/series.md explains why `events` is preferable).

Every query is a pure function of (promql, time): `QueryFn` hides HTTP from this module. The
window queries use the cycle's one timestamp; an exclusion's queries use the end of the excluded
interval, a time in the past whose answer does not move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fireline.policy.windows import BudgetWindow, Interval
from fireline.rules.sli import SLIQueries
from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec

QueryFn = Callable[[str, datetime], "float | None"]
# Resolution of the subquery that averages a ratio SLI over the window.
RATIO_STEP = Duration.parse("5m")


@dataclass(frozen=True)
class QueryRecord:
    """One query and its answer, kept with the decision in the audit log."""

    purpose: str
    promql: str
    at: datetime
    value: float | None

    def as_dict(self) -> dict[str, object]:
        value = None if self.value is None or math.isnan(self.value) else self.value
        return {"purpose": self.purpose, "promql": self.promql, "at": self.at.isoformat(), "value": value}


@dataclass(frozen=True)
class BudgetReading:
    """What the budget is at one evaluation, and how it was worked out."""

    service: str
    slo: str
    at: datetime
    window: BudgetWindow
    error_budget: float  # 1 - objective, e.g. 0.001
    errors: float  # bad events in the window, exclusions removed (for ratio SLIs: error-seconds)
    events: float  # all events in the window, exclusions removed (for ratio SLIs: seconds)
    excluded_errors: float
    excluded_events: float
    excluded: list[Interval]
    queries: list[QueryRecord] = field(default_factory=list)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.events if self.events > 0 else 0.0

    @property
    def remaining(self) -> float:
        """1 untouched, 0 spent, negative overspent (as the recorded budget remaining)."""
        return 1.0 - self.error_ratio / self.error_budget

    @property
    def remaining_percent(self) -> float:
        return self.remaining * 100


@dataclass(frozen=True)
class BudgetUnknown:
    """The budget cannot be measured now; the reason says why in words an on-call engineer can act on."""

    service: str
    slo: str
    at: datetime
    reason: str
    queries: list[QueryRecord] = field(default_factory=list)


class MeasurementUnavailable(Exception):
    """Raised by a QueryFn when the source (Prometheus) cannot answer at all."""


def _range(seconds: float) -> Duration:
    return Duration(int(seconds) * 1000)


class _Recorder:
    def __init__(self, query: QueryFn) -> None:
        self.query = query
        self.records: list[QueryRecord] = []

    def __call__(self, purpose: str, promql: str, at: datetime) -> float | None:
        value = self.query(promql, at)
        self.records.append(QueryRecord(purpose, promql, at, value))
        return value


def _count(record: _Recorder, purpose: str, rate_promql: str, at: datetime, seconds: float) -> float | None:
    """Events in a range from a per-second rate over it; NaN or nothing is returned as None."""
    rate = record(purpose, rate_promql, at)
    if rate is None or math.isnan(rate):
        return None
    return max(0.0, rate) * seconds


def measure_budget(query: QueryFn, service: str, slo: SLOSpec, window: BudgetWindow,
                   excluded: list[Interval], staleness: Duration) -> BudgetReading | BudgetUnknown:
    """Budget remaining for one SLO; unknown when its events series are absent or stale.

    `excluded` must already be clipped to the window and merged (windows.clip_and_merge).
    Raises MeasurementUnavailable when the query function cannot reach its source.
    """
    sli = SLIQueries(slo)
    record = _Recorder(query)
    at = window.end
    budget = float(slo.error_budget)

    def unknown(reason: str) -> BudgetUnknown:
        return BudgetUnknown(service, slo.name, at, reason, record.records)

    # Fresh data first: without it the window's numbers describe a past that has stopped updating.
    fresh_query = (sli.total(staleness) if sli.event_based else sli.ratio(staleness)).text()
    fresh = record("freshness", fresh_query, at)
    if fresh is None:
        return unknown(f"no {'events' if sli.event_based else 'ratio'} series in the last {staleness}: the SLI's "
                       "series are absent or stale (target down, metric renamed, or no scrape)")
    seconds = int(window.seconds)
    if seconds < 1:
        # The first second of a calendar month: nothing has been spent yet.
        return BudgetReading(service, slo.name, at, window, budget, 0.0, 0.0, 0.0, 0.0, [], record.records)
    span = _range(seconds)

    if sli.event_based:
        events = _count(record, "events", sli.total(span).text(), at, seconds)
        if events is None:
            return unknown(f"the total query returns no series over {span}: the SLI's events series are absent")
        errors = _count(record, "errors", sli.errors(span).text(), at, seconds) or 0.0
        excluded_errors = excluded_events = 0.0
        for interval in excluded:
            length = int(interval.seconds)
            span_text = _range(length)
            ex_events = _count(record, "excluded events", sli.total(span_text).text(), interval.end, length) or 0.0
            ex_errors = _count(record, "excluded errors", sli.errors(span_text).text(), interval.end, length) or 0.0
            excluded_events += min(ex_events, events)
            excluded_errors += min(ex_errors, errors)
        # Extrapolation at range edges can make a part look a hair larger than the whole; clamp.
        events_left = max(0.0, events - excluded_events)
        errors_left = min(events_left, max(0.0, errors - excluded_errors))
        return BudgetReading(service, slo.name, at, window, budget, errors_left, events_left,
                             errors - errors_left, events - events_left, excluded, record.records)

    def average_ratio(purpose: str, length: int, when: datetime) -> float | None:
        promql = f"avg_over_time(({sli.ratio(RATIO_STEP).text()})[{_range(length)}:{RATIO_STEP}])"
        value = record(purpose, promql, when)
        return None if value is None or math.isnan(value) else value

    ratio = average_ratio("ratio", seconds, at)
    if ratio is None:
        return unknown(f"the ratio query returns no series over {span}: the SLI's series are absent")
    # Time-weighted: error-seconds over seconds, so excluded time leaves both sides.
    error_seconds, total_seconds = ratio * seconds, float(seconds)
    excluded_error_seconds = excluded_seconds = 0.0
    for interval in excluded:
        length = int(interval.seconds)
        part = average_ratio("excluded ratio", length, interval.end)
        excluded_seconds += length
        excluded_error_seconds += (part or 0.0) * length
    seconds_left = max(0.0, total_seconds - excluded_seconds)
    error_seconds_left = min(seconds_left, max(0.0, error_seconds - excluded_error_seconds))
    return BudgetReading(service, slo.name, at, window, budget, error_seconds_left, seconds_left,
                         error_seconds - error_seconds_left, total_seconds - seconds_left, excluded, record.records)
