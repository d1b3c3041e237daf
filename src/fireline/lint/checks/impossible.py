"""promql/impossible-selector: a selector whose matchers no series can satisfy.

`{job="api", job="web"}`, `{env="prod", env!="prod"}` or `{severity=~"warning|info", severity="critical"}`
select nothing, ever: an alert on them never fires, a recording rule records nothing. The matchers
are reasoned about like Alertmanager's (fireline.lint.matchers): a label missing on a series is "".
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.matchers import overlap, text
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import Selector
from fireline.routing.matchers import Matcher, MatchOp


def matchers_of(selector: Selector) -> list[Matcher] | None:
    out = [Matcher("__name__", MatchOp.EQUAL, selector.name)] if selector.name else []
    try:
        out.extend(Matcher(label, MatchOp(op), value) for label, op, value in selector.matchers)
    except ValueError:
        return None  # a regex Python cannot read; promtool judges it
    return out


def impossible(selector: Selector) -> bool:
    found = matchers_of(selector)
    if found is None:
        return False
    try:
        return overlap(found, []) is False
    except re.error:
        return False  # RE2 syntax Python reads differently, such as a (?i) flag inside the pattern


class ImpossibleSelector(RuleCheck):
    id = "promql/impossible-selector"
    severity = Severity.ERROR
    summary = "A selector's matchers contradict each other, so it can never select a series."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        seen: set[Selector] = set()
        for selector in rule.selectors:
            if selector in seen or not impossible(selector):
                continue
            seen.add(selector)
            shown = text([m for m in matchers_of(selector) or [] if m.name != "__name__"])
            effect = "the alert can never fire" if rule.alert else "the rule records nothing"
            yield self.finding(
                file.name,
                rule.line_of("expr"),
                f"{rule.name} selects {selector.name or ''}{shown}, which no series can match: {effect}. "
                "Fix the contradicting matchers.",
            )
