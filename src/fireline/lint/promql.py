"""Reading PromQL for the checks: selectors and their windows, constants, and burn-rate conditions.

Windows come from range selectors (`rate(x[1h])`, subqueries) and from series names that end in a
duration (`slo:burn_rate:1h`, `job:error_ratio:rate5m`). A burn-rate condition is a comparison
of such a windowed signal with a constant written in one of the usual forms:
    signal / 0.001 > 14.4          (fireline, burn rate = 14.4, error budget = 0.001)
    signal > (14.4 * 0.001)        (Sloth, the Workbook; also without parentheses or 1 - 0.999)
    slo:burn_rate:1h > 14.4        (a series that already is a burn rate)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser

from fireline.promql.selectors import OPERATORS as _OPS
from fireline.slo.durations import Duration, DurationError

COMPARISONS = {">", ">=", "<", "<=", "==", "!="}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_NAME_WINDOW_RE = re.compile(r"(?<![0-9])((?:[0-9]+(?:ms|[smhdwy]))+)$")
# An SLO's error budget (1 - objective) is small; a larger factor is not a budget but a scale.
MAX_ERROR_BUDGET = 0.1


def parse(expr: str) -> Any:
    try:
        return promql_parser.parse(expr)
    except (ValueError, TypeError):
        return None


def op_text(node: Any) -> str:
    return str(node.op)


def kind(node: Any) -> str:
    return type(node).__name__


def children(node: Any) -> list[Any]:
    name = kind(node)
    if name == "BinaryExpr":
        return [node.lhs, node.rhs]
    if name in ("ParenExpr", "UnaryExpr", "SubqueryExpr"):
        return [node.expr]
    if name == "AggregateExpr":
        return [node.expr] + ([node.param] if node.param is not None else [])
    if name == "Call":
        return list(node.args)
    if name == "MatrixSelector":
        return [node.vector_selector]
    return []


@dataclass(frozen=True)
class Selector:
    name: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value), op as in PromQL: = != =~ !~
    range: Duration | None  # from an enclosing range selector or subquery

    @property
    def window(self) -> Duration | None:
        """The range of the selector, else the duration its series name ends with."""
        if self.range is not None:
            return self.range
        return window_of_name(self.name) if self.name else None




def _duration(value: timedelta) -> Duration:
    return Duration.of_seconds(value.total_seconds())


def selectors(node: Any, window: Duration | None = None) -> list[Selector]:
    """Every vector selector under node, with the range it is read over."""
    if node is None:
        return []
    name = kind(node)
    if name == "VectorSelector":
        matchers = tuple((m.name, _OPS.get(str(m.op), str(m.op)), m.value) for m in node.matchers.matchers)
        metric = node.name or next((v for (n, op, v) in matchers if n == "__name__" and op == "="), None)
        return [Selector(metric, matchers, window)]
    if name in ("MatrixSelector", "SubqueryExpr"):
        window = _duration(node.range)
    out: list[Selector] = []
    for child in children(node):
        out.extend(selectors(child, window))
    return out


def window_of_name(name: str) -> Duration | None:
    found = _NAME_WINDOW_RE.search(name)
    if found is None:
        return None
    try:
        return Duration.parse(found.group(1))
    except DurationError:
        return None


def constant(node: Any) -> float | None:
    """The value of a constant expression (numbers, parentheses, unary minus, + - * /), else None."""
    name = kind(node)
    if name == "NumberLiteral":
        return float(node.val)
    if name == "ParenExpr":
        return constant(node.expr)
    if name == "UnaryExpr":
        inner = constant(node.expr)
        return -inner if inner is not None else None
    if name == "BinaryExpr" and op_text(node) in {"+", "-", "*", "/"}:
        left, right = constant(node.lhs), constant(node.rhs)
        if left is None or right is None:
            return None
        op = op_text(node)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        return left / right if right else None
    return None


def _factors(node: Any) -> list[float] | None:
    """A constant product split into its factors: 14.4 * (1 - 0.999) -> [14.4, 0.001]."""
    name = kind(node)
    if name == "ParenExpr":
        return _factors(node.expr)
    if name == "BinaryExpr" and op_text(node) == "*":
        left, right = _factors(node.lhs), _factors(node.rhs)
        if left is None or right is None:
            return None
        return left + right
    value = constant(node)
    return None if value is None else [value]


def _is_budget(value: float) -> bool:
    return 0 < value <= MAX_ERROR_BUDGET


@dataclass(frozen=True)
class BurnCondition:
    """`signal > threshold` where the signal is read over `window` and the threshold is a burn rate."""

    window: Duration
    burn_rate: float
    error_budget: float | None  # when written into the expression (0.001 for 99.9%)


def _strip_parens(node: Any) -> Any:
    while kind(node) == "ParenExpr":
        node = node.expr
    return node


def burn_condition(node: Any) -> BurnCondition | None:
    """Read a comparison as a burn-rate condition, or None when it is not one."""
    if kind(node) != "BinaryExpr" or op_text(node) not in _FLIPPED:
        return None
    signal, limit = node.lhs, node.rhs
    if constant(signal) is not None and constant(limit) is None:
        signal, limit = limit, signal
    threshold = constant(limit)
    if threshold is None or threshold <= 0:
        return None
    windows = {s.window for s in selectors(signal) if s.window is not None}
    if not windows:
        return None
    window = max(windows)
    inner = _strip_parens(signal)
    # fireline: ratio / budget > burn
    if kind(inner) == "BinaryExpr" and op_text(inner) == "/":
        divisor = constant(inner.rhs)
        if divisor is not None and _is_budget(divisor):
            return BurnCondition(window, threshold, divisor)
    # Sloth / Workbook: ratio > burn * budget
    factors = _factors(limit)
    if factors and len(factors) >= 2:
        budgets = [f for f in factors if _is_budget(f)]
        if len(budgets) == 1:
            burn = math.prod(f for f in factors if not _is_budget(f))
            return BurnCondition(window, burn, budgets[0])
    # a recorded burn rate compared with the threshold directly
    names = [s.name or "" for s in selectors(signal)]
    if any("burn_rate" in n or "burnrate" in n for n in names):
        return BurnCondition(window, threshold, None)
    return None


def _alternatives(node: Any) -> list[Any]:
    node = _strip_parens(node)
    if kind(node) == "BinaryExpr" and op_text(node) == "or":
        return _alternatives(node.lhs) + _alternatives(node.rhs)
    return [node]


def _conjuncts(node: Any) -> list[Any]:
    node = _strip_parens(node)
    name = kind(node)
    if name == "BinaryExpr" and op_text(node) == "and":
        return _conjuncts(node.lhs) + _conjuncts(node.rhs)
    if name == "BinaryExpr" and op_text(node) == "unless":
        return _conjuncts(node.lhs)
    if name == "AggregateExpr":  # Sloth: max(ratio > t) without (sloth_window)
        return _conjuncts(node.expr)
    return [node]


def burn_groups(ast: Any) -> list[list[BurnCondition]]:
    """The expression's alternatives (joined by `or`), each as its burn conditions (joined by `and`).

    A tier of a multi-window alert is one group with a long and a short condition.
    """
    if ast is None:
        return []
    groups = []
    for alternative in _alternatives(ast):
        conditions = [c for c in (burn_condition(n) for n in _conjuncts(alternative)) if c is not None]
        if conditions:
            groups.append(conditions)
    return groups


def metric_names(ast: Any) -> list[str]:
    return [s.name for s in selectors(ast) if s.name]


def walk(node: Any) -> list[Any]:
    """node and every node under it, parents before children."""
    out: list[Any] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out


def strip_parens(node: Any) -> Any:
    return _strip_parens(node)


def is_comparison(node: Any) -> bool:
    return kind(node) == "BinaryExpr" and op_text(node) in COMPARISONS


def aggregation_grouping(node: Any) -> tuple[str, frozenset[str]] | None:
    """("by"|"without", labels) of an aggregation, ("by", {}) when it has neither; None for other nodes."""
    if kind(node) != "AggregateExpr":
        return None
    modifier = node.modifier
    if modifier is None:
        return ("by", frozenset())
    mode = "without" if str(modifier.type).endswith("Without") else "by"
    return (mode, frozenset(modifier.labels))


def vector_matching(node: Any) -> tuple[str, frozenset[str]] | None:
    """("on"|"ignoring", labels) of a binary operation that names its matching, else None."""
    modifier = getattr(node, "modifier", None)
    matching = getattr(modifier, "matching", None) if modifier is not None else None
    if matching is None:
        return None
    mode = "ignoring" if str(matching.type).endswith(("Exclude", "Ignoring")) else "on"
    return (mode, frozenset(matching.labels))


def function_name(node: Any) -> str | None:
    return str(node.func.name) if kind(node) == "Call" else None
