"""PromQL for an SLO's error and total rates over a window, for each SLI kind."""

from __future__ import annotations

from dataclasses import dataclass

from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec, render_window

# Windows up to this length are computed from raw counters: exact rate() semantics for every window
# a default page tier uses (1h, 6h and their short windows), so pages fire when the closed form says.
# Longer ones (1d, 3d, the SLO window) come from the 5m recordings, far cheaper to read over days.
RAW_WINDOW_MAX = Duration.parse("6h")
BASE_WINDOW = Duration.parse("5m")


def le_matcher(threshold: float) -> str:
    """le matcher for a classic histogram bucket; Prometheus 3 writes integral bounds as "1.0"."""
    text = repr(float(threshold))
    if text.endswith(".0"):
        whole = text[:-2]
        return f'le=~"{whole}(\\\\.0)?"'
    return f'le="{text}"'


def _with_matcher(selector: str, matcher: str) -> str:
    inner = selector.strip()[1:-1].strip().rstrip(",")
    return "{" + (f"{inner},{matcher}" if inner else matcher) + "}"


@dataclass(frozen=True)
class SLIQueries:
    """Error and total rate expressions (events, latency) or an error-ratio expression (ratio)."""

    slo: SLOSpec

    @property
    def event_based(self) -> bool:
        return self.slo.sli.ratio is None

    def errors(self, window: Duration) -> str:
        sli = self.slo.sli
        if sli.events is not None:
            return render_window(sli.events.errors, window)
        if sli.latency is not None:
            lat = sli.latency
            bucket = f"{lat.histogram}_bucket{_with_matcher(lat.selector, le_matcher(lat.threshold))}"
            return f"{self._latency_total(window)} - sum(rate({bucket}[{window}]))"
        raise ValueError("ratio SLIs have no separate error count")

    def total(self, window: Duration) -> str:
        sli = self.slo.sli
        if sli.events is not None:
            return render_window(sli.events.total, window)
        if sli.latency is not None:
            return self._latency_total(window)
        raise ValueError("ratio SLIs have no separate total count")

    def _latency_total(self, window: Duration) -> str:
        lat = self.slo.sli.latency
        assert lat is not None
        count = f"{lat.histogram}_count{lat.selector if lat.selector != '{}' else ''}"
        return f"sum(rate({count}[{window}]))"

    def ratio(self, window: Duration) -> str:
        """Error ratio from raw series over the window."""
        if self.slo.sli.ratio is not None:
            return render_window(self.slo.sli.ratio, window)
        # No errors series at all (no 5xx seen yet) must read as 0 errors, not as "no data".
        return f"(\n  {self.errors(window)}\n  or vector(0)\n)\n/\n({self.total(window)})"
