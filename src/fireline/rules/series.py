"""Synthetic raw series that an SLO's SLI queries select: good events, bad events, histograms.

Used to write promtool unit tests for generated rules (and by the simulator's cross-checks):
from the selectors in the SLI queries we derive label sets that match the error selector
(bad events) and ones that match the total selector but not the error one (good events).
Recognised shapes: errors and total, good and total (also written as `total - good`), latency
histograms, ratios `errors / total` and `1 - good / total`, over counters (rate, increase) or
gauges that count events per sample (sum_over_time, avg_over_time). For anything else
`plan_series` returns None and the caller tests the alert logic through a stand-in SLI.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser

from fireline.promql import Matcher, Selector
from fireline.promql import selectors as _selectors
from fireline.rules.sli import le_value
from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec, render_window

with warnings.catch_warnings():
    # The regex parser is the one public way to walk a regex; it is deprecated only as a module name.
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse

_GENERIC_VALUES = ("500", "200", "503", "429", "404", "0", "1", "ok", "error", "true", "false", "x", "fireline")


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
    """A raw series and how it grows each minute: by the bad-event count, the good-event count, or both.

    A counter accumulates (rate/increase read it); a gauge holds the minute's count itself
    (sum_over_time/avg_over_time read it), as OpenSLO's `counter: false` metrics do.
    """

    metric: str
    labels: dict[str, str]
    counts_bad: bool
    counts_good: bool
    gauge: bool = False

    def series_text(self) -> str:
        return Selector(self.metric, tuple(Matcher(k, "=", v) for k, v in sorted(self.labels.items()))).text()


COUNTER_FUNCTIONS = frozenset({"rate", "increase", "irate"})
GAUGE_FUNCTIONS = frozenset({"sum_over_time", "avg_over_time"})
# Shapes whose value depends on sample values, not on event counts: not synthesisable from counts.
_VALUE_DEPENDENT = frozenset({"<", "<=", ">", ">=", "==", "!="})


def _tree(query: str) -> Any:
    return promql_parser.parse(render_window(query, Duration.parse("5m")))


def _unwrap(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _is_zero_vector(node: Any) -> bool:
    node = _unwrap(node)
    return (isinstance(node, promql_parser.Call) and node.func.name == "vector" and len(node.args) == 1
            and isinstance(_unwrap(node.args[0]), promql_parser.NumberLiteral) and _unwrap(node.args[0]).val == 0)


def _strip_or_zero(node: Any) -> Any:
    """`x or vector(0)` (with or without on()) reads as x for synthesis: absent means no events."""
    node = _unwrap(node)
    while isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "or" and _is_zero_vector(node.rhs):
        node = _unwrap(node.lhs)
    return node


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kind = type(current).__name__
        if kind == "BinaryExpr":
            stack.extend((current.lhs, current.rhs))
        elif kind in ("ParenExpr", "UnaryExpr", "SubqueryExpr", "AggregateExpr"):
            stack.append(current.expr)
        elif kind == "Call":
            stack.extend(current.args)
        elif kind == "MatrixSelector":
            stack.append(current.vector_selector)


def _kind(node: Any) -> str | None:
    """"counter" or "gauge" when every selector is read by one family of functions; else None."""
    readers: set[str] = set()
    for current in _walk(node):
        if isinstance(current, promql_parser.BinaryExpr) and str(current.op) in _VALUE_DEPENDENT:
            return None
        if isinstance(current, promql_parser.SubqueryExpr):
            return None
        if isinstance(current, promql_parser.Call) and any(
                isinstance(a, promql_parser.MatrixSelector) for a in current.args):
            readers.add(current.func.name)
    if readers and readers <= COUNTER_FUNCTIONS:
        return "counter"
    if readers and readers <= GAUGE_FUNCTIONS:
        return "gauge"
    return None


def selectors(query: str) -> list[Selector]:
    """Distinct vector selectors in a PromQL query (rendered with a 5m window)."""
    return _selectors(_tree(query))


def _split_plan(part: list[Selector], tot: list[Selector], part_is_bad: bool, gauge: bool) -> list[InputSeries] | None:
    """Series for `part` (the bad or the good events) and the rest of `total`, both selected by total."""
    if len(part) != 1 or len(tot) != 1:
        return None
    sub, whole = part[0], tot[0]

    def series(labels: dict[str, str], in_part: bool, in_total_only: bool) -> InputSeries:
        if in_total_only:  # a separate total metric counts every event
            return InputSeries(whole.metric, labels, True, True, gauge)
        bad = in_part == part_is_bad
        return InputSeries(sub.metric if in_part else whole.metric, labels, bad, not bad, gauge)

    if sub.metric == whole.metric:
        inside = _labels_matching(sub, whole)
        if inside is None:
            return None
        # The other events: same labels, but one label that the part's selector constrains changed so
        # that the total selector still matches and the part's one no longer does.
        for name in {m.name for m in sub.matchers}:
            sub_matchers = [m for m in sub.matchers if m.name == name]
            whole_matchers = [m for m in whole.matchers if m.name == name]
            value = _choose(whole_matchers, sub_matchers)
            if value is None:
                continue
            other = {k: v for k, v in inside.items() if k != name}
            if value:
                other[name] = value
            if whole.matches(whole.metric, other) and not sub.matches(sub.metric, other):
                return [series(inside, True, False), series(other, False, False)]
        return None
    inside = _labels_matching(sub)
    total = _labels_matching(whole)
    if inside is None or total is None:
        return None
    return [series(inside, True, False), series(total, False, True)]


def _events_plan(errors_query: str | None, good_query: str | None, total_query: str) -> list[InputSeries] | None:
    total_tree = _strip_or_zero(_tree(total_query))
    part_query = errors_query if errors_query is not None else good_query
    assert part_query is not None
    part_tree = _strip_or_zero(_tree(part_query))
    kinds = {_kind(total_tree), _kind(part_tree)}
    if len(kinds) != 1 or None in kinds:
        return None
    gauge = kinds == {"gauge"}
    tot = _selectors(total_tree)
    # errors written as `total - good` (Sloth's latency examples, OpenSLO good/total).
    if (errors_query is not None and isinstance(part_tree, promql_parser.BinaryExpr) and str(part_tree.op) == "-"
            and _selectors(part_tree.lhs) == tot):
        return _split_plan(_selectors(part_tree.rhs), tot, False, gauge)
    return _split_plan(_selectors(part_tree), tot, errors_query is not None, gauge)


def _ratio_plan(query: str) -> list[InputSeries] | None:
    """Series for `errors / total` or `1 - good / total` ratio queries."""
    tree = _strip_or_zero(_tree(query))
    good = False
    if (isinstance(tree, promql_parser.BinaryExpr) and str(tree.op) == "-"
            and isinstance(_unwrap(tree.lhs), promql_parser.NumberLiteral) and _unwrap(tree.lhs).val == 1):
        good, tree = True, _unwrap(tree.rhs)
    if not (isinstance(tree, promql_parser.BinaryExpr) and str(tree.op) == "/"):
        return None
    kinds = {_kind(tree.lhs), _kind(tree.rhs)}
    if len(kinds) != 1 or None in kinds:
        return None
    return _split_plan(_selectors(tree.lhs), _selectors(tree.rhs), not good, kinds == {"gauge"})


def plan_series(slo: SLOSpec) -> list[InputSeries] | None:
    """Raw series that drive the SLO's SLI, or None when its query shape is not recognised."""
    sli = slo.sli
    if sli.events is not None:
        return _events_plan(sli.events.errors, sli.events.good, sli.events.total)
    if sli.latency is not None:
        lat = sli.latency
        base = selectors(f"{lat.histogram}_count{lat.selector}")[0]
        labels = _labels_matching(base)
        if labels is None:
            return None
        return [
            InputSeries(f"{lat.histogram}_count", labels, True, True),
            InputSeries(f"{lat.histogram}_bucket", {**labels, "le": le_value(lat.threshold)}, False, True),
            InputSeries(f"{lat.histogram}_bucket", {**labels, "le": "+Inf"}, True, True),
        ]
    assert sli.ratio is not None
    return _ratio_plan(sli.ratio)
