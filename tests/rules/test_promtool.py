"""The generated rules load in promtool and their generated unit tests pass; the tests can fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fireline.adapters import promtool
from fireline.bundle import BundleContext, RuleFormat, generate_bundle
from fireline.check import check_bundle
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.promtool


def _bundle(out: Path, paths: list[Path], rule_format: RuleFormat = RuleFormat.PROMETHEUS) -> Path:
    generate_bundle(BundleContext(services=load_services(paths), out=out, rule_format=rule_format))
    return out


@pytest.mark.parametrize("spec", ["checkout.yaml", "search.yaml", "sloth-myservice.yaml"])
def test_generated_rules_pass_promtool_check_and_test(tmp_path: Path, spec: str) -> None:
    results = check_bundle(_bundle(tmp_path, [EXAMPLES / spec]))
    assert [(r.step, r.ok) for r in results] == [("check rules", True), ("test rules", True),
                                                 ("behaviour", True)], [
        r.output for r in results if not r.ok]


def test_prometheus_operator_bundle_is_checked_from_its_manifests(tmp_path: Path) -> None:
    results = check_bundle(_bundle(tmp_path, [EXAMPLES / "search.yaml"], RuleFormat.PROMETHEUS_OPERATOR))
    assert all(r.ok for r in results) and len(results) == 3


def test_generated_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """Rules with a threshold ten times too high must fail the generated tests."""
    out = _bundle(tmp_path, [EXAMPLES / "checkout.yaml"])
    rules = out / "prometheus" / "checkout.rules.yml"
    rules.write_text(rules.read_text().replace("> 14.4", "> 144"))
    run = promtool.test_rules([out / "prometheus" / "tests" / "checkout.test.yml"])
    assert not run.ok
    # the 1h/5m tier no longer fires at 1.1x its threshold
    assert 'short_window=\\"5m\\"' in run.output and "exp: {} 1E+00" in run.output


def test_generated_tests_catch_an_average_of_ratios_budget(tmp_path: Path) -> None:
    out = _bundle(tmp_path, [EXAMPLES / "checkout.yaml"])
    rules = out / "prometheus" / "checkout.rules.yml"
    text = rules.read_text()
    # Break the budget: remaining computed against ten times the real budget.
    broken = re.sub(r"(slo:error_budget_remaining:ratio\n    expr: 1 - \S+) / 0.001", r"\1 / 0.01", text)
    assert broken != text
    rules.write_text(broken)
    run = promtool.test_rules([out / "prometheus" / "tests" / "checkout.test.yml"])
    assert not run.ok and "round(slo:error_budget_remaining:ratio" in run.output and "9.5E-01" in run.output
