"""rules/duplicate: two rules that are the same rule (name, labels and expression).

A duplicated recording rule is evaluated twice and writes the same samples twice; a duplicated
alerting rule sends every alert twice. Rules that share a name and labels but not the expression
are not reported here: kube-prometheus records code_verb:apiserver_request_total:increase1h from
four expressions whose series never meet (code=~"2..", "3..", ...), and promtool already warns
about same-name rules in one file (rules/promtool). Rules are compared within one directory and
one kind of file (Prometheus loads a `rule_files` glob such as rules/*.yml; the operator loads
PrometheusRule manifests), so unrelated projects linted together are not compared.
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

Key = tuple[str, str, str, str, frozenset[tuple[str, str]]]


def rule_key(rule: Rule, scope: str) -> Key | None:
    labels = frozenset(rule.labels.items())
    if rule.record:
        return (scope, "record", rule.record, rule.canonical_expr, labels)
    if rule.alert:
        return (scope, "alert", rule.alert, rule.canonical_expr + "\0" + (rule.for_ or ""), labels)
    return None


def _index(ctx: LintContext) -> dict[int, list[tuple[RuleFile, Rule]]]:
    """For each rule (by id), every rule with its key: built once per run."""
    groups: dict[Key, list[tuple[RuleFile, Rule]]] = {}
    for rule_file in ctx.rule_files:
        scope = f"{rule_file.path.parent}\0{rule_file.kind.value}"
        for rule in rule_file.rules:
            key = rule_key(rule, scope)
            if key is not None:
                groups.setdefault(key, []).append((rule_file, rule))
    return {id(rule): same for same in groups.values() if len(same) > 1 for _, rule in same}


class DuplicateRule(RuleCheck):
    id = "rules/duplicate"
    severity = Severity.WARNING
    summary = "Two recording rules write the same series, or two alerting rules are the same alert."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        same = ctx.memo("rules/duplicate", lambda: _index(ctx)).get(id(rule))
        if same is None or same[0][1] is rule:
            return
        first_file, first = same[0]
        where = f"line {first.line}" if first_file is file else f"{first_file.name}:{first.line}"
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(rule.labels.items()))
        what = f"{rule.name}{{{labels}}}" if labels else rule.name
        effect = "the same series is computed and written twice" if rule.record else "every alert is sent twice"
        yield self.finding(
            file.name,
            rule.line,
            f"{what} duplicates the rule at {where} (same expression and labels): {effect}. Remove one.",
        )
