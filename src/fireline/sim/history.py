"""What the simulator replays: scraped SLI counters, and the incidents that really happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from fireline.sim.promql import FloatArray, IntArray, reset_corrected


class SLIShape(StrEnum):
    """How the generated rules turn the counters into an error ratio (docs/series.md)."""

    EVENTS = "events"  # rate(errors) / rate(total); long windows event-weighted from 5m recordings
    LATENCY = "latency"  # errors = rate(count) - rate(bucket{le}); extrapolated per counter
    RATIO = "ratio"  # an error-ratio query; long windows are a time average of the 5m ratio


@dataclass(frozen=True)
class Incident:
    """A ground-truth span in which users really were hurt: [start, end), milliseconds."""

    start_ms: int
    end_ms: int | None  # None: still going when the history ends


@dataclass(frozen=True)
class SLIHistory:
    """Counter samples as Prometheus stored them: one sample per successful scrape.

    `errors` counts bad events; for latency SLIs the good counter (the le bucket) is total - errors
    and the engine rates it separately, as the generated rules do. Missing scrapes are simply
    absent timestamps; a counter reset is a drop in value.
    """

    timestamps_ms: IntArray
    total: FloatArray
    errors: FloatArray
    incidents: tuple[Incident, ...] = ()
    # Where "time zero" is for reports: the first incident's start, or the first sample.
    origin_ms: int | None = None
    # The first time rules are evaluated; before it nothing is recorded (the rules were not loaded).
    first_eval_ms: int | None = None
    _corrected: dict[str, FloatArray] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        n = self.timestamps_ms.shape[0]
        if self.total.shape[0] != n or self.errors.shape[0] != n:
            raise ValueError("timestamps, total and errors must have the same length")
        if n > 1 and bool(np.any(np.diff(self.timestamps_ms) <= 0)):
            raise ValueError("sample timestamps must be strictly increasing")

    @property
    def start_ms(self) -> int:
        return int(self.timestamps_ms[0]) if self.timestamps_ms.size else 0

    @property
    def end_ms(self) -> int:
        return int(self.timestamps_ms[-1]) if self.timestamps_ms.size else 0

    @property
    def reference_ms(self) -> int:
        if self.origin_ms is not None:
            return self.origin_ms
        if self.incidents:
            return self.incidents[0].start_ms
        return self.start_ms

    @property
    def good(self) -> FloatArray:
        return self.total - self.errors

    def counter(self, name: str) -> tuple[FloatArray, FloatArray]:
        """Raw and reset-corrected values of 'total', 'errors' or 'good' (computed once)."""
        raw: FloatArray = getattr(self, name)
        if name not in self._corrected:
            self._corrected[name] = reset_corrected(raw)
        return raw, self._corrected[name]

    def events_between(self, start_ms: int, end_ms: int) -> tuple[float, float]:
        """Errors and total events counted between the last samples at or before the two times."""
        _, total = self.counter("total")
        _, errors = self.counter("errors")
        i = int(np.searchsorted(self.timestamps_ms, start_ms, side="right")) - 1
        j = int(np.searchsorted(self.timestamps_ms, end_ms, side="right")) - 1
        if j < 0:
            return 0.0, 0.0
        i = max(i, 0)
        return float(errors[j] - errors[i]), float(total[j] - total[i])
