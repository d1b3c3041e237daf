"""`fireline generate --compat sloth`: Sloth's labels and metadata series beside fireline's, checked
against Sloth's own generated rules for the same spec and by promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from fireline.check import check_bundle
from fireline.cli import app
from tests.conftest import SHARED

SLOTH = SHARED / "corpus" / "sloth" / "examples"
SLOTH_IDS = {"sloth_id": "myservice-requests-availability", "sloth_service": "myservice",
             "sloth_slo": "requests-availability"}


def _rules(path: Path) -> list[dict[str, Any]]:
    return [r for g in YAML(typ="safe").load(path.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SLOTH.exists():
        pytest.skip(f"no corpus at {SLOTH}")
    out = tmp_path_factory.mktemp("compat") / "out"
    result = CliRunner().invoke(app, ["generate", str(SLOTH / "getting-started.yml"), "-o", str(out),
                                      "--compat", "sloth"])
    assert result.exit_code == 0, result.output
    return out


def test_every_series_and_alert_label_sloth_writes_is_there(bundle: Path) -> None:
    ours = _rules(bundle / "prometheus" / "myservice.rules.yml")
    theirs = _rules(SLOTH / "_gen" / "getting-started.yml")
    recorded = {r["record"]: r["labels"] for r in ours if "record" in r}
    for rule in (r for r in theirs if "record" in r):
        assert rule["record"] in recorded, rule["record"]
        labels = recorded[rule["record"]]
        # Sloth's identity labels on each of its series; sloth_window is not written (docs/series.md).
        assert {k: labels.get(k) for k in SLOTH_IDS} == SLOTH_IDS, rule["record"]
        expected = {k: v for k, v in rule.get("labels", {}).items() if k not in ("sloth_window", "cmd")}
        for key in ("sloth_mode", "sloth_version", "sloth_spec"):
            expected.pop(key, None)
        assert expected.items() <= labels.items(), (rule["record"], expected, labels)
    info = recorded["sloth_slo_info"]
    assert info["sloth_objective"] == "99.9" and info["sloth_mode"] == "fireline-compat"
    their_alerts = {r["labels"]["sloth_severity"]: r["labels"] for r in theirs if "alert" in r}
    for alert in (r for r in ours if r.get("alert") == "MyServiceHighErrorRate"):
        severity = alert["labels"]["sloth_severity"]
        assert their_alerts[severity].items() <= alert["labels"].items()


def test_the_bundle_passes_promtool_and_sloth_series_have_sloth_meaning(bundle: Path, tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is needed (Debian package prometheus)")
    assert all(r.ok for r in check_bundle(bundle)), [r.output for r in check_bundle(bundle) if not r.ok]
    ids = ",".join(f'{k}="{v}"' for k, v in SLOTH_IDS.items())
    series = 'http_request_duration_seconds_count{job="myservice",code="%s"}'
    # 10 requests a second, 0.05% failing (half the 0.1% budget): burn rate 0.5, half the budget left.
    test = {
        "rule_files": [str(bundle / "prometheus" / "myservice.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": series % "200", "values": "0+599.7x180"},
                             {"series": series % "500", "values": "0+0.3x180"}],
            "promql_expr_test": [
                {"expr": f"round(slo:current_burn_rate:ratio{{{ids}}}, 0.01)", "eval_time": "150m",
                 "exp_samples": [{"labels": _labels("slo:current_burn_rate:ratio", bundle, False), "value": 0.5}]},
                {"expr": f"round(slo:period_error_budget_remaining:ratio{{{ids}}}, 0.01)", "eval_time": "150m",
                 "exp_samples": [{"labels": _labels("slo:period_error_budget_remaining:ratio", bundle, False),
                                  "value": 0.5}]},
                {"expr": f"slo:time_period:days{{{ids}}}", "eval_time": "150m",
                 "exp_samples": [{"labels": _labels("slo:time_period:days", bundle), "value": 30}]},
                {"expr": f"count(sloth_slo_info{{{ids}}})", "eval_time": "150m",
                 "exp_samples": [{"labels": "{}", "value": 1}]},
            ]}],
    }
    path = tmp_path / "sloth-meaning.test.yml"
    stream = path.open("w", encoding="utf-8")
    YAML().dump(test, stream)
    stream.close()
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _labels(record: str, bundle: Path, named: bool = True) -> str:
    """The series' labels as promtool prints them; round() and other functions drop __name__."""
    labels = next(r["labels"] for r in _rules(bundle / "prometheus" / "myservice.rules.yml")
                  if r.get("record") == record)
    shown = {"__name__": record, **labels} if named else labels
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}"


def test_unknown_compat_mode_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", str(SLOTH / "getting-started.yml"), "-o", str(tmp_path),
                                      "--compat", "pyrra"])
    assert result.exit_code == 2 and "--compat 'pyrra': use sloth" in result.output


def test_info_labels_go_on_sloth_slo_info(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["generate", str(SLOTH / "contrib-slo-plugins.yml"), "-o", str(out),
                                      "--compat", "sloth"])
    assert result.exit_code == 0, result.output
    rules = _rules(out / "prometheus" / "myservice.rules.yml")
    infos = [r["labels"] for r in rules if r.get("record") == "sloth_slo_info"]
    assert {"plug-l1": "in-k1", "plug-l2": "in-k2", "plug-l3": "in-k3"}.items() <= infos[0].items()
    assert not any("plug-l1" in labels for labels in infos[1:])
