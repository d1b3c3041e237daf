"""Suppression comments, .fireline-lint.yaml, --changed-from, SARIF and the tools' versions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.lint.config import LintConfig, load_config
from fireline.lint.files import UsageError
from fireline.lint.registry import CHECK_IDS
from fireline.lint.runner import lint
from tests.lint.support import AMTOOL, PROMTOOL, needs_tool

runner = CliRunner()
NO_TOOLS = ["--disable", "rules/promtool", "--disable", "am/amtool"]

RULES = """\
groups:
  - name: alerts
    rules:
      # fireline disable rules/missing-summary
      - alert: First
        expr: up == 0
        labels: {severity: warning}
      - alert: Second
        expr: up == 0
        # fireline disable rules/missing-summary rules/missing-runbook
        labels: {severity: warning}
      - alert: Third
        expr: up == 0
        labels: {severity: warning}
"""


def checks(result_findings: list, check: str) -> list[int]:  # type: ignore[type-arg]
    return [f.line for f in result_findings if f.check == check]


def test_a_comment_above_or_inside_a_rule_silences_that_rule_only(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    result = lint([path], promtool=None, amtool=None)
    assert checks(result.findings, "rules/missing-summary") == [12]  # Third only
    assert checks(result.findings, "rules/missing-runbook") == [5, 12]  # Second's comment names it too
    assert result.suppressed == {"rules/missing-summary": 2, "rules/missing-runbook": 1}
    assert "3 suppressed (rules/missing-runbook 1, rules/missing-summary 2)" in result.summary()


def test_file_disable_and_project_config_silence_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("# fireline file/disable rules/missing-summary\n" + RULES)
    result = lint([path], promtool=None, amtool=None)
    assert checks(result.findings, "rules/missing-summary") == []
    assert result.suppressed["rules/missing-summary"] == 3
    config = LintConfig(disabled={"rules/missing-runbook"})
    assert checks(lint([path], promtool=None, amtool=None, config=config).findings, "rules/missing-runbook") == []


def test_an_unknown_check_in_a_comment_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES.replace("disable rules/missing-summary\n", "disable rules/missing-sumary\n", 1))
    result = lint([path], promtool=None, amtool=None)
    assert checks(result.findings, "lint/comment") == [4]
    assert 5 in checks(result.findings, "rules/missing-summary")


def test_alertmanager_comments_silence_their_line_and_the_next(tmp_path: Path) -> None:
    path = tmp_path / "am.yml"
    path.write_text(
        "route: {receiver: slack}\nreceivers:\n  - name: slack\n    slack_configs:\n"
        "      # fireline disable am/no-send-resolved\n      - channel: '#a'\n        api_url_file: /s\n"
    )
    result = lint([path], promtool=None, amtool=None)
    assert checks(result.findings, "am/no-send-resolved") == []
    assert result.suppressed["am/no-send-resolved"] == 1


def test_config_severity_paths_and_errors_with_lines(tmp_path: Path) -> None:
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "rules.yml").write_text(RULES)
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "rules.yml").write_text(RULES)
    settings = tmp_path / ".fireline-lint.yaml"
    settings.write_text("severity:\n  rules/missing-summary: error\npaths: [prometheus/, vendor/]\n"
                        "exclude: [vendor]\n")
    config = load_config(settings, CHECK_IDS)
    result = lint([], promtool=None, amtool=None, config=config)
    assert {f.file.split("/")[-2] for f in result.findings} == {"prometheus"}
    assert [f.severity.value for f in result.findings if f.check == "rules/missing-summary"] == ["error"]
    settings.write_text("disabled: [rules/nope]\n")
    with pytest.raises(UsageError, match=r"\.fireline-lint\.yaml:1: disabled: unknown check id 'rules/nope'"):
        load_config(settings, CHECK_IDS)
    settings.write_text("slo_period: 30d\nroutes: []\n")
    with pytest.raises(UsageError, match=r":2: unknown setting 'routes'"):
        load_config(settings, CHECK_IDS)


def test_the_cli_reads_the_config_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / ".fireline-lint.yaml").write_text("paths: [rules.yml]\ndisabled: [rules/missing-runbook]\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["lint", *NO_TOOLS])
    assert result.exit_code == 0, result.stderr
    assert "rules/missing-runbook" not in result.stdout and "rules/missing-summary" in result.stdout
    assert "2 suppressed (rules/missing-summary 2)" in result.stderr


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_changed_from_reports_only_findings_on_changed_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES.replace("      # fireline disable rules/missing-summary\n", ""))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "rules")
    rules.write_text(rules.read_text().replace("      - alert: Third\n        expr: up == 0\n",
                                               "      - alert: Third\n        expr: up == 1\n"))
    (tmp_path / "new.yml").write_text(RULES)  # untracked: every line is new
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["lint", "rules.yml", "new.yml", "--changed-from", "main", "--format", "json",
                                 *NO_TOOLS])
    found = {(Path(f["file"]).name, f["line"], f["check"]) for f in json.loads(result.stdout)}
    assert ("rules.yml", 11, "rules/missing-summary") in found  # Third: its expr changed
    assert not [f for f in found if f[0] == "rules.yml" and f[1] < 11]  # First and Second did not change
    assert ("new.yml", 12, "rules/missing-summary") in found
    assert "on unchanged lines not shown" in result.stderr
    bad = runner.invoke(app, ["lint", "rules.yml", "--changed-from", "no-such-ref", *NO_TOOLS])
    assert bad.exit_code == 2 and "--changed-from" in bad.stderr


def test_sarif_has_rules_results_and_suppressed_results(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    result = runner.invoke(app, ["lint", str(path), "--format", "sarif", *NO_TOOLS])
    assert result.exit_code == 0
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {"rules/missing-summary", "rules/missing-runbook"} <= rule_ids
    results = run["results"]
    open_summary = [r for r in results if r["ruleId"] == "rules/missing-summary" and "suppressions" not in r]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in open_summary] == [12]
    assert len([r for r in results if r.get("suppressions")]) == 3
    assert all(r["level"] in {"error", "warning", "note"} for r in results)


@pytest.mark.promtool
@needs_tool("rules/promtool")
def test_promtool_duplicate_warnings_are_reported_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n"
                    "      - record: job:up:sum\n        expr: sum by (job) (up)\n")
    result = lint([path], promtool=PROMTOOL, amtool=None)
    found = [f for f in result.findings if f.check == "rules/promtool"]
    assert [(f.line, f.severity.value) for f in found] == [(6, "warning")]
    assert found[0].message.startswith(f"promtool {result.versions['promtool']}: duplicate rule job:up:sum")
    assert "lines 4, 6" in found[0].message


@pytest.mark.promtool
@needs_tool("am/amtool")
def test_amtool_findings_name_the_version_and_say_when_it_is_older_than_the_target(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text("route:\n  receiver: a\nreceivers:\n  - name: a\ntracing:\n  endpoint: localhost:4317\n")
    plain = [f for f in lint([path], promtool=None, amtool=AMTOOL).findings if f.check == "am/amtool"]
    version = plain[0].message.split()[1]
    assert plain[0].severity.value == "error" and plain[0].message.startswith(f"amtool {version} check-config:")
    newer = LintConfig(alertmanager_version="0.28")
    judged = [f for f in lint([path], promtool=None, amtool=AMTOOL, config=newer).findings if f.check == "am/amtool"]
    assert [(f.line, f.severity.value) for f in judged] == [(5, "warning")]
    assert "older than alertmanager.version 0.28" in judged[0].message
