"""The pure pieces: alert state machine, PromQL helpers, scenarios, policies, report metrics."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fireline.sim.backtest import Clock, scenario_backtest
from fireline.sim.engine import SLOTarget, alert_firing, firing_spans
from fireline.sim.errors import SimInputError
from fireline.sim.policies import (
    load_policy_file,
    plain_policy,
    pyrra_policy,
    resolve_policy,
    single_burn_policy,
    spec_policy,
)
from fireline.sim.promql import RecordedSeries, Sampled, reset_corrected, sum_over_time
from fireline.sim.scenarios import build_history, parse_scenario
from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity
from fireline.spec.models import SLOSpec

D = Duration.parse
MINUTE = 60_000


def _evals(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * MINUTE


def _cond(text: str) -> np.ndarray:
    return np.array([c == "1" for c in text], dtype=np.bool_)


def _as_text(mask: np.ndarray) -> str:
    return "".join("1" if v else "0" for v in mask)


@pytest.mark.parametrize(("condition", "for_min", "keep_min", "expected"), [
    ("0111000110", 0, 0, "0111000110"),
    # for 2m: fires on the third true evaluation; a single false one drops the pending alert.
    ("0111101110", 2, 0, "0001100010"),
    ("0110111100", 2, 0, "0000001100"),
    # keep_firing_for 2m: firing through false evaluations with ts - first false < 2m.
    ("0110000000", 0, 2, "0111100000"),
    # The condition returning while kept firing continues the same alert (no new for: wait).
    ("0110011000", 2, 3, "0000000000"),
    ("0111001100", 2, 3, "0001111111"),
])
def test_alert_state_machine(condition: str, for_min: int, keep_min: int, expected: str) -> None:
    cond = _cond(condition)
    firing = alert_firing(cond, _evals(cond.size), for_min * MINUTE, keep_min * MINUTE)
    assert _as_text(firing) == expected


def test_firing_spans_mark_notifications_and_resolution() -> None:
    spans = firing_spans(_cond("0110011"), _evals(7))
    assert [(s.fire_ms, s.resolve_ms) for s in spans] == [(MINUTE, 3 * MINUTE), (5 * MINUTE, None)]


def test_reset_correction_adds_the_value_before_each_drop() -> None:
    corrected = reset_corrected(np.array([5.0, 7.0, 2.0, 4.0, 0.0, 1.0]))
    assert corrected.tolist() == [5.0, 7.0, 9.0, 11.0, 11.0, 12.0]


def test_sum_over_time_is_closed_on_both_ends_and_skips_absent_samples() -> None:
    evals = _evals(5)
    recorded = Sampled(np.array([1.0, 2.0, 4.0, 8.0, 16.0]), np.array([True, True, False, True, True]))
    result = sum_over_time(RecordedSeries.of(recorded, evals), 2 * MINUTE)
    irregular = RecordedSeries.of(recorded, evals * np.array([1, 1, 1, 1, 2]))  # the searched path
    assert sum_over_time(irregular, 2 * MINUTE).values.tolist() == [1.0, 3.0, 3.0, 10.0, 16.0]
    assert result.values.tolist() == [1.0, 3.0, 3.0, 10.0, 24.0]
    assert result.present.all()


@pytest.mark.parametrize(("text", "message"), [
    ("constnat:error_rate=0.1", "did you mean constant"),
    ("constant:eror_rate=0.1", "unknown key 'eror_rate' (did you mean error_rate?)"),
    ("constant:rps=5", "constant needs error_rate"),
    ("constant:error_rate=2", "fraction between 0 and 1"),
    ("spikes:length=fivem", "'fivem' is not a duration"),
    ("spikes:length=20m,every=10m", "longer than every"),
    ("outage:duration", "is not key=value"),
    ("outage:gap_length=5m", "gap_length needs gap_every"),
])
def test_scenario_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(SimInputError, match=None) as raised:
        parse_scenario(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("extra", ["restart_every=25m", "gap_every=40m"])
def test_scenario_counters_carry_the_ground_truth(extra: str) -> None:
    scenario = parse_scenario(f"constant:error_rate=2%,rps=20,start=1h,duration=30m,{extra}")
    history = build_history(scenario, clean_history=D("1h"), simulate_for=D("2h"), scrape_interval=D("30s"))
    assert history.incidents[0].start_ms == 3_600_000 and history.incidents[0].end_ms == 5_400_000
    errors, total = history.events_between(0, history.end_ms)
    # Neither restarts nor failed scrapes alone hide events from reset-corrected counters.
    assert total == pytest.approx(20 * 3 * 3600)
    assert errors == pytest.approx(0.02 * 20 * 1800)
    if "restart" in extra:
        assert np.any(np.diff(history.total) < 0)
    else:
        assert np.diff(history.timestamps_ms).max() > 30_000


def test_a_restart_during_failed_scrapes_loses_what_prometheus_never_saw() -> None:
    """Events between the last successful scrape and a restart are invisible to rate(), as in Prometheus."""
    scenario = parse_scenario("constant:error_rate=2%,rps=20,start=1h,restart_every=50m,gap_every=45m,gap_length=10m")
    history = build_history(scenario, clean_history=D("1h"), simulate_for=D("1h"), scrape_interval=D("30s"))
    _, total = history.events_between(0, history.end_ms)
    # Restart at 50m inside the 45m-55m gap loses 44m30s..49m30s; the one at 100m, right after
    # the 90m-100m gap, loses 89m30s..99m30s: 15 minutes of traffic in all.
    assert total == pytest.approx(20 * (2 * 3600 - 900))


def test_low_traffic_is_poisson_and_reproducible() -> None:
    scenario = parse_scenario("low-traffic:rps=0.2,error_rate=0.5,seed=3")
    a = build_history(scenario, clean_history=D("1h"), simulate_for=D("1h"), scrape_interval=D("30s"))
    b = build_history(scenario, clean_history=D("1h"), simulate_for=D("1h"), scrape_interval=D("30s"))
    assert np.array_equal(a.total, b.total)
    assert set(np.diff(a.total).tolist()) <= {float(n) for n in range(40)}  # whole requests


def test_pyrra_scales_windows_from_28d() -> None:
    assert [(t.key, str(t.for_)) for t in pyrra_policy(D("28d")).tiers] == [
        ("1h/5m", "2m"), ("6h/30m", "15m"), ("1d/2h", "1h"), ("4d/6h", "3h")]
    assert pyrra_policy(D("7d")).tiers[0].long_window == D("15m")


def test_single_burn_has_no_short_window() -> None:
    tier = single_burn_policy(D("30d")).tiers[0]
    assert tier.short_window is None and tier.key == "1h"


def test_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("tiers:\n  - {long: 1h, short: 5m, burn_rate: 10, severity: page, keep_firing_for: 10m}\n"
                    "  - {long: 3d, budget_percent: 10, severity: ticket}\n", encoding="utf-8")
    policy = load_policy_file(path, D("30d"))
    assert policy.name == "mine"
    assert policy.tiers[0].keep_firing_for == D("10m")
    assert policy.tiers[1].burn_rate == 1 and policy.tiers[1].short_window is None
    path.write_text("tiers:\n  - {long: 1h, burn: 10, severity: page}\n", encoding="utf-8")
    with pytest.raises(SimInputError, match=r"unknown key 'burn' \(did you mean burn_rate"):
        load_policy_file(path, D("30d"))


def test_unknown_policy_suggests_a_preset() -> None:
    from fireline.spec.models import SLOSpec

    slo = SLOSpec.model_validate({"name": "a", "objective": 99.9,
                                  "sli": {"events": {"errors": "e[{{.window}}]", "total": "t[{{.window}}]"}}})
    with pytest.raises(SimInputError, match="did you mean workbook"):
        resolve_policy("workbok", slo)


def test_noise_before_the_incident_lowers_precision() -> None:
    """A single-window 1h alert on low, noisy traffic pages before the incident; MWMBR pages less."""
    target = SLOTarget("svc", "a", D("30d"), Decimal("0.001"))
    scenario = parse_scenario("low-traffic:rps=0.02,error_rate=0.5,baseline=0.01,seed=11,start=2d,duration=2h")
    from fireline.sim.policies import workbook_policy

    _, _, rows = scenario_backtest(target, [single_burn_policy(D("30d")), workbook_policy(D("30d"))], scenario,
                                   D("12h"), Clock(D("30s"), D("1m")))
    single = next(r for r in rows if r.policy == "single-burn")
    assert single.recall == 1.0
    assert single.precision is not None and single.precision < 1.0
    assert single.notifications > 1
    page = next(r for r in rows if r.policy == "workbook" and r.severity == Severity.PAGE.value and r.tier == "any")
    assert page.recall == 1.0
    assert page.notifications < single.notifications


def _checkout_slo() -> tuple[SLOTarget, SLOSpec]:
    slo = SLOSpec.model_validate({"name": "availability", "objective": 99.9,
                                  "sli": {"events": {"errors": "e[{{.window}}]", "total": "t[{{.window}}]"}}})
    return SLOTarget("svc", "availability", slo.window, slo.error_budget), slo


def test_six_requests_an_hour_half_failing_plain_flaps_and_guarded_holds_one_ticket() -> None:
    """The acceptance case of the low-traffic guard, in the simulator: the plain 1h/5m tier pages on and
    off as single requests enter and leave its 5m window; the guarded policy never pages and holds one
    trickle ticket for the whole incident."""
    target, slo = _checkout_slo()
    scenario = parse_scenario("low-traffic:rps=0.0016667,error_rate=0.5,seed=1,start=1h,duration=6h")
    _, results, rows = scenario_backtest(target, [plain_policy(slo), spec_policy(slo)], scenario, D("12h"),
                                         Clock(D("30s"), D("30s")))
    by = {(r.policy, r.severity, r.tier): r for r in rows}
    assert by[("plain", "page", "1h/5m")].notifications >= 5
    assert by[("spec", "page", "any")].notifications == 0
    trickle = by[("spec", "ticket", "trickle 6h")]
    assert trickle.notifications == 1 and trickle.recall == 1.0
    assert results[1].trickle is not None and results[0].trickle is None


def test_the_guard_changes_nothing_at_normal_traffic() -> None:
    target, slo = _checkout_slo()
    _, _, rows = scenario_backtest(target, [plain_policy(slo), spec_policy(slo)],
                                   parse_scenario("outage:start=1h,duration=20m"), D("12h"), Clock(D("30s"), D("30s")))
    plain = [r for r in rows if r.policy == "plain"]
    spec = [r for r in rows if r.policy == "spec" and not r.tier.startswith("trickle")]
    assert [(r.tier, r.first_fire_seconds, r.notifications) for r in plain] == \
        [(r.tier, r.first_fire_seconds, r.notifications) for r in spec]
    assert next(r for r in rows if r.tier == "trickle 6h").notifications == 0


def test_policy_file_min_events_must_be_a_count(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("tiers:\n  - {long: 1h, short: 5m, burn_rate: 14.4, severity: page, min_events: 300}\n",
                    encoding="utf-8")
    assert load_policy_file(path, D("30d")).tiers[0].min_events == 300
    path.write_text("tiers:\n  - {long: 1h, burn_rate: 14.4, severity: page, min_events: many}\n", encoding="utf-8")
    with pytest.raises(SimInputError, match=r"tiers\[0\]\.min_events: expected a count of events"):
        load_policy_file(path, D("30d"))
