"""Error budget remaining over the budget window, minus exclusions: from fireline's recordings
when they cover the window, from the SLI's own expressions otherwise.

Recordings first (docs/policy.md, "How the budget is measured"): the budget group already keeps
the SLO window's error ratio, so a rolling window costs one instant read per SLO, not 30 days of
raw samples per cycle. On the day a team adopts fireline the recordings are younger than the
window; the SLI queries are then evaluated over the whole window on the raw series, so the budget
is right from the first cycle. For `events` and `latency` SLIs the counts are exact: errors =
(error rate over W) x W seconds, which is Prometheus' increase() over W; all errors over all
events, never an average of ratios. `ratio` SLIs have no counts, so their window ratio is a time
average of the 5m ratio (docs/series.md explains why `events` is preferable).

Every query is a pure function of (promql, time): `QueryFn` hides HTTP from this module. The
window queries use the cycle's one timestamp; an exclusion's queries use the end of the excluded
interval, a time in the past whose answer does not move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from fireline.policy.windows import BudgetWindow, Interval
from fireline.rules.plan import (
    error_ratio_query,
    recorded_counts_queries,
    recorded_fresh_query,
    recorded_ratio_average_query,
    recordings_present_all_query,
    recordings_present_query,
    window_ratio_all_query,
)
from fireline.rules.sli import BASE_WINDOW, SLIQueries
from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec

QueryFn = Callable[[str, datetime], "float | None"]
# An instant query answered with every series: (labels, value) pairs, for reads of all SLOs at once.
VectorQueryFn = Callable[[str, datetime], "list[tuple[dict[str, str], float]]"]
BudgetSource = Literal["auto", "recorded", "raw"]
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
    # Bad and all events in the window, exclusions removed (for ratio SLIs: error-seconds and seconds);
    # None when the budget is the recorded window ratio, which carries no counts.
    errors: float | None
    events: float | None
    excluded_errors: float
    excluded_events: float
    excluded: list[Interval]
    queries: list[QueryRecord] = field(default_factory=list)
    source: str = "raw"  # raw: the SLI's own series; recorded: fireline's recordings
    recorded_ratio: float | None = None  # the recorded SLO-window error ratio, when read from it

    @property
    def error_ratio(self) -> float:
        if self.errors is None or self.events is None:
            return self.recorded_ratio or 0.0
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


def _value(record: _Recorder, purpose: str, promql: str, at: datetime) -> float | None:
    value = record(purpose, promql, at)
    return None if value is None or math.isnan(value) else value


# How errors and events in a span ending at a time are read: from raw counters or from fireline's
# recordings. Counts returns (errors, events) for event-based SLIs; average the mean error ratio.
Counts = Callable[[str, int, datetime], "tuple[float | None, float | None]"]
Average = Callable[[str, int, datetime], "float | None"]


def _raw_readers(record: _Recorder, sli: SLIQueries) -> tuple[Counts, Average]:
    def counts(purpose: str, seconds: int, at: datetime) -> tuple[float | None, float | None]:
        span = _range(seconds)
        events = _value(record, f"{purpose}events", sli.total(span).text(), at)
        errors = _value(record, f"{purpose}errors", sli.errors(span).text(), at)
        # rate() over the span times its length: Prometheus' increase() over the span.
        return (None if errors is None else max(0.0, errors) * seconds,
                None if events is None else max(0.0, events) * seconds)

    def average(purpose: str, seconds: int, at: datetime) -> float | None:
        promql = f"avg_over_time(({sli.ratio(RATIO_STEP).text()})[{_range(seconds)}:{RATIO_STEP}])"
        return _value(record, f"{purpose}ratio", promql, at)

    return counts, average


# The lead-in of a raw excluded interval's two reads: long enough that rate()'s extrapolation at a
# range's edges (up to a scrape interval at the average rate over the range) is negligible.
EXCLUDED_LEAD_IN_SECONDS = 3600


def _raw_interval_counts(counts: Counts) -> Counts:
    """Errors and events inside a (possibly short) interval from raw counters, as the difference of two
    reads sharing one start an hour before the interval: to its end, and to its beginning.

    rate() over the interval itself extrapolates the increase seen between its first and last samples
    to the whole range: a two-minute interval holding a burst of errors counted 30-40% of them twice
    (the drill's policy item measured it). Over the long ranges the edge extrapolation is a scrape
    interval at the range's average rate, so the difference is exact to a few events."""

    def between(purpose: str, seconds: int, at: datetime) -> tuple[float | None, float | None]:
        lead = EXCLUDED_LEAD_IN_SECONDS
        to_end = counts(f"{purpose}(with the hour before) ", seconds + lead, at)
        to_start = counts(f"{purpose}(the hour before) ", lead, at - timedelta(seconds=seconds))
        errors = None if to_end[0] is None else max(0.0, to_end[0] - (to_start[0] or 0.0))
        events = None if to_end[1] is None else max(0.0, to_end[1] - (to_start[1] or 0.0))
        return errors, events

    return between


def _recorded_readers(record: _Recorder, service: str, slo: str) -> tuple[Counts, Average]:
    def counts(purpose: str, seconds: int, at: datetime) -> tuple[float | None, float | None]:
        errors_q, events_q = recorded_counts_queries(service, slo, _range(seconds))
        events = _value(record, f"{purpose}events (recorded)", events_q, at)
        errors = _value(record, f"{purpose}errors (recorded)", errors_q, at)
        return (None if errors is None else max(0.0, errors), None if events is None else max(0.0, events))

    def average(purpose: str, seconds: int, at: datetime) -> float | None:
        return _value(record, f"{purpose}ratio (recorded)",
                      recorded_ratio_average_query(service, slo, _range(seconds)), at)

    return counts, average


def _from_counts(service: str, slo: SLOSpec, window: BudgetWindow, excluded: list[Interval], counts: Counts,
                 record: _Recorder, source: str, interval_counts: Counts | None = None) -> BudgetReading | None:
    """Errors over events in the window minus the excluded intervals; None when the window has no events series."""
    seconds = int(window.seconds)
    errors, events = counts("", seconds, window.end)
    if events is None:
        return None
    errors = errors or 0.0
    excluded_errors = excluded_events = 0.0
    for interval in excluded:
        ex_errors, ex_events = (interval_counts or counts)("excluded ", int(interval.seconds), interval.end)
        excluded_events += min(ex_events or 0.0, events)
        excluded_errors += min(ex_errors or 0.0, errors)
    # Extrapolation at range edges can make a part look a hair larger than the whole; clamp.
    events_left = max(0.0, events - excluded_events)
    errors_left = min(events_left, max(0.0, errors - excluded_errors))
    return BudgetReading(service, slo.name, window.end, window, float(slo.error_budget), errors_left, events_left,
                         errors - errors_left, events - events_left, excluded, record.records, source)


def _from_average(service: str, slo: SLOSpec, window: BudgetWindow, excluded: list[Interval], average: Average,
                  record: _Recorder, source: str) -> BudgetReading | None:
    """Ratio SLIs: error-seconds over seconds (a time average), so excluded time leaves both sides."""
    seconds = int(window.seconds)
    ratio = average("", seconds, window.end)
    if ratio is None:
        return None
    error_seconds, total_seconds = ratio * seconds, float(seconds)
    excluded_error_seconds = excluded_seconds = 0.0
    for interval in excluded:
        length = int(interval.seconds)
        excluded_seconds += length
        excluded_error_seconds += (average("excluded ", length, interval.end) or 0.0) * length
    seconds_left = max(0.0, total_seconds - excluded_seconds)
    error_seconds_left = min(seconds_left, max(0.0, error_seconds - excluded_error_seconds))
    return BudgetReading(service, slo.name, window.end, window, float(slo.error_budget), error_seconds_left,
                         seconds_left, error_seconds - error_seconds_left, total_seconds - seconds_left, excluded,
                         record.records, source)


def _from_recordings(record: _Recorder, service: str, slo: SLOSpec, window: BudgetWindow,
                     excluded: list[Interval]) -> BudgetReading | None:
    """The budget from fireline's recordings, or None when they do not cover the window.

    Covered means the SLI group was recording at the window's start (the day a team adopts fireline
    it was not: the raw counters answer instead). The SLO's own rolling window without exclusions is
    one instant read of the recorded window ratio, whatever the window's length; calendar windows and
    exclusions read the 5m recordings over their spans (one series, not the SLI's raw series).
    """
    if _value(record, "recordings at window start", recordings_present_query(service, slo.name),
              window.start) is None:
        return None
    if window.calendar is None and int(window.seconds) * 1000 == slo.window.milliseconds and not excluded:
        ratio = _value(record, "recorded window ratio", error_ratio_query(service, slo.name, slo.window), window.end)
        if ratio is None:
            return None
        return BudgetReading(service, slo.name, window.end, window, float(slo.error_budget), None, None, 0.0, 0.0,
                             [], record.records, "recorded", max(0.0, ratio))
    counts, average = _recorded_readers(record, service, slo.name)
    if SLIQueries(slo).event_based:
        return _from_counts(service, slo, window, excluded, counts, record, "recorded")
    return _from_average(service, slo, window, excluded, average, record, "recorded")


def measure_budget(query: QueryFn, service: str, slo: SLOSpec, window: BudgetWindow,
                   excluded: list[Interval], staleness: Duration,
                   source: BudgetSource = "auto") -> BudgetReading | BudgetUnknown:
    """Budget remaining for one SLO; unknown when its events series are absent or stale.

    source: "auto" reads fireline's recordings when they cover the window and the raw counters
    otherwise; "raw" and "recorded" read only one of them. `excluded` must already be clipped to
    the window and merged (windows.clip_and_merge). Raises MeasurementUnavailable when the query
    function cannot reach its source.
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
    if source != "raw":
        recorded = _from_recordings(record, service, slo, window, excluded)
        if recorded is not None:
            return recorded
        if source == "recorded":
            return unknown(f"fireline's recordings of this SLO do not cover {window.describe()} "
                           "(absent at its start or now): load the generated rules, or read the raw counters")
    counts, average = _raw_readers(record, sli)
    if sli.event_based:
        reading = _from_counts(service, slo, window, excluded, counts, record, "raw", _raw_interval_counts(counts))
        if reading is None:
            return unknown(f"the total query returns no series over {span}: the SLI's events series are absent")
        return reading
    reading = _from_average(service, slo, window, excluded, average, record, "raw")
    if reading is None:
        return unknown(f"the ratio query returns no series over {span}: the SLI's series are absent")
    return reading


@dataclass(frozen=True)
class BatchItem:
    service: str
    slo: SLOSpec
    window: BudgetWindow
    excluded: list[Interval]


def _by_identity(samples: list[tuple[dict[str, str], float]]) -> dict[tuple[str, str], float]:
    """value per (service, slo); an SLO with more than one series (two rule files?) is left out."""
    seen: dict[tuple[str, str], list[float]] = {}
    for labels, value in samples:
        key = (labels.get("service", ""), labels.get("slo", ""))
        seen.setdefault(key, []).append(value)
    return {key: values[0] for key, values in seen.items() if len(values) == 1}


def measure_recorded_batch(vector_query: VectorQueryFn, items: list[BatchItem], at: datetime,
                           staleness: Duration) -> dict[tuple[str, str], BudgetReading]:
    """Budgets of every SLO whose rolling window the recordings cover, in 1 + 2 x (distinct windows) queries.

    The per-SLO reads of _from_recordings, done for all SLOs at once: fresh (the 5m ratio recorded
    within the staleness, less the 5 minutes a 5m rate keeps answering after its last raw sample),
    recorded at the window's start, and the recorded window ratio now. Calendar windows, exclusions
    and SLOs missing from any answer are not in the result: the caller reads those one by one.
    """
    wanted = [i for i in items if i.window.calendar is None and not i.excluded and int(i.window.seconds) > 0
              and int(i.window.seconds) * 1000 == i.slo.window.milliseconds]
    if not wanted:
        return {}
    span = Duration(max(staleness.milliseconds - BASE_WINDOW.milliseconds, 60_000))
    fresh_promql = recorded_fresh_query(span)
    fresh = _by_identity(vector_query(fresh_promql, at))
    out: dict[tuple[str, str], BudgetReading] = {}
    for window in sorted({i.slo.window for i in wanted}):
        group = [i for i in wanted if i.slo.window == window]
        start = group[0].window.start
        present_promql, ratio_promql = recordings_present_all_query(), window_ratio_all_query(window)
        present = _by_identity(vector_query(present_promql, start))
        ratios = _by_identity(vector_query(ratio_promql, at))
        for item in group:
            key = (item.service, item.slo.name)
            if key not in fresh or key not in present or key not in ratios or math.isnan(ratios[key]):
                continue
            queries = [QueryRecord("freshness (recorded, all SLOs)", fresh_promql, at, fresh[key]),
                       QueryRecord("recordings at window start (all SLOs)", present_promql, start, present[key]),
                       QueryRecord("recorded window ratio (all SLOs)", ratio_promql, at, ratios[key])]
            out[key] = BudgetReading(item.service, item.slo.name, at, item.window, float(item.slo.error_budget),
                                     None, None, 0.0, 0.0, [], queries, "recorded", max(0.0, ratios[key]))
    return out
