"""The pre-commit hooks fireline ships run real commands with arguments those commands accept."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ruamel.yaml import YAML
from typer.testing import CliRunner

from fireline.cli import app
from fireline.routing.expected import write_alertmanager
from fireline.spec.loader import load_config

ROOT = Path(__file__).parents[2]


def hooks() -> dict[str, dict[str, object]]:
    data = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in data}


def test_hooks_are_well_formed() -> None:
    found = hooks()
    assert set(found) == {"fireline-lint", "fireline-routes-test"}
    for hook in found.values():
        assert {"id", "name", "entry", "language"} <= hook.keys()
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        re.compile(str(hook["files"]))


def test_lint_hook_passes_on_the_generated_example_bundle(tmp_path: Path) -> None:
    examples = ROOT / "examples"
    generated = CliRunner().invoke(app, ["generate", str(examples), "-c", str(examples / "fireline.yaml"),
                                         "-o", str(tmp_path)])
    assert generated.exit_code == 0, generated.output
    assert (tmp_path / "alertmanager" / "alertmanager.yml").exists()
    assert (tmp_path / "runbooks" / "checkout-availability-page.md").exists()
    hook = hooks()["fireline-lint"]
    lint = [*shlex.split(str(hook["entry"]))[1:], "--format", "json", str(tmp_path)]
    result = CliRunner().invoke(app, lint)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"
    assert re.search(str(hook["files"]), "alertmanager/alertmanager.yml")


def test_routes_hook_arguments(tmp_path: Path) -> None:
    write_alertmanager(load_config(ROOT / "examples" / "fireline.yaml"), ["payments"], tmp_path / "out")
    hook = hooks()["fireline-routes-test"]
    args = [str(a) for a in hook["args"]]  # type: ignore[attr-defined]
    # The hook's default paths are relative to the repository; here the bundle lives in tmp_path.
    paths = [str(tmp_path / a) if a.startswith("out/") else a for a in args]
    command = [*shlex.split(str(hook["entry"]))[1:], *paths]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "every row reaches its expected receivers" in result.stdout
