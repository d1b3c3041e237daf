"""BRIEF.md's list of copy-paste mistakes, all in one rule file and one Alertmanager config."""

from __future__ import annotations

from fireline.lint.runner import lint
from tests.lint.support import AMTOOL, FIXTURES, PROMTOOL, TOOL_CHECKS, expected_findings

ACCEPTANCE = FIXTURES / "acceptance"
RULES = ACCEPTANCE / "copied-rules.yml"
ALERTMANAGER = ACCEPTANCE / "copied-alertmanager.yml"

# One id per mistake in BRIEF.md's list.
BRIEF_MISTAKES = {
    "recording rules nobody defines": "rules/undefined-series",
    "template functions Prometheus does not have": "rules/template",
    "short window too long / paired long windows": "slo/window-pair",
    "burn threshold x window larger than the budget": "slo/burn-exceeds-budget",
    "for: on burn-rate alerts": "slo/for-delay",
    "early routes without continue swallow alerts": "am/shadowed-route",
    "deprecated match/match_re/source_match": "am/deprecated-matcher",
    "service_key with the v2 events URL": "am/pagerduty-key-version",
    "secrets and placeholders inline": "am/inline-secret",
    "Slack without send_resolved": "am/no-send-resolved",
    "runbook as a label": "rules/runbook-label",
    "alert with no runbook": "rules/missing-runbook",
}


def test_every_mistake_is_reported_with_id_file_and_line() -> None:
    result = lint([ACCEPTANCE], promtool=PROMTOOL, amtool=AMTOOL)
    for path in (RULES, ALERTMANAGER):
        findings = [f for f in result.findings if f.file.endswith(f"acceptance/{path.name}")]
        # Without the binaries their checks leave an info finding instead of their errors.
        found = {(f.line, f.check) for f in findings if not (f.check in TOOL_CHECKS and f.severity == "info")}
        expected = {
            (line, check)
            for line, check in expected_findings(path)
            if not (check == "rules/promtool" and PROMTOOL is None)
        }
        assert found == expected, path.name
    assert result.has_errors


def test_the_acceptance_files_mark_every_brief_mistake() -> None:
    marked = {check for path in (RULES, ALERTMANAGER) for _, check in expected_findings(path)}
    missing = {mistake for mistake, check in BRIEF_MISTAKES.items() if check not in marked}
    assert not missing
