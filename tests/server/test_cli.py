"""`fireline serve` refuses to start without what it needs, with a one-line reason (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from tests.server.support import free_port


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "fireline.yaml"
    path.write_text("apiVersion: fireline/v1\nkind: Config\n")
    return path


@pytest.mark.parametrize("env,args,code,message", [
    ({}, [], 2, "no API token: set server.token_file in fireline.yaml or FIRELINE_TOKEN"),
    ({"FIRELINE_TOKEN": "t"}, ["--database", "mysql://x/y"], 2, "must be sqlite:///PATH or postgresql://"),
    ({"FIRELINE_TOKEN": "t"}, ["--database", "postgresql://postgres@127.0.0.1:{port}/x"], 1,
     "cannot migrate the database"),
])
def test_serve_startup_errors(config: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                              args: list[str], code: int, message: str) -> None:
    monkeypatch.delenv("FIRELINE_TOKEN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = [a.replace("{port}", str(free_port())) for a in args]
    result = CliRunner().invoke(app, ["serve", "--config", str(config), *args])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_client_reports_an_unreachable_server(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_TOKEN", "t")
    result = CliRunner().invoke(app, ["incidents", "list", "--server", f"http://127.0.0.1:{free_port()}",
                                      "--config", str(config)])
    assert result.exit_code == 1 and "cannot reach fireline" in result.output


def test_config_errors_point_at_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_TOKEN", "t")
    path = tmp_path / "fireline.yaml"
    path.write_text("apiVersion: fireline/v1\nkind: Config\nserver:\n  listen: nowhere\n")
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 2 and "fireline.yaml:4" in result.output and "host:port" in result.output
