"""A Sloth prometheus/v1 spec makes the same page/ticket decisions as Sloth's own rules for it.

Sloth's generated rules (../shared/reference/sloth-golden/getting-started.out.yaml) and fireline's
rules for the same input spec are run by promtool over the same input series, against the same
expectations. The expectations come from the closed form of the SRE Workbook tiers (page: 5m and
1h above 14.4x, or 30m and 6h above 6x; ticket: 2h and 1d above 3x, or 6h and 3d above 1x of the
0.1% budget), at times away from any transition, so each engine is checked, not compared to itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireline.adapters import promtool
from fireline.rules.generate import render_rules_file
from fireline.rules.series import plan_series
from fireline.rules.testgen import Segment, series_values
from fireline.spec.loader import load_services
from fireline.yamlout import dump_yaml
from tests.conftest import SHARED

GOLDEN = SHARED / "reference" / "sloth-golden"
pytestmark = [
    pytest.mark.promtool,
    pytest.mark.skipif(not GOLDEN.is_dir(), reason="../shared/reference is not beside this checkout"),
]

ALERT = "MyServiceHighErrorRate"
PAGE, TICKET = "pageteam", "slack"  # the spec's page_alert / ticket_alert severity labels

# (name, segments, [(minute, page firing?, ticket firing?)])
SCENARIOS: list[tuple[str, list[Segment], list[tuple[int, int, int]]]] = [
    ("clean", [Segment(200, 0.0)], [(30, 0, 0), (190, 0, 0)]),
    ("0.05% errors: under every threshold", [Segment(200, 0.0005)], [(150, 0, 0)]),
    ("0.15% errors: 6h/3d ticket only", [Segment(400, 0.0015)], [(390, 0, 1)]),
    ("0.4% errors: 2h/1d ticket, no page", [Segment(200, 0.004)], [(150, 0, 1)]),
    ("0.8% errors: 30m/6h page", [Segment(200, 0.008)], [(150, 1, 1)]),
    ("2% errors: 5m/1h page", [Segment(200, 0.02)], [(20, 1, 1)]),
    (
        "30m outage after a clean hour, then recovery",
        [Segment(60, 0.0), Segment(30, 1.0), Segment(60, 0.0)],
        [(55, 0, 0), (65, 1, 1), (125, 0, 1)],
    ),
]


def _firing(severity: str) -> str:
    return f'max(ALERTS{{alertname="{ALERT}",severity="{severity}",alertstate="firing"}}) or vector(0)'


def _tests() -> dict[str, Any]:
    (loaded,) = load_services([GOLDEN / "getting-started.in.yaml"])
    plan = plan_series(loaded.spec.spec.slos[0])
    assert plan is not None
    tests = []
    for name, segments, checks in SCENARIOS:
        expectations = []
        for minute, page, ticket in checks:
            for severity, expected in ((PAGE, page), (TICKET, ticket)):
                expectations.append({"expr": _firing(severity), "eval_time": f"{minute}m",
                                     "exp_samples": [{"labels": "{}", "value": expected}]})
        tests.append({"name": name, "interval": "1m", "input_series": series_values(plan, segments),
                      "promql_expr_test": expectations})
    return {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}


def _run(tmp_path: Path, rules: str) -> promtool.ToolRun:
    (tmp_path / "rules.yml").write_text(rules)
    (tmp_path / "test.yml").write_text(dump_yaml(_tests()))
    return promtool.test_rules([tmp_path / "test.yml"])


def test_sloths_own_rules_meet_the_expectations(tmp_path: Path) -> None:
    run = _run(tmp_path, (GOLDEN / "getting-started.out.yaml").read_text())
    assert run.ok, run.output


def test_fireline_rules_for_the_sloth_spec_make_the_same_decisions(tmp_path: Path) -> None:
    (loaded,) = load_services([GOLDEN / "getting-started.in.yaml"])
    run = _run(tmp_path, render_rules_file(loaded.spec, "getting-started.in.yaml"))
    assert run.ok, run.output
