"""rules/value-in-label: an alert label templated from the query value ($value, .Value, humanize).

Labels are the alert's identity. A label that changes with the value makes every evaluation a new
alert: the old one resolves, the new one starts pending again, so `for:` never completes and
notifications flap. Values belong in annotations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

VALUE_RE = re.compile(r"\{\{[^}]*(?:\$value\b|\.Value\b)[^}]*\}\}")


class ValueInLabel(RuleCheck):
    id = "rules/value-in-label"
    severity = Severity.WARNING
    summary = "An alert label uses the query value ($value): every evaluation becomes a new alert."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert:
            return
        for key, text in rule.labels.items():
            if "{{" not in text or VALUE_RE.search(text) is None:
                continue
            with_for = (rule.for_ or "").strip() not in ("", "0", "0s", "0m")
            yield self.finding(
                file.name,
                rule.line_of(f"labels.{key}"),
                f"{rule.alert} label {key} is templated from the query value ({text.strip()}): labels are the "
                "alert's identity, so each new value is a new alert"
                + (f" and for: {rule.for_} restarts every evaluation, so it never fires" if with_for else "")
                + ". Move it to an annotation.",
                Severity.ERROR if with_for else None,
            )
