"""The few PromQL functions the generated rules use, vectorised over all evaluation times at once.

Each function takes the samples of one series and the evaluation timestamps, and returns the
value at every evaluation plus a mask saying whether Prometheus would return a sample at all
(an empty result is not 0: `rate()` over fewer than two samples is absent, and an absent series
makes `a / b` and `a and b` absent too). Semantics follow Prometheus 2.42:

* range selection `x[W]` at time t holds the samples with t - W <= ts <= t (closed at both ends;
  Prometheus 3 made the left end open);
* `rate()` is `extrapolatedRate`: the reset-corrected increase between the first and last sample,
  extrapolated to the window edges when the gap to an edge is below 1.1 average sample intervals
  (else by half an interval), never extrapolated below a counter value of zero, divided by W.

Timestamps are int64 milliseconds, as in Prometheus, so window edges compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Sampled:
    """One instant-vector result per evaluation: values, and whether a sample exists at all."""

    values: FloatArray
    present: BoolArray

    def or_zero(self) -> Sampled:
        """`expr or vector(0)`: absent results read as 0."""
        return Sampled(np.where(self.present, self.values, 0.0), np.ones_like(self.present))


def reset_corrected(values: FloatArray) -> FloatArray:
    """Counter values with every reset undone: a drop adds the value before it, as rate() does.

    The increase between samples i and j is then corrected[j] - corrected[i], for any i <= j.
    """
    if values.size == 0:
        return values.copy()
    previous = values[:-1]
    drops = np.where(values[1:] < previous, previous, 0.0)
    return values + np.concatenate(([0.0], np.cumsum(drops)))


def window_bounds(sample_ms: IntArray, eval_ms: IntArray, window_ms: int) -> tuple[IntArray, IntArray]:
    """Index of the first sample and one past the last sample in [t - W, t] for every eval time t."""
    first = np.searchsorted(sample_ms, eval_ms - window_ms, side="left").astype(np.int64)
    end = np.searchsorted(sample_ms, eval_ms, side="right").astype(np.int64)
    return first, end


def rate(
    sample_ms: IntArray,
    values: FloatArray,
    corrected: FloatArray,
    eval_ms: IntArray,
    window_ms: int,
) -> Sampled:
    """`rate(counter[W])` at every evaluation time (Prometheus 2.42 extrapolatedRate, counters)."""
    first, end = window_bounds(sample_ms, eval_ms, window_ms)
    count = end - first
    present = count >= 2
    out = np.zeros(eval_ms.shape, dtype=np.float64)
    if not present.any():
        return Sampled(out, present)
    lo = first[present]
    hi = end[present] - 1
    t = eval_ms[present]
    increase = corrected[hi] - corrected[lo]
    first_value = values[lo]
    to_start = (sample_ms[lo] - (t - window_ms)).astype(np.float64) / 1000
    to_end = (t - sample_ms[hi]).astype(np.float64) / 1000
    sampled = (sample_ms[hi] - sample_ms[lo]).astype(np.float64) / 1000
    average_gap = sampled / (count[present] - 1)
    # A counter cannot have been below zero: stop extrapolating back where it would cross it.
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = sampled * (first_value / increase)
    clamp = (increase > 0) & (first_value >= 0) & (to_zero < to_start)
    to_start = np.where(clamp, to_zero, to_start)
    threshold = average_gap * 1.1
    extrapolated = sampled.copy()
    extrapolated += np.where(to_start < threshold, to_start, average_gap / 2)
    extrapolated += np.where(to_end < threshold, to_end, average_gap / 2)
    factor = extrapolated / sampled
    factor /= window_ms / 1000
    out[present] = increase * factor
    return Sampled(out, present)


def divide(numerator: Sampled, denominator: Sampled) -> Sampled:
    """`a / b` between two label-less vectors: absent unless both exist; 0/0 is NaN as in Go."""
    present = numerator.present & denominator.present
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(present, numerator.values / np.where(present, denominator.values, 1.0), 0.0)
    return Sampled(values, present)


def subtract(left: Sampled, right: Sampled) -> Sampled:
    present = left.present & right.present
    return Sampled(np.where(present, left.values - right.values, 0.0), present)


@dataclass(frozen=True)
class RecordedSeries:
    """A recorded series at the evaluation times, with prefix sums so any window costs O(1) per eval."""

    eval_ms: IntArray
    sums: FloatArray
    counts: IntArray
    nans: IntArray

    @classmethod
    def of(cls, recorded: Sampled, eval_ms: IntArray) -> RecordedSeries:
        nan = recorded.present & np.isnan(recorded.values)
        usable = np.where(recorded.present & ~nan, recorded.values, 0.0)
        return cls(
            eval_ms,
            np.concatenate(([0.0], np.cumsum(usable))),
            np.concatenate(([0], np.cumsum(recorded.present.astype(np.int64)))),
            np.concatenate(([0], np.cumsum(nan.astype(np.int64)))),
        )

    def bounds(self, window_ms: int) -> tuple[IntArray, IntArray]:
        """First and one-past-last evaluation index inside [t - W, t] for each evaluation t.

        Recorded samples sit at the evaluation timestamps themselves, written before later rules
        of the same group read them, so the sample at t is inside its own window.
        """
        n = self.eval_ms.shape[0]
        if n > 1:
            step = int(self.eval_ms[1] - self.eval_ms[0])
            if step > 0 and int(self.eval_ms[-1] - self.eval_ms[0]) == step * (n - 1):
                # A regular grid (always, for rule evaluations): index arithmetic instead of searches.
                index = np.arange(n, dtype=np.int64)
                return np.maximum(index - window_ms // step, 0), index + 1
        return window_bounds(self.eval_ms, self.eval_ms, window_ms)

    def window_sums(self, window_ms: int) -> tuple[FloatArray, IntArray, IntArray]:
        first, end = self.bounds(window_ms)
        return (self.sums[end] - self.sums[first], self.counts[end] - self.counts[first],
                self.nans[end] - self.nans[first])


def sum_over_time(recorded: RecordedSeries, window_ms: int) -> Sampled:
    total, count, nans = recorded.window_sums(window_ms)
    return Sampled(np.where(nans > 0, np.nan, total), count > 0)


def avg_over_time(recorded: RecordedSeries, window_ms: int) -> Sampled:
    total, count, nans = recorded.window_sums(window_ms)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(nans > 0, np.nan, total / np.maximum(count, 1))
    return Sampled(mean, count > 0)
