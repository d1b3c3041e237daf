"""Budget remaining is event-weighted: all errors over all events, not an average of 5m ratios.

Ten times more traffic by day than by night and errors only at night: per event the error ratio
is 0.09%, but half of all 5m windows show 1%, so an average of 5m ratios (Sloth's optimised
period rule) reports 0.5% and a budget overspent five times. promtool evaluates both.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fireline.adapters import promtool
from fireline.rules.generate import render_rules_file
from fireline.rules.series import plan_series
from fireline.rules.testgen import Segment, series_values
from fireline.spec.loader import load_services
from fireline.yamlout import dump_yaml
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.promtool

DAY = Segment(720, 0.0, 1000.0)
NIGHT = Segment(720, 0.01, 100.0)
MINUTES = 2 * 720


def _expected_remaining() -> float:
    errors = NIGHT.minutes * NIGHT.total_per_minute * NIGHT.error_ratio
    events = (DAY.minutes * DAY.total_per_minute + NIGHT.minutes * NIGHT.total_per_minute)
    return 1 - (errors / events) / 0.001


def _run(tmp_path: Path, rules_text: str) -> promtool.ToolRun:
    (service,) = [s for s in load_services([EXAMPLES / "checkout.yaml"])]
    slo = service.spec.spec.slos[0]
    plan = plan_series(slo)
    assert plan is not None
    (tmp_path / "rules.yml").write_text(rules_text)
    # To a tenth: the 5m rates lag the last minutes and smear the first ones by a fraction of a point
    # of budget, where an average of 5m ratios is off by four whole budgets.
    expected = round(_expected_remaining(), 1)
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series_values(plan, [DAY, NIGHT]),
            "promql_expr_test": [{
                "expr": 'round(slo:error_budget_remaining:ratio{service="checkout",slo="availability"}, 0.1)',
                "eval_time": f"{MINUTES}m",
                "exp_samples": [{"labels": '{service="checkout",slo="availability",tier="1"}', "value": expected}],
            }],
        }],
    }
    (tmp_path / "test.yml").write_text(dump_yaml(test))
    return promtool.test_rules([tmp_path / "test.yml"])


def _rules() -> str:
    (service,) = load_services([EXAMPLES / "checkout.yaml"])
    return render_rules_file(service.spec, "checkout.yaml")


def test_ground_truth_of_the_scenario() -> None:
    assert _expected_remaining() == pytest.approx(0.0909, abs=1e-4)


def test_generated_budget_remaining_is_event_weighted(tmp_path: Path) -> None:
    run = _run(tmp_path, _rules())
    assert run.ok, run.output


def test_an_average_of_5m_ratios_fails_the_same_test(tmp_path: Path) -> None:
    text = _rules()
    selector = '{service="checkout",slo="availability"}'
    event_weighted = f"slo:sli_errors:count30d{selector}\n      /\n      slo:sli_total:count30d{selector}"
    assert event_weighted in text
    averaged = text.replace(event_weighted, f"avg_over_time(slo:sli_error:ratio_rate5m{selector}[30d])")
    run = _run(tmp_path, averaged)
    assert not run.ok
    # about -4: a budget reported overspent five times when a tenth of it is left
    assert re.search(r'got: \{service="checkout", slo="availability", tier="1"\} -(3\.9\d*|4)E\+00', run.output)
