"""promql/fragile-binary: arithmetic or comparison between two aggregations without on()/ignoring().

Without a matching clause the two sides join on all their labels. When the aggregations keep
different labels (`sum by (job)` against `sum by (job, instance)`, or `without` against `by`), the join
depends on which labels happen to exist: today it matches, after a relabel it returns nothing and
the alert silently stops working. Naming the join labels makes the intent explicit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import aggregation_grouping, constant, kind, op_text, strip_parens, vector_matching

SET_OPERATORS = {"and", "or", "unless"}
ARITHMETIC = {"+", "-", "*", "/", "%", "^"}


def _grouping_text(grouping: tuple[str, frozenset[str]]) -> str:
    mode, labels = grouping
    if mode == "by" and not labels:
        return "to no labels"
    return f"{mode} ({', '.join(sorted(labels))})"


def _aggregation(node: Any) -> tuple[str, frozenset[str]] | None:
    """The grouping of an aggregation, looking through parentheses and scaling by a constant (2 * sum(x))."""
    node = strip_parens(node)
    if kind(node) == "BinaryExpr" and op_text(node) in ARITHMETIC:
        if constant(node.lhs) is not None:
            return _aggregation(node.rhs)
        if constant(node.rhs) is not None:
            return _aggregation(node.lhs)
    return aggregation_grouping(node)


def fragile_joins(nodes: list[Any]) -> list[tuple[tuple[str, frozenset[str]], tuple[str, frozenset[str]]]]:
    out = []
    for node in nodes:
        if kind(node) != "BinaryExpr" or op_text(node) in SET_OPERATORS or vector_matching(node) is not None:
            continue
        left, right = _aggregation(node.lhs), _aggregation(node.rhs)
        if left is None or right is None:
            continue
        if left == right:
            continue  # the same grouping on both sides: the join is what was written
        out.append((left, right))
    return out


class FragileBinary(RuleCheck):
    id = "promql/fragile-binary"
    severity = Severity.WARNING
    summary = "A binary operation joins two aggregations with different labels and no on()/ignoring()."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        for left, right in fragile_joins(rule.nodes):
            yield self.finding(
                file.name,
                rule.line_of("expr"),
                f"{rule.name} joins an aggregation {_grouping_text(left)} with one {_grouping_text(right)} "
                "without on() or ignoring(): the result depends on which labels the series happen to carry "
                "and can silently become empty. Aggregate both sides by the same labels, or write "
                "on(<labels>) for the join.",
            )
