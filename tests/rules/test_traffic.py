"""Alerts that know their traffic, proven with promtool on discrete requests (not smooth rates).

The plain multi-window policy (`alerting.min_events: 0`) against the guarded default: one failed
request among 20 an hour, and six requests an hour with half of them failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireline.adapters import promtool
from fireline.rules.generate import render_rules_file
from fireline.rules.plan import AlertKind, RulePlan
from fireline.spec.loader import load_services
from fireline.yamlout import dump_yaml

pytestmark = pytest.mark.promtool

SPEC = """\
apiVersion: fireline/v1
kind: Service
metadata: {{name: rare}}
spec:
  team: ops
  slos:
    - name: availability
      objective: 99.9
      sli:
        events:
          errors: sum(rate(rare_requests_total{{code="500"}}[{{{{.window}}}}]))
          total: sum(rate(rare_requests_total[{{{{.window}}}}]))
      alerting: {alerting}
"""
PLAIN = "{min_events: 0}"
GUARDED = "{}"
BURN = "RareAvailabilityErrorBudgetBurn"
TRICKLE = "RareAvailabilityErrorTrickle"
NO_DATA = "RareAvailabilitySLINoData"


def _counter(minutes: int, requests_at: list[int]) -> str:
    """Per-minute samples of a counter that goes up by one at each given minute."""
    value, out = 0, []
    hits = sorted(requests_at)
    for minute in range(minutes + 1):
        value += hits.count(minute)
        out.append(str(value))
    return " ".join(out)


def _alerts(name: str, extra: dict[str, str] | None = None) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in {"alertname": name, "alertstate": "firing", **(extra or {})}.items())
    return f"count(ALERTS{{{labels}}}) or vector(0)"


def _check(expr: str, minute: int, value: int) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{minute}m", "exp_samples": [{"labels": "{}", "value": value}]}


def _run(tmp_path: Path, alerting: str, series: dict[str, str], checks: list[dict[str, Any]]) -> promtool.ToolRun:
    spec = tmp_path / "rare.yaml"
    spec.write_text(SPEC.format(alerting=alerting), encoding="utf-8")
    (loaded,) = load_services([spec])
    (tmp_path / "rare.rules.yml").write_text(render_rules_file(loaded.spec, "rare.yaml"), encoding="utf-8")
    test = {"rule_files": ["rare.rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "promql_expr_test": checks,
    }]}
    path = tmp_path / "rare.test.yml"
    path.write_text(dump_yaml(test), encoding="utf-8")
    return promtool.test_rules([path])


def _one_error_in_twenty(minutes: int) -> dict[str, str]:
    good = [m for m in range(3, minutes + 1, 3) if m != 180]
    return {'rare_requests_total{code="200"}': _counter(minutes, good),
            'rare_requests_total{code="500"}': _counter(minutes, [180])}


def test_one_error_in_twenty_an_hour_pages_only_without_the_guard(tmp_path: Path) -> None:
    page = _alerts(BURN, {"long_window": "1h"})
    plain = _run(tmp_path, PLAIN, _one_error_in_twenty(200), [_check(page, 183, 1)])
    assert plain.ok, plain.output
    guarded = _run(tmp_path, GUARDED, _one_error_in_twenty(200),
                   [_check(_alerts(BURN), m, 0) for m in range(180, 200, 2)]
                   + [_check(_alerts(TRICKLE), 199, 0)])
    assert guarded.ok, guarded.output
    # The same check that passes for the plain policy fails for the guarded one: the guard decides.
    assert not _run(tmp_path, GUARDED, _one_error_in_twenty(200), [_check(page, 183, 1)]).ok


def _half_failing_six_an_hour(minutes: int) -> dict[str, str]:
    total = list(range(10, minutes + 1, 10))
    errors = [m for m in total if m % 20 == 0]
    return {'rare_requests_total{code="200"}': _counter(minutes, [m for m in total if m not in errors]),
            'rare_requests_total{code="500"}': _counter(minutes, errors)}


def test_six_an_hour_half_failing_flaps_plain_and_holds_one_ticket_guarded(tmp_path: Path) -> None:
    page = _alerts(BURN, {"long_window": "1h"})
    # Plain: fires while an error sits in the 5m short window, resolves when none does, fires again.
    flapping = [_check(page, 121, 1), _check(page, 127, 0), _check(page, 141, 1), _check(page, 147, 0),
                _check(page, 161, 1)]
    plain = _run(tmp_path, PLAIN, _half_failing_six_an_hour(360), flapping)
    assert plain.ok, plain.output
    # Guarded: no page, and from the fifth error on one ticket that stays firing to the end.
    steady = [_check(_alerts(TRICKLE), m, 1) for m in range(110, 361, 5)]
    quiet = [_check(_alerts(BURN), m, 0) for m in range(110, 361, 5)]
    guarded = _run(tmp_path, GUARDED, _half_failing_six_an_hour(360), [_check(_alerts(TRICKLE), 60, 0),
                                                                       *steady, *quiet])
    assert guarded.ok, guarded.output


def test_total_absent_for_twenty_minutes_raises_no_data(tmp_path: Path) -> None:
    values = _counter(60, list(range(0, 61)))
    series = {'rare_requests_total{code="200"}': values + " _x40"}
    (no_data,) = RulePlan.build(*_service_and_slo(tmp_path)).alerts_of(AlertKind.NO_DATA)
    wait = int(no_data.for_.seconds // 60)
    assert wait == 15
    checks = [_check(_alerts(NO_DATA), 60, 0), _check(_alerts(NO_DATA), 60 + 5 + wait + 2, 1)]
    run = _run(tmp_path, GUARDED, series, checks)
    assert run.ok, run.output


def _service_and_slo(tmp_path: Path) -> tuple[Any, Any]:
    spec = tmp_path / "rare-plan.yaml"
    spec.write_text(SPEC.format(alerting=GUARDED), encoding="utf-8")
    (loaded,) = load_services([spec])
    return loaded.spec, loaded.spec.spec.slos[0]


def test_a_busy_service_keeps_its_timing(tmp_path: Path) -> None:
    """1000 requests a minute: the guard is met and the total outage pages as the closed form says."""
    minutes = 90
    good = 'rare_requests_total{code="200"}'
    bad = 'rare_requests_total{code="500"}'
    series = {good: "0+1000x60 60000+0x30", bad: "0+0x60 0+1000x30"}
    page = _alerts(BURN, {"long_window": "1h"})
    # 99.9%, 1h/5m at 14.4: a total outage crosses 1.44% of the 1h window after 52s; one evaluation.
    run = _run(tmp_path, GUARDED, series, [_check(page, 60, 0), _check(page, 62, 1), _check(page, minutes, 1)])
    assert run.ok, run.output
