"""`fireline oncall` and `fireline overrides`: clear one-line errors for bad times and unreachable servers.

(Against a real `fireline serve` they run in tests/oncall/test_e2e_alertmanager.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from tests.server.support import free_port


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FIRELINE_TOKEN", "t")
    path = tmp_path / "fireline.yaml"
    path.write_text("apiVersion: fireline/v1\nkind: Config\n")
    return path


@pytest.mark.parametrize(("args", "code", "message"), [
    (["oncall", "--at", "2026-12-01T10:00"], 2, "has no time zone: add Z or an offset"),
    (["oncall", "--at", "tomorrow"], 2, "is not a time such as"),
    (["overrides", "add", "payments-primary", "bob", "--from", "now", "--to", "2026-12-24 09:00"], 2,
     "has no time zone"),
    (["oncall", "payments-primary"], 1, "cannot reach fireline at"),
    (["overrides", "list"], 1, "cannot reach fireline at"),
])
def test_errors_are_one_line_reasons(config: Path, args: list[str], code: int, message: str) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, [*args, "--server", server, "--config", str(config)])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_offline_answers_from_the_config_alone() -> None:
    issue = Path(__file__).parent / "issue16.yaml"
    result = CliRunner().invoke(app, ["oncall", "--offline", "--at", "2026-11-10T12:00:00Z", "-c", str(issue)])
    assert result.exit_code == 0, result.output
    assert "without overrides" in result.output
    row = next(line for line in result.output.splitlines() if "payments-primary" in line)
    assert "bob" in row and "layer 1" in row and "2026-11-16 08:00 UTC" in row and "U02BOB" in row
    missing = CliRunner().invoke(app, ["oncall", "nope", "--offline", "-c", str(issue)])
    assert missing.exit_code == 2 and "no schedule 'nope'" in missing.output
