"""`fireline lint` on the command line: formats, exit codes, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fireline.cli import app
from tests.lint.support import FIXTURES

runner = CliRunner()
BAD_ROUTES = FIXTURES / "am-shadowed-route" / "bad.yml"  # warnings only
BAD_SERIES = FIXTURES / "rules-undefined-series" / "bad.yml"  # an error
NO_TOOLS = ["--disable", "rules/promtool", "--disable", "am/amtool"]


def lint(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["lint", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_is_sorted_by_file_and_line_and_exit_1_on_error() -> None:
    code, out, _ = lint(str(BAD_SERIES), str(BAD_ROUTES), *NO_TOOLS)
    assert code == 1
    lines = out.splitlines()
    places = [(line.split(":")[0], int(line.split(":")[1])) for line in lines]
    assert places == sorted(places)
    assert any(": error rules/undefined-series: " in line and ":8: " in line for line in lines)


def test_warnings_only_exit_0() -> None:
    code, out, _ = lint(str(BAD_ROUTES), *NO_TOOLS)
    assert code == 0
    assert "warning am/shadowed-route" in out


def test_json_is_a_list_of_findings() -> None:
    code, out, _ = lint("--format", "json", str(BAD_SERIES), *NO_TOOLS)
    assert code == 1
    findings = json.loads(out)
    assert isinstance(findings, list) and findings
    assert set(findings[0]) == {"check", "severity", "file", "line", "message"}
    series = [f for f in findings if f["check"] == "rules/undefined-series"]
    assert series[0]["line"] == 8 and series[0]["severity"] == "error"
    assert series[0]["file"].endswith("rules-undefined-series/bad.yml")


def test_github_format_is_workflow_commands() -> None:
    code, out, _ = lint("--format", "github", str(BAD_SERIES), str(BAD_ROUTES), *NO_TOOLS)
    assert code == 1
    lines = out.splitlines()
    assert all(line.startswith(("::error file=", "::warning file=", "::notice file=")) for line in lines)
    assert any(",line=8,title=rules/undefined-series::" in line for line in lines)
    assert any(line.startswith("::warning ") and "title=am/shadowed-route" in line for line in lines)


def test_disable_removes_a_check() -> None:
    code, out, _ = lint(str(BAD_SERIES), *NO_TOOLS, "--disable", "rules/undefined-series")
    assert "rules/undefined-series" not in out
    assert code == 0


def test_slo_period_changes_the_budget_checks() -> None:
    bad = FIXTURES / "slo-burn-exceeds-budget" / "bad.yml"
    assert "slo/burn-exceeds-budget" in lint(str(bad), *NO_TOOLS)[1]
    # 6x over 7d is 47% of a 90d budget: no longer beyond it
    assert "slo/burn-exceeds-budget" not in lint(str(bad), *NO_TOOLS, "--slo-period", "90d")[1]


def test_directories_are_searched_recursively(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "rules.yaml").write_text(BAD_SERIES.read_text())
    (tmp_path / "notes.txt").write_text("groups: [")
    code, out, _ = lint(str(tmp_path), *NO_TOOLS)
    assert code == 1 and "rules.yaml:8: error rules/undefined-series" in out


def _usage_error(*args: str) -> str:
    code, out, err = lint(*args)
    assert code == 2, out
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert "no such file" in _usage_error(str(tmp_path / "nope.yml"))


def test_invalid_yaml_is_a_usage_error_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules: [\n")
    assert "broken.yml:" in _usage_error(str(broken))


def test_unknown_check_format_and_period_are_usage_errors() -> None:
    assert "unknown check id" in _usage_error(str(BAD_ROUTES), "--disable", "rules/nope")
    assert "unknown --format" in _usage_error(str(BAD_ROUTES), "--format", "xml")
    assert "--slo-period" in _usage_error(str(BAD_ROUTES), "--slo-period", "a month")


def test_named_file_of_unknown_kind_is_noted(tmp_path: Path) -> None:
    other = tmp_path / "values.yml"
    other.write_text("replicas: 3\n")
    code, out, err = lint(str(other))
    assert code == 0 and out == ""
    assert "values.yml: skipped" in err


def test_hidden_and_dependency_folders_and_templates_are_not_searched(tmp_path: Path) -> None:
    for folder in (".git", ".venv/lib", "node_modules/x"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "broken.yml").write_text("groups: [\n")
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "rules.yaml").write_text("groups:\n{{- range .Values.groups }}\n  - {{ . }}\n")
    (tmp_path / "rules.yml").write_text(BAD_SERIES.read_text())
    code, out, err = lint(str(tmp_path), *NO_TOOLS)
    assert code == 1 and "rules.yml:8: error rules/undefined-series" in out
    assert "chart/rules.yaml" in err and "skipped" in err


def test_invalid_yaml_outside_templates_still_fails(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups: [\n")
    assert "not valid YAML" in _usage_error(str(tmp_path))
