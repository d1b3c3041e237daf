"""Metric selectors and label matchers: the one model the generator, the test synthesis and lint share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser

# promql-parser's MatchOp printed as PromQL writes it.
OPERATORS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def quote(value: str) -> str:
    """A label value as a PromQL double-quoted string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # =, !=, =~, !~
    value: str

    def matches(self, value: str) -> bool:
        """Whether a label value (\"\" for an absent label) satisfies this matcher, as Prometheus decides."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        try:
            full = re.fullmatch(self.value, value) is not None
        except re.error:
            # RE2 syntax Python does not read: assume no match rather than fail the caller.
            full = False
        return full if self.op == "=~" else not full

    def text(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"


def equal(labels: dict[str, str]) -> tuple[Matcher, ...]:
    """Equality matchers for a label set, in the order given."""
    return tuple(Matcher(name, "=", value) for name, value in labels.items())


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, metric: str, labels: dict[str, str]) -> bool:
        return metric == self.metric and all(m.matches(labels.get(m.name, "")) for m in self.matchers)

    def text(self) -> str:
        inner = ",".join(m.text() for m in self.matchers)
        if not self.metric:
            return "{" + inner + "}"
        return f"{self.metric}{{{inner}}}" if inner else self.metric


def _selector(node: Any) -> Selector:
    matchers = tuple(
        Matcher(m.name, OPERATORS[str(m.op)], m.value) for m in node.matchers.matchers if m.name != "__name__"
    )
    return Selector(node.name or "", matchers)


def selectors(expr: str | Any) -> list[Selector]:
    """Distinct vector selectors of a PromQL expression (text or parsed), in order of appearance."""
    tree = promql_parser.parse(expr) if isinstance(expr, str) else expr
    found: list[Selector] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            sel = _selector(node)
            if sel not in found:
                found.append(sel)
        return True

    promql_parser.walk(tree, visit)
    return found
