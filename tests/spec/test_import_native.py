"""`fireline import`: every Sloth, OpenSLO and Pyrra file of the corpus that fireline accepts becomes
native specs that load back to the same model and generate the same rules, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.rules.plan import plans
from fireline.spec.loader import LoadedService, load_services
from fireline.yamlout import dump_yaml
from tests.rules.test_corpus_bundles import ACCEPTED, CORPUS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def rules_text(services: list[LoadedService]) -> dict[str, str]:
    return {s.spec.name: dump_yaml({"groups": [g for p in plans(s.spec) for g in p.rule_groups()]})
            for s in services}


def test_every_accepted_corpus_file_imports_to_specs_with_the_same_rules(tmp_path: Path) -> None:
    if not CORPUS.exists():
        pytest.skip(f"no corpus at {CORPUS}")
    imported = 0
    for index, path in enumerate(ACCEPTED):
        services = load_services([path])
        foreign = [s for s in services if s.format != "fireline/Service"]
        if not foreign:
            continue
        out = tmp_path / str(index)
        result = CliRunner().invoke(app, ["import", str(path), "-o", str(out)])
        assert result.exit_code == 0, f"{path}: {result.output}"
        written = sorted(out.glob("*.yaml"))
        assert len(written) == len(foreign), path
        for file in written:
            text = file.read_text(encoding="utf-8")
            assert text.startswith("# Imported by `fireline import` from ") and "apiVersion: fireline/v1" in text
        again = load_services(written)
        assert {s.format for s in again} == {"fireline/Service"}
        assert rules_text(again) == rules_text(services), path
        imported += 1
    assert imported >= 50  # Sloth, OpenSLO and Pyrra files alike: the corpus holds over a hundred


def test_import_refuses_what_it_should(tmp_path: Path) -> None:
    runner = CliRunner()
    native = runner.invoke(app, ["import", str(EXAMPLES / "checkout.yaml"), "-o", str(tmp_path / "n")])
    assert native.exit_code == 2 and "already a fireline/v1 spec" in native.output
    assert "nothing to import" in native.output
    first = runner.invoke(app, ["import", str(EXAMPLES / "sloth-myservice.yaml"), "-o", str(tmp_path / "s")])
    assert first.exit_code == 0, first.output
    text = (tmp_path / "s" / "myservice.yaml").read_text(encoding="utf-8")
    assert "objective: 99.9\n" in text
    again = runner.invoke(app, ["import", str(EXAMPLES / "sloth-myservice.yaml"), "-o", str(tmp_path / "s")])
    assert again.exit_code == 2 and "pass --force" in again.output
    forced = runner.invoke(app, ["import", str(EXAMPLES / "sloth-myservice.yaml"), "-o", str(tmp_path / "s"),
                                 "--force"])
    assert forced.exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: prometheus/v1\nservice: x\nslos:\n  - name: a\n    objective: 120\n", encoding="utf-8")
    refused = runner.invoke(app, ["import", str(bad), "-o", str(tmp_path / "b")])
    assert refused.exit_code == 2 and "bad.yaml:" in refused.output
