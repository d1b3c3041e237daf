"""promql/redundant-anchor: `^` or `$` in a selector regex; Prometheus anchors every regex already.

`job=~"^api$"` is `job=~"api"`. The anchors suggest a partial match was meant (`job=~".*api.*"`),
or they hide an equality that could be written `job="api"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity


def redundant_anchors(value: str) -> str | None:
    """The regex without the anchors at the ends of its alternatives, or None when it has none."""
    inner = re.sub(r"(^|\|)\^", r"\1", value)
    inner = re.sub(r"(?<!\\)\$(?=\||$)", "", inner)
    return inner if inner != value else None


class RedundantAnchor(RuleCheck):
    id = "promql/redundant-anchor"
    severity = Severity.INFO
    summary = "A selector regex starts with ^ or ends with $: Prometheus regexes are always fully anchored."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        seen: set[tuple[str, str, str]] = set()
        for selector in rule.selectors:
            for label, op, value in selector.matchers:
                if op not in ("=~", "!~") or (label, op, value) in seen:
                    continue
                inner = redundant_anchors(value)
                if inner is None:
                    continue
                seen.add((label, op, value))
                yield self.finding(
                    file.name,
                    rule.line_of("expr"),
                    f'{rule.name}: {label}{op}"{value}" is anchored already (Prometheus matches the whole '
                    f'value): write {label}{op}"{inner}".',
                )
