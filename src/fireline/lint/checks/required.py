"""rules/required-label and rules/required-annotation: what a project's alerts must carry.

Listed in .fireline-lint.yaml as `required_labels` / `required_annotations`: a name and a regular
expression its value must match in full ("" accepts any value). Only alerting rules are checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity


def _problems(values: dict[str, str], required: dict[str, re.Pattern[str]]) -> Iterator[tuple[str, str | None]]:
    for name, pattern in required.items():
        value = values.get(name)
        if value is None or not value.strip():
            yield name, None
        elif pattern.fullmatch(value.strip()) is None:
            yield name, value


class RequiredLabel(RuleCheck):
    id = "rules/required-label"
    severity = Severity.WARNING
    summary = "An alert lacks a label the project requires (required_labels), or its value does not match."
    section = "labels"

    def required(self, ctx: LintContext) -> dict[str, re.Pattern[str]]:
        return ctx.config.required_labels if ctx.config is not None else {}

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        required = self.required(ctx)
        if not rule.alert or not required:
            return
        values = rule.labels if self.section == "labels" else rule.annotations
        singular = self.section[:-1]
        for name, value in _problems(values, required):
            if value is None:
                yield self.finding(
                    file.name,
                    rule.line,
                    f"{rule.alert} has no {singular} {name}, which this project requires on every alert "
                    f"(.fireline-lint.yaml required_{self.section}). Add {self.section}.{name}.",
                )
            else:
                yield self.finding(
                    file.name,
                    rule.line_of(f"{self.section}.{name}"),
                    f"{rule.alert} {singular} {name} is {value!r}, which does not match "
                    f"{required[name].pattern!r} (.fireline-lint.yaml required_{self.section}).",
                )


class RequiredAnnotation(RequiredLabel):
    id = "rules/required-annotation"
    summary = "An alert lacks an annotation the project requires (required_annotations), or it does not match."
    section = "annotations"

    def required(self, ctx: LintContext) -> dict[str, re.Pattern[str]]:
        return ctx.config.required_annotations if ctx.config is not None else {}
