"""am/inhibit-self: an inhibit rule whose source and target matchers can match the same alert."""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import AlertmanagerFile
from fireline.lint.matchers import example_labels, overlap, text
from fireline.lint.model import AlertmanagerCheck, Finding, LintContext, Severity


class InhibitSelf(AlertmanagerCheck):
    id = "am/inhibit-self"
    severity = Severity.WARNING
    summary = "An inhibit rule's source and target matchers overlap, so alerts may inhibit their own kind."

    def check_file(self, file: AlertmanagerFile, ctx: LintContext) -> Iterator[Finding]:
        if file.config is None:
            return
        for rule in file.config.inhibit_rules:
            if overlap(rule.source_matchers, rule.target_matchers) is not True:
                continue
            example = example_labels(rule.source_matchers, rule.target_matchers)
            shown = ", ".join(f"{k}={v}" for k, v in example.items()) or "any alert"
            yield self.finding(
                file.name,
                rule.line,
                f"inhibit rule: an alert ({shown}) matches both source {text(rule.source_matchers)} and "
                f"target {text(rule.target_matchers)}: alerts matching both sides never inhibit each other, "
                "and one alert of the kind can silence all its siblings. Make the sides disjoint, e.g. "
                'source severity="critical", target severity="warning".',
            )
