"""The alerting holes the rule plan closes, each proven with promtool on the generated bundle.

For every hole the generated tests pass on fireline's rules, and the same tests fail on rules of
the shape that had the hole (the old generator's output, or a mutation of the rules file that
reintroduces it): the tests can fail, and they fail for exactly this reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from fireline.adapters import promtool
from fireline.bundle import BundleContext, generate_bundle
from fireline.check import check_bundle
from fireline.rules.generate import render_rules_file
from fireline.spec.loader import load_services
from tests.conftest import SHARED

pytestmark = pytest.mark.promtool

GOOD_TOTAL = """\
apiVersion: fireline/v1
kind: Service
metadata: {name: signup}
spec:
  team: growth
  slos:
    - name: availability
      objective: 99.9
      sli:
        events:
          good: sum(rate(http_requests_total{job="signup",code!~"5.."}[{{.window}}]))
          total: sum(rate(http_requests_total{job="signup"}[{{.window}}]))
"""

# What the OpenSLO importer wrote for good/total before the fix, kept as the hole's reference.
OLD_GOOD_TOTAL = GOOD_TOTAL.replace(
    '          good: sum(rate(http_requests_total{job="signup",code!~"5.."}[{{.window}}]))\n',
    '          errors: (sum(rate(http_requests_total{job="signup"}[{{.window}}])))'
    ' - (sum(rate(http_requests_total{job="signup",code!~"5.."}[{{.window}}])))\n',
)

SEPARATE_TOTAL = """\
apiVersion: fireline/v1
kind: Service
metadata: {name: ledger}
spec:
  team: money
  slos:
    - name: availability
      objective: 99.9
      sli:
        events:
          errors: sum(rate(ledger_errors_total{job="ledger"}[{{.window}}]))
          total: sum(rate(ledger_requests_total{job="ledger"}[{{.window}}]))
"""

GAUGE = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: batch-success}
spec:
  service: batch
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
  timeWindow: [{duration: 30d, isRolling: true}]
  indicator:
    metadata: {name: batch-ok}
    spec:
      ratioMetric:
        counter: false
        good: {metricSource: {type: Prometheus, spec: {query: 'batch_jobs_succeeded{job="batch"}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'batch_jobs_finished{job="batch"}'}}}
"""


def _bundle(tmp_path: Path, name: str, text: str) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    generate_bundle(BundleContext(services=load_services([spec]), out=out))
    return out


def _all_pass(out: Path) -> None:
    results = check_bundle(out)
    assert results and all(r.ok for r in results), [(r.step, r.output) for r in results if not r.ok]


def _rules(out: Path, service: str) -> dict[str, object]:
    data = YAML(typ="safe").load((out / "prometheus" / f"{service}.rules.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_good_events_absent_pages_and_the_old_shape_does_not(tmp_path: Path) -> None:
    out = _bundle(tmp_path, "signup", GOOD_TOTAL)
    _all_pass(out)
    tests = out / "prometheus" / "tests" / "signup.test.yml"
    assert "the good-events series does not exist: the outage pages" in tests.read_text()
    # The rules fireline wrote before the fix, under the same test file: the outage never pages.
    old_spec = tmp_path / "old.yaml"
    old_spec.write_text(OLD_GOOD_TOTAL, encoding="utf-8")
    (old,) = load_services([old_spec])
    (out / "prometheus" / "signup.rules.yml").write_text(render_rules_file(old.spec, "old.yaml"))
    run = promtool.test_rules([tests])
    assert not run.ok
    # Exactly the good-absent checks fail: no page, and a 5m error ratio of 0 where every request failed.
    assert "ALERTS" in run.output and "round(slo:sli_error:ratio_rate5m" in run.output


def test_total_absent_means_no_data_never_zero_errors(tmp_path: Path) -> None:
    out = _bundle(tmp_path, "ledger", SEPARATE_TOTAL)
    _all_pass(out)
    tests = out / "prometheus" / "tests" / "ledger.test.yml"
    assert "error events but no total series: the SLI has no data and nothing fires" in tests.read_text()
    # A 5m ratio that defaults to 0 (`or vector(0)` on the ratio, as copy-pasted rules do) reads an
    # SLI without traffic as "0% errors": the generated test catches it.
    rules = out / "prometheus" / "ledger.rules.yml"
    text = rules.read_text()
    mutated = re.sub(r"(slo:sli_total:rate5m\{service=\"ledger\",slo=\"availability\"\})\n",
                     r"\1 or on() vector(0)\n", text, count=1)
    assert mutated != text
    rules.write_text(mutated)
    run = promtool.test_rules([tests])
    assert not run.ok and "absent(slo:sli_error:ratio_rate5m" in run.output


def test_disabled_alerting_writes_no_alert_at_all(tmp_path: Path) -> None:
    source = SHARED / "corpus" / "sloth" / "examples" / "no-alerts.yml"
    if not source.exists():
        pytest.skip(f"no corpus at {source}")
    out = _bundle(tmp_path, "no-alerts", source.read_text(encoding="utf-8"))
    rules = _rules(out, "myapp")
    groups = rules["groups"]
    assert isinstance(groups, list)
    assert [r for g in groups for r in g["rules"] if "alert" in r] == []
    _all_pass(out)
    tests = out / "prometheus" / "tests" / "myapp.test.yml"
    assert "alerting is off" in tests.read_text()
    # The budget alerts the generator used to add anyway (one of them a page) fail the same test.
    path = out / "prometheus" / "myapp.rules.yml"
    text = path.read_text()
    budget_alert = (
        "  - alert: MyappHttpAvailabilityErrorBudgetLow\n"
        "    expr: slo:error_budget_remaining:ratio{service=\"myapp\",slo=\"http-availability\"} < 0.1\n"
        "    labels:\n      service: myapp\n      slo: http-availability\n      fireline_severity: page\n"
    )
    path.write_text(text.rstrip("\n") + "\n" + budget_alert)
    assert promtool.check_rules([path]).ok
    run = promtool.test_rules([tests])
    assert not run.ok and "alertstate" in run.output


def test_gauge_sli_is_summed_never_wrapped_in_rate(tmp_path: Path) -> None:
    out = _bundle(tmp_path, "batch", GAUGE)
    rules = (out / "prometheus" / "batch.rules.yml").read_text()
    assert "sum_over_time(batch_jobs_succeeded" in rules and "rate(batch_jobs" not in rules
    _all_pass(out)
    tests = out / "prometheus" / "tests" / "batch.test.yml"
    # The generated tests feed gauges (each sample the minute's count), not counters.
    assert re.search(r"batch_jobs_finished\{job=\"batch\"\}\s*\n\s*values: '?1000\+0x", tests.read_text())
    # Wrapped in rate() as before the fix, the gauge's steady values read as no events at all.
    path = out / "prometheus" / "batch.rules.yml"
    path.write_text(rules.replace("sum_over_time(batch_jobs", "rate(batch_jobs"))
    run = promtool.test_rules([tests])
    assert not run.ok
