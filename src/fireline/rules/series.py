"""Synthetic raw series that an SLO's SLI queries select: good events, bad events, histograms.

Used to write promtool unit tests for generated rules (and by the simulator's cross-checks):
from the selectors in the SLI queries we derive label sets that match the error selector
(bad events) and ones that match the total selector but not the error one (good events).
Only the common shapes are recognised; for anything else `plan_series` returns None and the
caller says that no behavioural tests could be written.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import promql_parser

from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec, render_window

with warnings.catch_warnings():
    # The regex parser is the one public way to walk a regex; it is deprecated only as a module name.
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse

_GENERIC_VALUES = ("500", "200", "503", "429", "404", "0", "1", "ok", "error", "true", "false", "x", "fireline")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # =, !=, =~, !~
    value: str

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        full = re.fullmatch(self.value, value) is not None
        return full if self.op == "=~" else not full


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def matches(self, metric: str, labels: dict[str, str]) -> bool:
        return metric == self.metric and all(m.matches(labels.get(m.name, "")) for m in self.matchers)


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def selectors(query: str) -> list[Selector]:
    """Distinct vector selectors in a PromQL query (rendered with a 5m window)."""
    expr = promql_parser.parse(render_window(query, Duration.parse("5m")))
    found: list[Selector] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple(
                Matcher(m.name, _OPS[str(m.op)], m.value)
                for m in node.matchers.matchers
                if m.name != "__name__"
            )
            sel = Selector(node.name or "", matchers)
            if sel not in found:
                found.append(sel)
        return True

    promql_parser.walk(expr, visit)
    return found


def sample_matching(regex: str) -> str | None:
    """A short string the (fully anchored) regex matches, or None when it is too exotic to solve."""
    try:
        parsed = sre_parse.parse(regex)
    except re.error:
        return None

    def build(items: Any) -> str | None:
        out = []
        for op, arg in items:
            if op is sre_constants.LITERAL:
                out.append(chr(arg))
            elif op is sre_constants.ANY:
                out.append("0")
            elif op is sre_constants.IN:
                choice = None
                for kind, val in arg:
                    if kind is sre_constants.LITERAL:
                        choice = chr(val)
                        break
                    if kind is sre_constants.RANGE:
                        choice = chr(val[0])
                        break
                    if kind is sre_constants.CATEGORY and val is sre_constants.CATEGORY_DIGIT:
                        choice = "0"
                        break
                    if kind is sre_constants.NEGATE:
                        return None
                if choice is None:
                    return None
                out.append(choice)
            elif op is sre_constants.BRANCH:
                part = build(arg[1][0])
                if part is None:
                    return None
                out.append(part)
            elif op is sre_constants.SUBPATTERN:
                part = build(arg[-1])
                if part is None:
                    return None
                out.append(part)
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                low, _high, sub = arg
                part = build(sub)
                if part is None:
                    return None
                out.append(part * low)
            elif op is sre_constants.AT:
                continue
            else:
                return None
        return "".join(out)

    result = build(parsed)
    if result is None or re.fullmatch(regex, result) is None:
        return None
    return result


def _candidates(matchers: list[Matcher]) -> list[str]:
    values: list[str] = []
    for m in matchers:
        if m.op == "=":
            values.append(m.value)
        elif m.op == "=~":
            sample = sample_matching(m.value)
            if sample is not None:
                values.append(sample)
    values.extend(_GENERIC_VALUES)
    values.append("")
    return values


def _choose(must: list[Matcher], must_not: list[Matcher] | None = None) -> str | None:
    for value in _candidates(must + (must_not or [])):
        if all(m.matches(value) for m in must) and not (must_not and all(m.matches(value) for m in must_not)):
            return value
    return None


def _labels_matching(*sels: Selector) -> dict[str, str] | None:
    by_label: dict[str, list[Matcher]] = {}
    for sel in sels:
        for m in sel.matchers:
            by_label.setdefault(m.name, []).append(m)
    labels = {}
    for name, matchers in sorted(by_label.items()):
        value = _choose(matchers)
        if value is None:
            return None
        if value:
            labels[name] = value
    return labels


@dataclass(frozen=True)
class InputSeries:
    """A counter and how it grows: per minute by the bad-event rate, the good-event rate, or both."""

    metric: str
    labels: dict[str, str]
    counts_bad: bool
    counts_good: bool

    def series_text(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.metric}{{{inner}}}"


def _events_plan(errors_query: str, total_query: str) -> list[InputSeries] | None:
    err_sels, tot_sels = selectors(errors_query), selectors(total_query)
    if len(err_sels) != 1 or len(tot_sels) != 1:
        return None
    err, tot = err_sels[0], tot_sels[0]
    if err.metric == tot.metric:
        bad = _labels_matching(err, tot)
        if bad is None:
            return None
        # Good events: same labels, but one label that the error selector constrains changed so
        # that the total selector still matches and the error one no longer does.
        tot_by = {m.name: [x for x in tot.matchers if x.name == m.name] for m in err.matchers}
        for name, tot_matchers in tot_by.items():
            err_matchers = [m for m in err.matchers if m.name == name]
            value = _choose(tot_matchers, err_matchers)
            if value is None:
                continue
            good = {k: v for k, v in bad.items() if k != name}
            if value:
                good[name] = value
            if tot.matches(tot.metric, good) and not err.matches(err.metric, good):
                return [InputSeries(err.metric, bad, True, False), InputSeries(tot.metric, good, False, True)]
        return None
    bad = _labels_matching(err)
    total = _labels_matching(tot)
    if bad is None or total is None:
        return None
    return [InputSeries(err.metric, bad, True, False), InputSeries(tot.metric, total, True, True)]


def _ratio_parts(query: str) -> tuple[str, str] | None:
    """(errors, total) sub-expressions of an `errors / total` ratio query."""
    expr = promql_parser.parse(render_window(query, Duration.parse("5m")))
    while isinstance(expr, promql_parser.ParenExpr):
        expr = expr.expr
    if isinstance(expr, promql_parser.BinaryExpr) and str(expr.op) == "/":
        return str(expr.lhs), str(expr.rhs)
    return None


def plan_series(slo: SLOSpec) -> list[InputSeries] | None:
    """Raw series that drive the SLO's SLI, or None when its query shape is not recognised."""
    sli = slo.sli
    if sli.events is not None:
        return _events_plan(sli.events.errors, sli.events.total)
    if sli.latency is not None:
        lat = sli.latency
        base = selectors(f"{lat.histogram}_count{lat.selector}")[0]
        labels = _labels_matching(base)
        if labels is None:
            return None
        le = repr(float(lat.threshold)).removesuffix(".0")
        return [
            InputSeries(f"{lat.histogram}_count", labels, True, True),
            InputSeries(f"{lat.histogram}_bucket", {**labels, "le": le}, False, True),
            InputSeries(f"{lat.histogram}_bucket", {**labels, "le": "+Inf"}, True, True),
        ]
    assert sli.ratio is not None
    parts = _ratio_parts(sli.ratio)
    if parts is None:
        return None
    return _events_plan(*parts)
