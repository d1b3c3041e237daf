"""rules/duplicate: two rules that produce the same series or the same alert.

Recording rules with the same name and labels write one series from two expressions, so its
value flips between them; alerting rules with the same name, expression and labels send every
alert twice. The linted set is taken as one Prometheus' rules. promtool already warns about
duplicates inside one rule file (rules/promtool), so those are left to it when it ran.
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import FileKind, Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

Key = tuple[str, str, str, frozenset[tuple[str, str]]]


def _canonical(rule: Rule) -> str:
    return str(rule.ast) if rule.ast is not None else rule.expr.strip()


def rule_key(rule: Rule) -> Key | None:
    labels = frozenset(rule.labels.items())
    if rule.record:
        return ("record", rule.record, "", labels)
    if rule.alert:
        return ("alert", rule.alert, _canonical(rule) + "\0" + (rule.for_ or ""), labels)
    return None


def _index(ctx: LintContext) -> dict[Key, list[tuple[RuleFile, Rule]]]:
    out: dict[Key, list[tuple[RuleFile, Rule]]] = {}
    for rule_file in ctx.rule_files:
        for rule in rule_file.rules:
            key = rule_key(rule)
            if key is not None:
                out.setdefault(key, []).append((rule_file, rule))
    return out


class DuplicateRule(RuleCheck):
    id = "rules/duplicate"
    severity = Severity.WARNING
    summary = "Two recording rules write the same series, or two alerting rules are the same alert."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        key = rule_key(rule)
        if key is None:
            return
        same = ctx.memo("rules/duplicate", lambda: _index(ctx))[key]
        if len(same) < 2 or same[0][1] is rule:
            return
        first_file, first = same[0]
        promtool_saw_it = (
            first_file is file and file.kind is FileKind.RULES and rule.record and ctx.promtool is not None
        )
        if promtool_saw_it:
            return
        where = f"line {first.line}" if first_file is file else f"{first_file.name}:{first.line}"
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(rule.labels.items()))
        what = f"{rule.name}{{{labels}}}" if labels else rule.name
        if rule.record:
            effect = "both write one series, so its value flips between the two expressions"
        else:
            effect = "every alert is sent twice"
        yield self.finding(
            file.name,
            rule.line,
            f"{what} duplicates the rule at {where}: {effect}. Remove one, or give them different labels.",
        )
