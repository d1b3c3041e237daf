"""fireline's own output must pass its own linter."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fireline.cli import app
from fireline.lint.runner import lint
from tests.lint.support import AMTOOL, PROMTOOL

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_generated_bundle_has_no_findings(tmp_path: Path) -> None:
    generated = CliRunner().invoke(
        app, ["generate", str(EXAMPLES), "-c", str(EXAMPLES / "fireline.yaml"), "-o", str(tmp_path)]
    )
    assert generated.exit_code == 0, generated.output
    assert list(tmp_path.glob("prometheus/*.rules.yml")), "the bundle has no rule files"
    result = lint([tmp_path], promtool=PROMTOOL, amtool=AMTOOL)
    # info findings only say a binary is missing; anything else is a mistake in fireline's output
    real = [f for f in result.findings if f.severity != "info"]
    assert real == [], "\n".join(f"{f.file}:{f.line}: {f.check}: {f.message}" for f in real)
    assert not result.has_errors
