"""Typed PromQL expressions, printed in one canonical layout.

The generator builds every expression from these nodes instead of gluing strings, so parentheses
follow operator precedence (never a missing pair that changes meaning) and the layout of a rule
file is decided here. A user's own PromQL (an SLI query) enters as `Query`, parsed when it is made,
and is parenthesised when it stands inside an operator that binds tighter than its own top one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import promql_parser

from fireline.promql.selectors import Matcher, Selector
from fireline.slo.durations import Duration
from fireline.slo.tiers import decimal_text

# Binary operator precedence, lowest first (Prometheus' parser, lex.go); all left-associative but ^.
_PRECEDENCE = {
    "or": 1,
    "and": 2, "unless": 2,
    "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
    "+": 4, "-": 4,
    "*": 5, "/": 5, "%": 5, "atan2": 5,
    "^": 6,
}
_ATOM = 100  # selectors, calls, aggregations, numbers, parentheses


def parse_error(text: str) -> str | None:
    """The parser's complaint about a PromQL expression, or None when it parses."""
    try:
        promql_parser.parse(text)
    except (ValueError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    return None


class Expr:
    """A PromQL expression node."""

    def text(self) -> str:
        raise NotImplementedError

    @property
    def precedence(self) -> int:
        return _ATOM

    def __str__(self) -> str:
        return self.text()

    # Small builders so rules read like the PromQL they print.
    def over(self, other: Expr | str | Decimal | int, op: str = "/", *, before: str = " ",
             after: str = " ") -> Binary:
        return Binary(op, self, as_expr(other), before=before, after=after)


def as_expr(value: Expr | str | Decimal | int) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, Decimal | int):
        return Number.of(value)
    return Query(value)


@dataclass(frozen=True)
class VectorSelector(Expr):
    selector: Selector

    @classmethod
    def of(cls, metric: str, labels: dict[str, str] | None = None, *extra: Matcher) -> VectorSelector:
        matchers = tuple(Matcher(k, "=", v) for k, v in (labels or {}).items()) + extra
        return cls(Selector(metric, matchers))

    def text(self) -> str:
        return self.selector.text()

    def range(self, window: Duration, offset: Duration | None = None) -> RangeSelector:
        return RangeSelector(self, window, offset)


@dataclass(frozen=True)
class RangeSelector(Expr):
    vector: VectorSelector
    window: Duration
    offset: Duration | None = None

    def text(self) -> str:
        shifted = f" offset {self.offset}" if self.offset is not None else ""
        return f"{self.vector.text()}[{self.window}]{shifted}"


@dataclass(frozen=True)
class Subquery(Expr):
    """`expr[range:step]`, evaluated at the multiples of step within the range (Prometheus aligns the
    steps to absolute time, not to the evaluation: rules rely on that to find hour boundaries)."""

    expr: Expr
    window: Duration
    step: Duration
    offset: Duration | None = None

    def text(self) -> str:
        inner = self.expr.text() if self.expr.precedence == _ATOM else f"({self.expr.text()})"
        shifted = f" offset {self.offset}" if self.offset is not None else ""
        return f"{inner}[{self.window}:{self.step}]{shifted}"


@dataclass(frozen=True)
class Number(Expr):
    literal: str

    @classmethod
    def of(cls, value: Decimal | int | float) -> Number:
        if isinstance(value, float):
            return cls(f"{value:.12g}")
        # The shortest text that reads back as the same float: 14.4, 6, 0.9333333333333333.
        return cls(decimal_text(Decimal(value)))

    def text(self) -> str:
        return self.literal


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]

    @classmethod
    def of(cls, function: str, *args: Expr | str | Decimal | int) -> Call:
        return cls(function, tuple(as_expr(a) for a in args))

    def text(self) -> str:
        return f"{self.function}({', '.join(a.text() for a in self.args)})"


@dataclass(frozen=True)
class Aggregate(Expr):
    op: str
    expr: Expr
    by: tuple[str, ...] = ()

    def text(self) -> str:
        grouping = f" by ({', '.join(self.by)}) " if self.by else ""
        return f"{self.op}{grouping}({self.expr.text()})"


@dataclass(frozen=True)
class Paren(Expr):
    expr: Expr
    multiline: bool = False
    indent: bool = False  # multiline: indent every line of the inner text, not only its first

    def text(self) -> str:
        if self.multiline and self.indent:
            inner = "\n".join(f"  {line}" if line else line for line in self.expr.text().split("\n"))
            return f"(\n{inner}\n)"
        if self.multiline:
            return f"(\n  {self.expr.text()}\n)"
        return f"({self.expr.text()})"


@dataclass(frozen=True)
class Query(Expr):
    """A user's PromQL, with any {{.window}} already rendered; refused when it does not parse."""

    source: str

    def __post_init__(self) -> None:
        problem = parse_error(self.source)
        if problem is not None:
            raise ValueError(f"not valid PromQL: {problem}: {self.source!r}")

    @cached_property
    def tree(self) -> Any:
        return promql_parser.parse(self.source)

    @property
    def precedence(self) -> int:
        node = self.tree
        if isinstance(node, promql_parser.BinaryExpr):
            return _PRECEDENCE.get(str(node.op).lower(), 0)
        if isinstance(node, promql_parser.UnaryExpr):
            return 0  # -x inside x ^ y would change meaning: bracket it
        return _ATOM

    def text(self) -> str:
        return self.source.strip()


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    # Layout around the operator: " " inline, "\n" for the operator on a line of its own.
    before: str = " "
    after: str = " "
    modifier: str = field(default="")  # e.g. "on()", "bool"

    def __post_init__(self) -> None:
        if self.op not in _PRECEDENCE:
            raise ValueError(f"unknown binary operator {self.op!r}")

    @property
    def precedence(self) -> int:
        return _PRECEDENCE[self.op]

    def _operand(self, node: Expr, right: bool) -> str:
        mine, theirs = self.precedence, node.precedence
        right_assoc = self.op == "^"
        needs = theirs < mine or (theirs == mine and (right != right_assoc))
        return f"({node.text()})" if needs else node.text()

    def text(self) -> str:
        op = f"{self.op} {self.modifier}" if self.modifier else self.op
        return f"{self._operand(self.lhs, False)}{self.before}{op}{self.after}{self._operand(self.rhs, True)}"
