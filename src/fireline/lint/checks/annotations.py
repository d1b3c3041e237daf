"""Alerts a human can act on: rules/missing-runbook, rules/runbook-label, rules/missing-summary."""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity

RUNBOOK_ANNOTATIONS = ("runbook_url", "runbook")


def runbook_labels(rule: Rule) -> list[str]:
    return [key for key in rule.labels if "runbook" in key.lower() or "playbook" in key.lower()]


class MissingRunbook(RuleCheck):
    id = "rules/missing-runbook"
    severity = Severity.WARNING
    summary = "A paging alert has no runbook_url annotation."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert or any(rule.annotations.get(k, "").strip() for k in RUNBOOK_ANNOTATIONS):
            return
        if runbook_labels(rule):
            return  # rules/runbook-label says where the runbook should go instead
        if rule.is_paging:
            yield self.finding(
                file.name,
                rule.line,
                f"{rule.alert} pages but has no runbook_url annotation: whoever is woken up has no "
                "first steps. Add annotations.runbook_url pointing at its runbook.",
            )
        else:
            yield self.finding(
                file.name,
                rule.line,
                f"{rule.alert} has no runbook_url annotation. Add one so the alert says how to act on it.",
                Severity.INFO,
            )


class RunbookLabel(RuleCheck):
    id = "rules/runbook-label"
    severity = Severity.WARNING
    summary = "A runbook link is given as a label instead of the runbook_url annotation."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert:
            return
        for key in runbook_labels(rule):
            yield self.finding(
                file.name,
                rule.line_of(f"labels.{key}"),
                f"{rule.alert} carries its runbook as label {key}: labels are the alert's identity, so "
                "editing the link starts a new alert and splits its history, and routing and inhibition "
                "see it. Move it to annotations.runbook_url.",
            )


class MissingSummary(RuleCheck):
    id = "rules/missing-summary"
    severity = Severity.WARNING
    summary = "An alert has no summary annotation saying what is wrong."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if rule.alert and not rule.annotations.get("summary", "").strip():
            yield self.finding(
                file.name,
                rule.line,
                f"{rule.alert} has no summary annotation: notifications show only the alert name. Add "
                'annotations.summary, e.g. "{{ $labels.service }} is burning its error budget".',
            )
