"""rules/undefined-series: a recording-rule series that nothing in the linted set records."""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity


class UndefinedSeries(RuleCheck):
    id = "rules/undefined-series"
    severity = Severity.ERROR
    summary = "An expression reads a recording-rule series (level:metric:operations) that no rule records."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        recorded = ctx.recorded()
        seen: set[str] = set()
        for selector in rule.selectors:
            name = selector.name
            # Recording-rule names have colons by convention; raw metrics never do.
            if not name or ":" not in name or name in recorded or name in seen:
                continue
            seen.add(name)
            effect = "the alert can never fire" if rule.alert else "the recorded series stays empty"
            yield self.finding(
                file.name,
                rule.line_of("expr"),
                f"{rule.name} reads {name}, but no rule in the linted files records it: {effect}. "
                f"Add a recording rule `record: {name}`, fix the name, or lint this file together "
                "with the file that records it.",
            )
