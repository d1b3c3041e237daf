"""Evaluate a policy over an SLI history the way Prometheus evaluates fireline's generated rules.

The rule group of one SLO (fireline.rules.plan) records, at every evaluation:
  * windows the plan reads from raw counters (Source.RAW): `(errors[W] or vector(0)) / total[W]` with rate();
  * the 5m error rate (or vector(0)) and the 5m total rate;
  * windows the plan reads from recordings (Source.RECORDED): `sum_over_time(errors5m[W]) /
    sum_over_time(total5m[W])` over those 5m recordings (ratio SLIs: `avg_over_time(ratio5m[W])`);
  * windows the plan reads from the hourly tier (Source.HOURLY: 1d, 3d, the SLO window): computed
    here as the same event-weighted sum of the 5m recordings, which is what the hourly counts add
    up to (whole hours of mean 5m rates, plus the parts of hours at both ends; docs/series.md);
and then alerts on `long / budget > burn and short / budget > burn`, with the low-traffic guard
`avg_over_time(total5m[long]) * long_seconds >= min_events` when the tier has one. Recording rules
come first in the group, so an alert at time t reads the ratios recorded at t itself.

The trickle ticket counts from the raw counters: `(errors[W] or vector(0)) * W_seconds >= N and
total[W] * W_seconds < guard`. Prometheus evaluates it in the budget group (every 2m30s), the
simulator at every evaluation: its first fire may be up to one budget-group interval earlier here.
So do tiers whose long window is hourly (the 1d and 3d tickets), which the budget group decides.
Ratio SLIs have no event counts, so neither the guard nor the trickle applies to them.

Everything is computed for all evaluation times at once; only the alert state machine (pending,
`for:`, `keep_firing_for`) walks the runs of true conditions, which are few.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from fireline.rules.plan import Source, window_source
from fireline.rules.sli import BASE_WINDOW
from fireline.sim.history import SLIHistory, SLIShape
from fireline.sim.policies import Policy, PolicyTier, Trickle
from fireline.sim.promql import (
    BoolArray,
    FloatArray,
    IntArray,
    RecordedSeries,
    Sampled,
    avg_over_time,
    divide,
    rate,
    subtract,
    sum_over_time,
)
from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity, decimal_text


@dataclass(frozen=True)
class SLOTarget:
    """What the engine needs to know of one SLO."""

    service: str
    slo: str
    window: Duration
    error_budget: Decimal
    shape: SLIShape = SLIShape.EVENTS


def evaluation_times(history: SLIHistory, interval: Duration) -> IntArray:
    start = history.first_eval_ms if history.first_eval_ms is not None else history.start_ms
    step = interval.milliseconds
    if step <= 0:
        raise ValueError("evaluation interval must be positive")
    count = max((history.end_ms - start) // step + 1, 0)
    return start + step * np.arange(count, dtype=np.int64)


class ErrorRatios:
    """The recorded error ratio over each window of one SLO at every evaluation time."""

    def __init__(self, history: SLIHistory, shape: SLIShape, eval_ms: IntArray) -> None:
        self.history = history
        self.shape = shape
        self.eval_ms = eval_ms
        self._rates: dict[tuple[str, int], Sampled] = {}
        self._ratios: dict[int, Sampled] = {}
        self._recorded: dict[str, RecordedSeries] = {}

    def _rate(self, counter: str, window_ms: int) -> Sampled:
        key = (counter, window_ms)
        if key not in self._rates:
            raw, corrected = self.history.counter(counter)
            self._rates[key] = rate(self.history.timestamps_ms, raw, corrected, self.eval_ms, window_ms)
        return self._rates[key]

    def errors(self, window_ms: int) -> Sampled:
        if self.shape is SLIShape.LATENCY:
            # sum(rate(x_count[W])) - sum(rate(x_bucket{le}[W])): each counter extrapolated on its own.
            return subtract(self._rate("total", window_ms), self._rate("good", window_ms))
        return self._rate("errors", window_ms)

    def total(self, window_ms: int) -> Sampled:
        return self._rate("total", window_ms)

    @property
    def event_based(self) -> bool:
        return self.shape is not SLIShape.RATIO

    def events_over(self, window: Duration) -> Sampled:
        """The guard's count: the mean of the recorded 5m total rate over the window, times the window;
        for an hourly window the events the hourly tier counted (slo:sli_total:count<W>), which over a
        history younger than the window is the events there are, not the mean stretched to the window."""
        if window_source(window) is Source.HOURLY:
            step = float(np.median(np.diff(self.eval_ms))) / 1000 if self.eval_ms.shape[0] > 1 else 0.0
            summed = sum_over_time(self.recorded("total"), window.milliseconds)
            return Sampled(summed.values * step, summed.present)
        mean = avg_over_time(self.recorded("total"), window.milliseconds)
        return Sampled(mean.values * window.seconds, mean.present)

    def counted(self, window: Duration) -> tuple[Sampled, Sampled]:
        """The trickle's counts from the raw counters: (errors or 0) x window and total x window."""
        errors, total = self.errors(window.milliseconds).or_zero(), self.total(window.milliseconds)
        return (Sampled(errors.values * window.seconds, errors.present),
                Sampled(total.values * window.seconds, total.present))

    def recorded(self, name: str) -> RecordedSeries:
        """The 5m recordings that long windows sum: errors (or vector(0)), total, or the ratio."""
        if name not in self._recorded:
            base = BASE_WINDOW.milliseconds
            series = {
                "errors": lambda: self.errors(base).or_zero(),
                "total": lambda: self.total(base),
                "ratio": lambda: self.ratio(BASE_WINDOW),
            }[name]()
            self._recorded[name] = RecordedSeries.of(series, self.eval_ms)
        return self._recorded[name]

    def ratio(self, window: Duration) -> Sampled:
        ms = window.milliseconds
        if ms not in self._ratios:
            self._ratios[ms] = self._compute(window)
        return self._ratios[ms]

    def _compute(self, window: Duration) -> Sampled:
        ms = window.milliseconds
        if self.shape is SLIShape.RATIO:
            if window_source(window) is Source.RAW:
                return divide(self.errors(ms), self.total(ms))
            return avg_over_time(self.recorded("ratio"), ms)
        if window_source(window) is Source.RAW:
            return divide(self.errors(ms).or_zero(), self.total(ms))
        # RECORDED and HOURLY alike: the hourly counts add up to this sum (docs/series.md).
        return divide(sum_over_time(self.recorded("errors"), ms), sum_over_time(self.recorded("total"), ms))

    def burn_rate(self, window: Duration, error_budget: Decimal) -> Sampled:
        """`ratio_rate<W> / budget`, with the budget as the rules print it."""
        ratio = self.ratio(window)
        with np.errstate(divide="ignore", invalid="ignore"):
            return Sampled(ratio.values / float(decimal_text(error_budget)), ratio.present)


