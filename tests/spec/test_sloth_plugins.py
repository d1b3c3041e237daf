"""Sloth SLO plugins are read, named in a warning with what fireline does not apply, never dropped silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.spec.loader import load_services
from tests.conftest import SHARED

SLOTH = SHARED / "corpus" / "sloth"


@pytest.fixture(autouse=True)
def corpus() -> None:
    if not SLOTH.exists():
        pytest.skip(f"no corpus at {SLOTH}")


def test_each_plugin_is_named_with_its_line_and_what_is_not_applied() -> None:
    loaded = load_services([SLOTH / "examples" / "contrib-slo-plugins.yml"])[0]
    said = [(w.line, w.field, w.message) for w in loaded.warnings]
    assert said[0][:2] == (14, "slos[0].plugins.chain[0]")
    assert "sloth.dev/contrib/info_labels/v1: kept as the SLO's info_labels" in said[0][2]
    assert "--compat sloth" in said[0][2]
    assert loaded.spec.spec.slos[0].info_labels == {"plug-l1": "in-k1", "plug-l2": "in-k2", "plug-l3": "in-k3"}
    assert said[1][:2] == (45, "slos[1].plugins.chain[0]") and "rule_intervals/v1" in said[1][2]
    crd = load_services([SLOTH / "testdata" / "in-slo-plugin-k8s.yaml"])[0]
    fields = [w.field for w in crd.warnings]
    assert fields[:2] == ["spec.sloPlugins.chain[0]", "spec.sloPlugins.chain[1]"]
    assert all("a plugin fireline does not know" in w.message for w in crd.warnings)


def test_plain_specs_have_no_warnings_and_commands_print_them(tmp_path: Path) -> None:
    assert load_services([SLOTH / "examples" / "getting-started.yml"])[0].warnings == ()
    result = CliRunner().invoke(app, ["generate", str(SLOTH / "examples" / "contrib-denominator-corrected.yaml"),
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "denominator_corrected_rules/v1 is not applied" in result.output
    assert "already weighted by traffic" in result.output
