"""Every check against its good and bad fixture (tests/lint/fixtures/<check-id-with-dashes>/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fireline.lint import registry
from fireline.lint.config import CONFIG_NAME, LintConfig, load_config
from fireline.lint.registry import ALL_CHECKS, CHECK_IDS, OFFLINE_CHECKS
from fireline.lint.runner import lint
from tests.lint.support import AMTOOL, FIXTURES, PROMTOOL, TOOL_CHECKS, expected_findings, needs_tool


def fixture_dir(check_id: str) -> Path:
    return FIXTURES / check_id.replace("/", "-")


def params() -> list[object]:
    out: list[object] = []
    for check_id in (c.id for c in OFFLINE_CHECKS):
        marks = [pytest.mark.promtool, needs_tool(check_id)] if check_id in TOOL_CHECKS else []
        out.append(pytest.param(check_id, id=check_id, marks=marks))
    return out


def run(path: Path, check_id: str) -> set[tuple[int, str]]:
    tools = check_id in TOOL_CHECKS  # the binaries only run for their own check: keeps the suite fast
    # Checks that need project settings (routing_labels, required_labels) find them beside the fixture.
    settings = path.parent / CONFIG_NAME
    config = load_config(settings, CHECK_IDS) if settings.is_file() else LintConfig()
    result = lint([path], promtool=PROMTOOL if tools else None, amtool=AMTOOL if tools else None, config=config)
    return {(f.line, f.check) for f in result.findings if f.check == check_id}


@pytest.mark.parametrize("check_id", params())
def test_bad_fixture_reports_the_check_on_the_marked_lines(check_id: str) -> None:
    bad = fixture_dir(check_id) / "bad.yml"
    expected = {(line, c) for line, c in expected_findings(bad) if c == check_id}
    assert expected, f"{bad} marks no line with # expect: {check_id}"
    assert run(bad, check_id) == expected


@pytest.mark.parametrize("check_id", params())
def test_good_fixture_does_not_report_the_check(check_id: str) -> None:
    good = fixture_dir(check_id) / "good.yml"
    assert good.is_file()
    assert run(good, check_id) == set()


def test_every_check_has_fixtures_and_docs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "checks.md").read_text()
    assert len(set(CHECK_IDS)) == len(CHECK_IDS)
    for check in ALL_CHECKS:
        if check in OFFLINE_CHECKS:  # the live checks run against a real Prometheus (test_lint_live.py)
            assert (fixture_dir(check.id) / "bad.yml").is_file(), check.id
        assert f"## `{check.id}`" in docs, f"docs/checks.md has no entry for {check.id}"
        assert check.summary and check.severity


REQUIRED_IDS = [
    "rules/undefined-series",
    "rules/template",
    "rules/missing-runbook",
    "rules/runbook-label",
    "rules/missing-summary",
    "rules/cause-based-page",
    "slo/window-pair",
    "slo/burn-exceeds-budget",
    "slo/budget-at-detection",
    "slo/for-delay",
    "am/unreachable-route",
    "am/shadowed-route",
    "am/deprecated-matcher",
    "am/pagerduty-key-version",
    "am/inline-secret",
    "am/no-send-resolved",
    "am/undefined-receiver",
    "am/unused-receiver",
    "am/inhibit-self",
    "rules/promtool",
    "am/amtool",
    "runbooks/missing-section",
    "runbooks/missing-file",
    "rules/duplicate",
    "promql/fragile-binary",
    "rules/no-condition",
    "rules/value-in-label",
    "rules/for-under-interval",
    "promql/redundant-anchor",
    "promql/impossible-selector",
    "rules/dropped-routing-label",
    "rules/required-label",
    "rules/required-annotation",
    "lint/comment",
    "live/not-loaded",
    "live/eval-error",
    "live/eval-time",
    "live/missing-series",
    "live/retention",
]


def test_registry_has_exactly_the_required_ids() -> None:
    assert sorted(CHECK_IDS) == sorted(REQUIRED_IDS)


def test_missing_tools_become_info_findings(tmp_path: Path) -> None:
    rules = FIXTURES / "rules-promtool" / "bad.yml"
    config = FIXTURES / "am-amtool" / "good.yml"
    result = lint([rules, config], promtool=None, amtool=None)
    tool_findings = {(f.check, f.severity.value) for f in result.findings if f.check in TOOL_CHECKS}
    assert tool_findings == {("rules/promtool", "info"), ("am/amtool", "info")}


@pytest.mark.promtool
@needs_tool("rules/promtool")
def test_promtool_errors_in_a_prometheusrule_manifest_land_on_manifest_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "checkout.yaml"
    manifest.write_text(
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata: {name: checkout}\n"
        "spec:\n"
        "  groups:\n"
        "    - name: g\n"
        "      rules:\n"
        "        - alert: A\n"
        "          expr: rate(x[5m) > 1\n"
        "          annotations: {summary: 'x {{ $value | mul 2 }}'}\n"
    )
    result = lint([manifest], promtool=PROMTOOL, amtool=None)
    found = {(f.line, f.check) for f in result.findings if f.check == "rules/promtool"}
    assert found == {(9, "rules/promtool"), (10, "rules/promtool")}


@pytest.mark.promtool
@needs_tool("am/amtool")
def test_amtool_error_without_a_line_lands_where_fireline_found_it(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: a\n  routes:\n    - matchers: ['team=\"payments']\n      receiver: a\n"
        "receivers:\n  - name: a\n"
    )
    result = lint([config], promtool=None, amtool=AMTOOL)
    found = [(f.line, f.check) for f in result.findings if f.severity == "error"]
    assert found == [(4, "am/amtool")]


@pytest.mark.promtool
@needs_tool("rules/promtool")
def test_promtool_error_naming_a_value_lands_on_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        for: bogus\n")
    result = lint([rules], promtool=PROMTOOL, amtool=None)
    assert [(f.line, f.check) for f in result.findings if f.check == "rules/promtool"] == [(6, "rules/promtool")]


def test_the_registry_table_lists_every_check_in_order() -> None:
    """CHECK_IDS comes from the registry's table, before any check module is imported: it must match the classes."""
    assert tuple(c.id for c in ALL_CHECKS) == CHECK_IDS
    assert [c.id for c in registry.rule_checks()] == [row[0] for row in registry.RULE_CHECK_TABLE]
    assert [type(c).__name__ for c in registry.alertmanager_checks()] == [
        row[2] for row in registry.ALERTMANAGER_CHECK_TABLE
    ]