def alert_firing(condition: BoolArray, eval_ms: IntArray, for_ms: int, keep_firing_ms: int) -> BoolArray:
    """Firing state at each evaluation of an alert whose expression is `condition` (rules/alerting.go).

    A new alert is pending at its first true evaluation and fires once ts - activeAt >= for; one
    false evaluation drops a pending alert. A firing alert stays firing through false evaluations
    while ts - (first false ts) < keep_firing_for, and carries on firing if the condition returns.
    """
    n = condition.shape[0]
    firing = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return firing
    edges = np.diff(np.concatenate(([0], condition.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # first false evaluation after each run
    keep_end = -1  # index up to which (inclusive) a kept alert is still firing before re-evaluation
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if start <= keep_end:
            fire_from: int | None = start
        else:
            waited = eval_ms[start:end] - eval_ms[start]
            first = start + int(np.searchsorted(waited, for_ms, side="left"))
            fire_from = first if first < end else None
        if fire_from is None:
            keep_end = -1
            continue
        firing[fire_from:end] = True
        if keep_firing_ms > 0 and end < n:
            stop = int(np.searchsorted(eval_ms, eval_ms[end] + keep_firing_ms, side="left"))
            firing[end:stop] = True
            # The alert is still firing at stop - 1, so a run starting at stop continues it.
            keep_end = stop
        else:
            keep_end = -1
    return firing


@dataclass(frozen=True)
class Span:
    """One firing episode: a notification goes out at fire_ms; resolve_ms None if still firing."""

    fire_ms: int
    resolve_ms: int | None


def firing_spans(firing: BoolArray, eval_ms: IntArray) -> list[Span]:
    edges = np.diff(np.concatenate(([0], firing.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    spans = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        spans.append(Span(int(eval_ms[s]), int(eval_ms[e]) if e < firing.shape[0] else None))
    return spans


@dataclass
class TierResult:
    tier: PolicyTier
    condition: BoolArray
    firing: BoolArray
    spans: list[Span]
    burn_rates: dict[Duration, Sampled] = field(default_factory=dict)


@dataclass
class TrickleResult:
    trickle: Trickle
    firing: BoolArray
    spans: list[Span]


@dataclass
class PolicyResult:
    policy: Policy
    target: SLOTarget
    eval_ms: IntArray
    tiers: list[TierResult]
    trickle: TrickleResult | None = None

    def severity_firing(self, severity: Severity) -> BoolArray | None:
        """Any alert of the severity firing (the trickle is a ticket): what the person on call experiences."""
        chosen = [t.firing for t in self.tiers if t.tier.severity is severity]
        if severity is Severity.TICKET and self.trickle is not None:
            chosen.append(self.trickle.firing)
        if not chosen:
            return None
        combined: BoolArray = np.logical_or.reduce(chosen)
        return combined


def evaluate_tier(ratios: ErrorRatios, target: SLOTarget, tier: PolicyTier) -> TierResult:
    threshold = float(decimal_text(tier.burn_rate))
    condition = np.ones(ratios.eval_ms.shape, dtype=np.bool_)
    burn_rates = {}
    for window in tier.windows:
        burn = ratios.burn_rate(window, target.error_budget)
        burn_rates[window] = burn
        # NaN (no traffic: 0/0) compares false, as in PromQL.
        with np.errstate(invalid="ignore"):
            condition &= burn.present & (burn.values > threshold)
    if tier.min_events and ratios.event_based:
        events = ratios.events_over(tier.long_window)
        condition &= events.present & (events.values >= tier.min_events)
    firing = alert_firing(condition, ratios.eval_ms, tier.for_.milliseconds, tier.keep_firing_for.milliseconds)
    return TierResult(tier, condition, firing, firing_spans(firing, ratios.eval_ms), burn_rates)


def evaluate_trickle(ratios: ErrorRatios, trickle: Trickle) -> TrickleResult:
    errors, events = ratios.counted(trickle.window)
    with np.errstate(invalid="ignore"):
        condition = (errors.present & (errors.values >= trickle.min_errors)
                     & events.present & (events.values < trickle.below_events))
    firing = alert_firing(condition, ratios.eval_ms, 0, 0)
    return TrickleResult(trickle, firing, firing_spans(firing, ratios.eval_ms))


def evaluate_policy(ratios: ErrorRatios, target: SLOTarget, policy: Policy) -> PolicyResult:
    trickle = evaluate_trickle(ratios, policy.trickle) if policy.trickle and ratios.event_based else None
    return PolicyResult(policy, target, ratios.eval_ms, [evaluate_tier(ratios, target, t) for t in policy.tiers],
                        trickle)


def simulate(history: SLIHistory, target: SLOTarget, policy: Policy, evaluation_interval: Duration) -> PolicyResult:
    eval_ms = evaluation_times(history, evaluation_interval)
    return evaluate_policy(ErrorRatios(history, target.shape, eval_ms), target, policy)


def simulate_policies(
    history: SLIHistory, target: SLOTarget, policies: list[Policy], evaluation_interval: Duration
) -> list[PolicyResult]:
    """Several policies over one history, sharing the rates and ratios they have in common."""
    eval_ms = evaluation_times(history, evaluation_interval)
    ratios = ErrorRatios(history, target.shape, eval_ms)
    return [evaluate_policy(ratios, target, p) for p in policies]


def error_ratio_series(history: SLIHistory, target: SLOTarget, eval_ms: IntArray, window: Duration) -> FloatArray:
    """The recorded error ratio over one window (NaN where absent), for plots."""
    ratio = ErrorRatios(history, target.shape, eval_ms).ratio(window)
    return np.where(ratio.present, ratio.values, np.nan)
