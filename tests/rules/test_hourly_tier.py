"""The hourly tier (rules.plan, Source.HOURLY) adds up to the event-weighted sum it replaces.

The 1d, 3d and SLO windows are summed from whole clock hours of recorded counts, plus the hour so
far, minus the part of the hour one window ago that lies before the window's start. promtool
evaluates the generated rules over a day and a half with two error spikes placed to cross every
edge: one that leaves the 1d window hour by hour across its old end, one inside the current hour.
At each checked time the recorded 1d count must equal `sum_over_time(slo:sli_errors:rate5m[1d])`
times the sample spacing (what the 5m-recording form computed, reading 1,440 samples instead of
24) to within one minute of spike errors; a missing old-end correction would be off by 2,500 or
more, a double-counted hour by thousands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fireline.adapters import promtool
from fireline.rules.plan import ERRORS_1H, ERRORS_5M, TOTAL_5M, RulePlan, count_series, ratio_series
from fireline.rules.series import plan_series
from fireline.rules.testgen import Segment, series_values
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services
from fireline.yamlout import dump_yaml
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.promtool

SELECTOR = '{service="checkout",slo="availability"}'
SPIKE_ERRORS_PER_MINUTE = 250.0  # 25% of 1000 requests a minute
# clean 80m, a 40m spike from 1h20m to 2h, clean up to 1d2h05m, a 3m spike, clean to the end
SEGMENTS = [Segment(80, 0.0), Segment(40, 0.25), Segment(1440 + 5, 0.0), Segment(3, 0.25), Segment(30, 0.0)]
ONE_MINUTE = SPIKE_ERRORS_PER_MINUTE + 10


def _close(expr: str, reference: str, within: float, minute: int) -> dict[str, object]:
    return {"expr": f"min(abs({expr} - {reference}) < bool {within})", "eval_time": f"{minute}m",
            "exp_samples": [{"labels": "{}", "value": 1}]}


def _above(expr: str, floor: float, minute: int) -> dict[str, object]:
    """Not both sides wrong alike (both empty, both 0): the spike is there."""
    return {"expr": f"min({expr} > bool {floor})", "eval_time": f"{minute}m",
            "exp_samples": [{"labels": "{}", "value": 1}]}


def test_the_hourly_windows_equal_the_5m_recording_sums_across_both_edges(tmp_path: Path) -> None:
    (service,) = load_services([EXAMPLES / "checkout.yaml"])
    slo = next(s for s in service.spec.spec.slos if s.name == "availability")
    plan = RulePlan.build(service.spec, slo)
    (tmp_path / "rules.yml").write_text(dump_yaml({"groups": plan.rule_groups()}), encoding="utf-8")
    inputs = plan_series(slo)
    assert inputs is not None
    day = Duration.parse("1d")
    count = f"{count_series(False, day)}{SELECTOR}"
    reference = f"sum_over_time({ERRORS_5M}{SELECTOR}[1d]) * 60"
    checks = [
        # a day in: everything so far, at the top of an hour (the hour's count just recorded)
        _close(count, reference, ONE_MINUTE, 1440),
        # an hour later, at the top of the hour: the hour that just left was recorded exactly 1d ago
        _close(f"{count_series(True, day)}{SELECTOR}", f"sum_over_time({TOTAL_5M}{SELECTOR}[1d]) * 60", 1010, 1500),
        # the old end inside the first spike: 30 of its 40 minutes are still in the window
        _close(count, reference, ONE_MINUTE, 1440 + 90),
        _above(count, 7000, 1440 + 90),
        # the spike has left; the second one is under way inside the current hour
        _close(count, reference, ONE_MINUTE, 1440 + 127),
        _above(count, 100, 1440 + 127),
        # at the end: the ratio itself, and one hourly count per hour (promtool evaluates every minute)
        _close(f"{ratio_series(day)}{SELECTOR}",
               f"sum_over_time({ERRORS_5M}{SELECTOR}[1d]) / sum_over_time({TOTAL_5M}{SELECTOR}[1d])", 2e-5,
               1440 + 150),
        {"expr": f"min(count_over_time({ERRORS_1H}{SELECTOR}[1d]))", "eval_time": f"{1440 + 150}m",
         "exp_samples": [{"labels": "{}", "value": 24}]},
        # the SLO window (30d) over a younger history: all of it
        _close(f"{count_series(True, slo.window)}{SELECTOR}", f"sum_over_time({TOTAL_5M}{SELECTOR}[30d]) * 60",
               1000 + 10, 1440 + 150),
    ]
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series_values(inputs, SEGMENTS),
                       "promql_expr_test": checks}]}
    (tmp_path / "test.yml").write_text(dump_yaml(test), encoding="utf-8")
    run = promtool.test_rules([tmp_path / "test.yml"])
    assert run.ok, run.output
