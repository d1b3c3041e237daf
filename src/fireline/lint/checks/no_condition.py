"""rules/no-condition: an alert whose expression has no condition, so it fires for every series.

An alert fires for every series its expression returns. `errors_total` (instead of
`errors_total > 10`) returns every series all the time: the alert is always firing. Expressions
with a comparison, `absent()`-style functions, `and`/`unless` filters, ALERTS, or a constant (a deliberate always-firing
heartbeat such as `vector(1)`) are conditions; recording rules the expression reads are looked
through.
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import function_name, is_comparison, kind

# Functions that return something only when a condition holds.
FILTERING_FUNCTIONS = {"absent", "absent_over_time"}
SET_FILTERS = {"and", "unless"}
ONLY_WHILE_ACTIVE = {"ALERTS", "ALERTS_FOR_STATE"}


def has_condition(rule: Rule, recorded: dict[str, list[Rule]], depth: int = 0) -> bool:
    for node in rule.nodes:
        if is_comparison(node) or function_name(node) in FILTERING_FUNCTIONS:
            return True
        if kind(node) == "BinaryExpr" and str(node.op) in SET_FILTERS:
            return True  # `x and on() hour() > 8` style filters
    found = rule.selectors
    if not found:
        return True  # a constant: vector(1) heartbeats fire on purpose
    if depth < 5:
        for selector in found:
            for recording in recorded.get(selector.name or "", []):
                if recording.ast is not None and has_condition(recording, recorded, depth + 1):
                    return True
    # ALERTS series exist only while an alert is pending or firing: reading them is the condition.
    return any(s.name in ONLY_WHILE_ACTIVE for s in found)


class NoCondition(RuleCheck):
    id = "rules/no-condition"
    severity = Severity.WARNING
    summary = "An alert's expression has no condition (comparison, absent(), filter): it always fires."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert or rule.ast is None or has_condition(rule, ctx.recorded()):
            return
        yield self.finding(
            file.name,
            rule.line_of("expr"),
            f"{rule.alert} has no condition: `{rule.expr.strip()}` returns every series all the time, so the "
            "alert fires for each of them. Add the comparison that makes it a problem (e.g. `> 0`).",
        )
