"""`fireline routes test`: same answer as amtool, --verify-receivers and --table, clear errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.routing.commands import LabelArgumentError, parse_label_arguments
from fireline.routing.expected import write_alertmanager
from fireline.spec.loader import load_config

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    write_alertmanager(load_config(EXAMPLES / "fireline.yaml"), ["payments", "discovery", "myteam"], tmp_path)
    return tmp_path / "alertmanager"


def test_prints_receivers_comma_joined(bundle: Path) -> None:
    result = runner.invoke(app, ["routes", "test", str(bundle / "alertmanager.yml"), "team=payments",
                                 'fireline_severity="page"'])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "fireline,payments-pager,payments-slack"


@pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")
@pytest.mark.parametrize("labels", [
    ["team=payments", "fireline_severity=ticket"],
    ["team=discovery", "fireline_severity=page", "severity=critical"],
    ["team=payments"],
    ["service=checkout"],
    [],
])
def test_same_answer_as_amtool(bundle: Path, labels: list[str]) -> None:
    config = str(bundle / "alertmanager.yml")
    ours = runner.invoke(app, ["routes", "test", config, *labels])
    amtool = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={config}", *labels],
                            capture_output=True, text=True, check=True, timeout=60)
    assert ours.stdout.strip() == amtool.stdout.strip()


def test_verify_receivers_mismatch_exits_1(bundle: Path) -> None:
    result = runner.invoke(app, ["routes", "test", str(bundle / "alertmanager.yml"), "team=payments",
                                 "fireline_severity=page", "--verify-receivers", "fireline,payments-slack"])
    assert result.exit_code == 1
    assert "expected receivers fireline,payments-slack but the alert reaches" in result.stderr


def test_table_passes_on_generated_bundle(bundle: Path) -> None:
    result = runner.invoke(app, ["routes", "test", str(bundle / "alertmanager.yml"),
                                 "--table", str(bundle / "expected-routes.yml")])
    assert result.exit_code == 0, result.output
    assert "every row reaches its expected receivers" in result.stdout


def test_table_reports_a_shadowed_team_route(bundle: Path, tmp_path: Path) -> None:
    # A hand edit that drops continue: payments pages no longer reach Slack.
    config = bundle / "alertmanager.yml"
    text = config.read_text(encoding="utf-8")
    pager_route = '  - receiver: payments-pager\n      matchers:\n      - fireline_severity="page"\n'
    edited = text.replace(pager_route + "      continue: true\n", pager_route)
    assert edited != text
    config.write_text(edited, encoding="utf-8")
    table = str(bundle / "expected-routes.yml")
    result = runner.invoke(app, ["routes", "test", str(config), "--table", table])
    assert result.exit_code == 1
    assert ("FAIL  payments page: fireline_severity=\"page\",team=\"payments\" -> fireline,payments-pager; "
            "expected fireline,payments-pager,payments-slack") in result.stdout


def test_unreadable_config_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["routes", "test", str(tmp_path / "missing.yml"), "a=b"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'missing.yml'}: cannot read")
    assert "Traceback" not in result.output


def test_bad_label_argument(bundle: Path) -> None:
    result = runner.invoke(app, ["routes", "test", str(bundle / "alertmanager.yml"), "team"])
    assert result.exit_code == 2
    assert "expected label=value, got 'team'" in result.stderr


def test_parse_label_arguments() -> None:
    assert parse_label_arguments(['a="x \\"y\\""', "b=", "c=d=e"]) == {"a": 'x "y"', "b": "", "c": "d=e"}
    with pytest.raises(LabelArgumentError, match="not a valid label name"):
        parse_label_arguments(["1a=b"])
    with pytest.raises(LabelArgumentError, match="given twice"):
        parse_label_arguments(["a=b", "a=c"])
