"""Grouped SLOs (`group_by`, Pyrra's `grouping`): one budget and one set of alerts per label value.

Checked by promtool on the generated rules: each group burns, pages and keeps its budget on its own,
a group that has never failed reads 0% errors (not "no data"), and the alerts' annotations read the
alert's own group.
"""

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
from fireline.rules.plan import BUDGET_REMAINING, RulePlan, ratio_series
from fireline.rules.sli import BASE_WINDOW
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from tests.conftest import SHARED

PYRRA = SHARED / "corpus" / "pyrra" / "examples"

SPEC = """\
apiVersion: fireline/v1
kind: Service
metadata: {name: api}
spec:
  team: web
  slos:
    - name: availability
      objective: 99.9
      group_by: [route]
      sli:
        events:
          errors: sum by (route) (rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))
          total: sum by (route) (rate(http_requests_total{job="api"}[{{.window}}]))
    - name: latency
      objective: 99
      group_by: [route]
      sli:
        latency: {histogram: http_request_duration_seconds, selector: '{job="api"}', threshold: 0.5}
"""

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool is needed (Debian package prometheus)")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grouped")
    spec = _write(root / "api.yaml", SPEC)
    out = root / "out"
    result = CliRunner().invoke(app, ["generate", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _promtool_test(tmp_path: Path, rules: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "grouped.test.yml"
    with path.open("w", encoding="utf-8") as stream:
        YAML().dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}, stream)
    return subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=300)


def test_every_recording_and_alert_keeps_the_group_label(bundle: Path) -> None:
    service = load_services([_write(bundle.parent / "again.yaml", SPEC)])[0].spec
    for plan in (RulePlan.build(service, slo) for slo in service.spec.slos):
        assert plan.group_by == ("route",)
        for recording in plan.recordings:
            text = recording.expr.text()
            # Raw reads aggregate by the group; recordings read recordings (which carry it) or constants.
            assert "sum(" not in text.replace("sum_over_time(", ""), (recording.name, text)
    tests = (bundle / "prometheus" / "tests" / "api.test.yml").read_text(encoding="utf-8")
    assert tests.count("one group failing pages for that group") == 2


@needs_promtool
def test_generated_bundle_passes_its_own_tests(bundle: Path) -> None:
    results = check_bundle(bundle)
    assert results and all(r.ok for r in results), [r.output for r in results if not r.ok]


@needs_promtool
def test_a_group_that_never_failed_reads_zero_errors_and_annotations_read_the_alerts_group(
        bundle: Path, tmp_path: Path) -> None:
    ids = 'service="api",slo="availability"'
    test: dict[str, Any] = {
        "interval": "1m",
        "input_series": [
            # /search fails everything; /checkout has never failed (its error series does not exist).
            # /checkout sorts first, so an annotation that read every group's series would show its budget.
            {"series": 'http_requests_total{job="api",route="search",code="500"}', "values": "0+100x90"},
            {"series": 'http_requests_total{job="api",route="checkout",code="200"}', "values": "0+100x90"},
        ],
        "promql_expr_test": [
            {"expr": f'{ratio_series(BASE_WINDOW)}{{{ids},route="checkout"}}', "eval_time": "60m",
             "exp_samples": [{"labels": f'{ratio_series(BASE_WINDOW)}{{route="checkout", service="api", '
                                        f'slo="availability"}}', "value": 0}]},
            {"expr": f'round({BUDGET_REMAINING}{{{ids},route="checkout"}}, 0.001)', "eval_time": "60m",
             "exp_samples": [{"labels": '{route="checkout", service="api", slo="availability"}', "value": 1}]},
        ],
        # Deliberately no expected alerts: promtool then prints every alert firing with its rendered
        # annotations, which is what this test reads.
        "alert_rule_test": [{"eval_time": "60m", "alertname": "ApiAvailabilityErrorBudgetBurn", "exp_alerts": []}],
    }
    done = _promtool_test(tmp_path, bundle / "prometheus" / "api.rules.yml", [test])
    out = (done.stdout + done.stderr).replace("\\", "")
    assert "FAILED" in out and "got:[" in out, out
    fired = [line for line in out.split("got:[", 1)[1].splitlines() if "Labels:" in line or "Annotations:" in line]
    labels, annotations = fired[0::2], fired[1::2]
    # Four tiers fire, all for /search; /checkout (0% errors) fires nothing.
    assert len(labels) == 4 and all('route="search"' in line for line in labels), out
    # An hour of total outage read by the 30d recording (1h of history): ratio 1, budget 1 - 1/0.001.
    assert all('error_budget_remaining="-999"' in line for line in annotations), out
    assert all("Error ratio over " in line and ": 100% (objective" in line for line in annotations), out
    # Without the alert test, the expectations above pass as they are.
    test["alert_rule_test"] = []
    done = _promtool_test(tmp_path, bundle / "prometheus" / "api.rules.yml", [test])
    assert done.returncode == 0, done.stdout + done.stderr


def _errors(text: str, tmp_path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_services([_write(tmp_path / "bad.yaml", text)])
    return str(caught.value)


def test_a_query_that_sums_the_group_away_is_refused_naming_it(tmp_path: Path) -> None:
    text = SPEC.replace("errors: sum by (route) (", "errors: sum (")
    message = _errors(text, tmp_path)
    assert "the errors query aggregates away the group_by label(s) route" in message
    assert "bad.yaml:" in message


@pytest.mark.parametrize(("group_by", "said"), [
    ("[service]", "group_by label 'service' is set by fireline"),
    ("[le]", "group_by label 'le' is set by fireline"),
    ("[route, route]", "group_by names a label twice"),
    ("['1route']", "is not a valid Prometheus label name"),
])
def test_bad_group_by_is_refused(tmp_path: Path, group_by: str, said: str) -> None:
    assert said in _errors(SPEC.replace("group_by: [route]", f"group_by: {group_by}", 1), tmp_path)


def test_without_and_selecting_aggregations_keep_the_group(tmp_path: Path) -> None:
    text = SPEC.replace("sum by (route) (rate(http_requests_total{job=\"api\"}[{{.window}}]))",
                        "sum without (pod, instance) (rate(http_requests_total{job=\"api\"}[{{.window}}]))")
    service = load_services([_write(tmp_path / "ok.yaml", text)])[0].spec
    assert service.spec.slos[0].group_by == ["route"]
    assert "sum without (route)" not in text
    message = _errors(text.replace("without (pod, instance)", "without (route)"), tmp_path)
    assert "the total query aggregates away the group_by label(s) route" in message


def test_pyrra_grouping_becomes_group_by() -> None:
    if not PYRRA.exists():
        pytest.skip(f"no corpus at {PYRRA}")
    service = load_services([PYRRA / "prometheus-http.yaml"])[0].spec
    slo = service.spec.slos[0]
    assert slo.group_by == ["handler"]
    assert slo.sli.events is not None and slo.sli.events.total.startswith("sum by (handler) (rate(")


def test_pyrra_grouping_by_an_identity_label_is_refused_clearly() -> None:
    if not PYRRA.exists():
        pytest.skip(f"no corpus at {PYRRA}")
    with pytest.raises(SpecError) as caught:
        load_services([PYRRA / "pyrra-connect-errors.yaml"])
    message = str(caught.value)
    assert "pyrra-connect-errors.yaml:20:11" in message and "grouping by 'service' is not supported" in message
