"""rules/dropped-routing-label: an alert aggregates away a label Alertmanager routes on.

Routes select alerts by labels such as `team` or `service`. `sum by (namespace) (...) > 1` has only
`namespace`, so unless the rule sets `team` itself the alert lands on the default receiver and the
owning team never hears of it. The labels come from `routing_labels` in .fireline-lint.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import aggregation_grouping, function_name, kind, op_text, selectors

# Aggregations that pick series and keep all their labels.
SELECTING = {"topk", "bottomk", "limitk", "limit_ratio"}
NO_LABELS = {"vector", "time", "scalar", "pi"}


def dropped(node: Any, label: str) -> bool:
    """True when the expression's result provably has no `label` (so its alerts cannot carry it)."""
    name = kind(node)
    if name in ("ParenExpr", "UnaryExpr"):
        return dropped(node.expr, label)
    if name == "NumberLiteral" or name == "StringLiteral":
        return True
    if name == "AggregateExpr":
        if str(node.op) in SELECTING:
            return dropped(node.expr, label)
        if str(node.op) == "count_values" and getattr(node.param, "val", None) == label:
            return False
        grouping = aggregation_grouping(node)
        assert grouping is not None
        mode, labels = grouping
        return (label not in labels) if mode == "by" else (label in labels or dropped(node.expr, label))
    if name == "BinaryExpr":
        op = op_text(node)
        if op == "or":
            return dropped(node.lhs, label) and dropped(node.rhs, label)
        card = str(getattr(node.modifier, "card", "")) if node.modifier is not None else ""
        group_labels = set(getattr(getattr(node, "modifier", None), "group_labels", None) or [])
        left_scalar = kind(node.lhs) == "NumberLiteral"
        right_scalar = kind(node.rhs) == "NumberLiteral"
        if left_scalar and not right_scalar:
            return dropped(node.rhs, label)
        if "OneToMany" in card or "ManyToOne" in card:
            side = node.rhs if "OneToMany" in card else node.lhs
            return label not in group_labels and dropped(side, label)
        return dropped(node.lhs, label)
    if name == "Call":
        function = function_name(node) or ""
        if function in NO_LABELS:
            return True
        if function in ("label_replace", "label_join"):
            target = getattr(node.args[1], "val", None) if len(node.args) > 1 else None
            if target == label:
                return False
        if function in ("absent", "absent_over_time"):
            equal = {m[0] for s in selectors(node) for m in s.matchers if m[1] == "="}
            return label not in equal
        vectors = [a for a in node.args if kind(a) not in ("NumberLiteral", "StringLiteral")]
        return bool(vectors) and dropped(vectors[0], label)
    return False  # selectors and subqueries: the series may carry it


class DroppedRoutingLabel(RuleCheck):
    id = "rules/dropped-routing-label"
    severity = Severity.WARNING
    summary = "An alert aggregates away a label Alertmanager routes on (routing_labels) and no rule label sets it."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        wanted = ctx.config.routing_labels if ctx.config is not None else None
        if not rule.alert or not wanted or rule.ast is None:
            return
        missing = [label for label in wanted if label not in rule.labels and dropped(rule.ast, label)]
        if missing:
            names = ", ".join(missing)
            yield self.finding(
                file.name,
                rule.line_of("expr"),
                f"{rule.alert}'s expression aggregates away {names}, which Alertmanager routes on: its alerts "
                f"carry no {names} and go to the default receiver instead of the owner. Keep "
                f"{names} in the by (...) clause, or set it under labels:.",
            )
