"""PromQL for an SLO's error and total rates over a window, for each SLI kind, as typed expressions."""

from __future__ import annotations

from dataclasses import dataclass

from fireline.promql import Aggregate, Binary, Call, Expr, Matcher, Number, Paren, Query, VectorSelector, selectors
from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec, render_window

# Windows up to this length are computed from raw counters: exact rate() semantics for every window
# a default page tier uses (1h, 6h and their short windows), so pages fire when the closed form says.
# Longer ones (1d, 3d, the SLO window) come from the 5m recordings, far cheaper to read over days.
RAW_WINDOW_MAX = Duration.parse("6h")
BASE_WINDOW = Duration.parse("5m")


def le_value(threshold: float) -> str:
    """The le label of a classic histogram bucket as Prometheus 2 writes it: 0.25, 1, +Inf."""
    return repr(float(threshold)).removesuffix(".0")


def le_matcher(threshold: float) -> Matcher:
    """le matcher for a classic histogram bucket; Prometheus 3 writes integral bounds as "1.0"."""
    text = repr(float(threshold))
    if text.endswith(".0"):
        return Matcher("le", "=~", f"{text[:-2]}(\\.0)?")
    return Matcher("le", "=", text)


def _sum_rate(selector: VectorSelector, window: Duration, by: tuple[str, ...] = ()) -> Expr:
    return Aggregate("sum", Call("rate", (selector.range(window),)), by)


@dataclass(frozen=True)
class SLIQueries:
    """Error and total rate expressions (events, latency) or an error-ratio expression (ratio)."""

    slo: SLOSpec

    @property
    def event_based(self) -> bool:
        return self.slo.sli.ratio is None

    @property
    def group_by(self) -> tuple[str, ...]:
        return tuple(self.slo.group_by)

    def zero_errors(self, window: Duration) -> Expr:
        """What `errors or ...` falls back to when no error series exists (no failure seen yet): 0.

        An ungrouped SLO has one series, so vector(0) does; a grouped SLO needs a 0 for each group
        that has events, and `total * 0` carries exactly those groups' labels (vector(0) has none and
        would match no group, leaving a group without errors without a ratio at all)."""
        if self.group_by:
            return Paren(Binary("*", self.total(window), Number.of(0)))
        return Call("vector", (Number.of(0),))

    def _latency_selector(self, suffix: str, *extra: Matcher) -> VectorSelector:
        lat = self.slo.sli.latency
        assert lat is not None
        base = selectors(f"m{lat.selector}")[0]
        return VectorSelector.of(f"{lat.histogram}_{suffix}", None, *base.matchers, *extra)

    def good(self, window: Duration) -> Expr | None:
        """Good events, for the SLIs that count them (events with good, latency); else None."""
        sli = self.slo.sli
        if sli.events is not None and sli.events.good is not None:
            return Query(render_window(sli.events.good, window))
        if sli.latency is not None:
            return _sum_rate(self._latency_selector("bucket", le_matcher(sli.latency.threshold)), window,
                             self.group_by)
        return None

    def errors(self, window: Duration) -> Expr:
        sli = self.slo.sli
        if sli.events is not None and sli.events.errors is not None:
            return Query(render_window(sli.events.errors, window))
        good = self.good(window)
        if good is None:
            raise ValueError("ratio SLIs have no separate error count")
        total = self.total(window)
        # Good events absent (counters that appear on the first success, a new service failing
        # everything, a latency threshold that is no bucket bound) must count every event as an
        # error, not leave the difference empty and read as 0 errors: the fallback `total * 0` has
        # the total's labels, so `or` fills in exactly the missing label sets.
        return Binary("-", total, Paren(Binary("or", good, Binary("*", total, Number.of(0)))))

    def total(self, window: Duration) -> Expr:
        sli = self.slo.sli
        if sli.events is not None:
            return Query(render_window(sli.events.total, window))
        if sli.latency is not None:
            return _sum_rate(self._latency_selector("count"), window, self.group_by)
        raise ValueError("ratio SLIs have no separate total count")

    def ratio(self, window: Duration) -> Expr:
        """Error ratio from raw series over the window."""
        if self.slo.sli.ratio is not None:
            return Query(render_window(self.slo.sli.ratio, window))
        # No errors series at all (no 5xx seen yet) must read as 0 errors, not as "no data"; a
        # missing total stays missing, so the ratio has no data rather than 0% errors.
        errors_or_zero = Binary("or", self.errors(window), self.zero_errors(window), before="\n  ")
        return Binary("/", Paren(errors_or_zero, multiline=True), Paren(self.total(window)),
                      before="\n", after="\n")
