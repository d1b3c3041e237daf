"""The policy engine against a real Prometheus holding 46 days of raw counters and none of fireline's series.

Every expected budget is worked out from the samples the test wrote (conftest.History), so the
engine's reading through PromQL is checked against an independent count.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fireline.incidents.models import Incident
from fireline.policy.budget import BudgetReading
from fireline.policy.exclusions import ExclusionReason, ExclusionRequest, add_exclusion, revoke_exclusion
from fireline.policy.settings import ChangeClass
from fireline.policy.tables import PolicyAction, PolicyAudit, PolicyTransition
from tests.server.support import database

from .conftest import WINDOW, CaptureServer, History, PrometheusServer, hours, start_prometheus
from .harness import Harness, build, config_for


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "pd-routing-key"
    path.write_text("R0UTINGKEY0123456789abcdef012345\n", encoding="utf-8")
    return path


@pytest.fixture
def harness(tmp_path: Path, prometheus: PrometheusServer, capture: CaptureServer, key_file: Path) -> Harness:
    h = build(tmp_path, config_for(capture.url, prometheus.url, key_file))
    yield h  # type: ignore[misc]
    h.close()


def transitions(h: Harness) -> list[tuple[datetime, str | None, str]]:
    with h.db.transaction() as session:
        return [(t.at, t.from_tier, t.to_tier) for t in session.scalars(select(PolicyTransition).order_by(
            PolicyTransition.seq))]


def first_hour(history: History, start: datetime, end: datetime, predicate: object) -> datetime:
    for at in hours(start, end):
        if predicate(history.remaining(at - WINDOW, at) * 100):  # type: ignore[operator]
            return at
    raise AssertionError("the history never meets the condition")


def test_tiers_actions_and_hysteresis_over_a_real_history(harness: Harness, history: History,
                                                          capture: CaptureServer) -> None:
    start, end = datetime(2026, 9, 9, tzinfo=UTC), datetime(2026, 9, 20, 14, tzinfo=UTC)
    gate_answers: dict[str, dict[ChangeClass, bool | None]] = {}
    for at in hours(start, end):
        report = harness.engine.run_cycle(at)
        reading = report.readings[0]
        assert isinstance(reading, BudgetReading), reading
        # Read straight from raw counters, right from the first cycle: matches the samples written.
        assert reading.remaining * 100 == pytest.approx(history.remaining(at - WINDOW, at) * 100, abs=0.3)
        harness.deliver(at)
        state = harness.engine.states()[0]
        assert state.tier is not None
        gate_answers[state.tier] = {c: harness.engine.gate("checkout", c).allowed for c in ChangeClass}  # type: ignore[union-attr]

    moves = transitions(harness)
    assert [(f, t) for _, f, t in moves] == [
        (None, "normal"), ("normal", "caution"), ("caution", "alert"), ("alert", "critical"),
        ("critical", "lockdown"), ("lockdown", "alert"), ("alert", "caution"), ("caution", "normal")]

    # Worse tiers take effect at the first cycle whose budget is below the boundary.
    for (at, _, to), boundary in zip(moves[1:5], (75, 50, 25, 10), strict=True):
        assert at == first_hour(history, start, end, lambda p, b=boundary: p < b), to
    # Recovery to caution: not at the first hour back above 50, but after 2 cycles at >= 52 (margin 2).
    recovery_start = datetime(2026, 9, 17, 12, tzinfo=UTC)
    above_boundary = first_hour(history, recovery_start, end, lambda p: p >= 50)
    above_margin = first_hour(history, recovery_start, end, lambda p: p >= 52)
    assert above_boundary < above_margin
    assert moves[6][0] == above_margin + timedelta(hours=1)

    # The gate in every tier the history passed through.
    assert gate_answers == {
        "normal": {ChangeClass.FEATURE: True, ChangeClass.CRITICAL: True, ChangeClass.HOTFIX: True},
        "caution": {ChangeClass.FEATURE: True, ChangeClass.CRITICAL: True, ChangeClass.HOTFIX: True},
        "alert": {ChangeClass.FEATURE: False, ChangeClass.CRITICAL: True, ChangeClass.HOTFIX: True},
        "critical": {ChangeClass.FEATURE: False, ChangeClass.CRITICAL: True, ChangeClass.HOTFIX: True},
        "lockdown": {ChangeClass.FEATURE: False, ChangeClass.CRITICAL: False, ChangeClass.HOTFIX: True},
    }

    # Actions, as the receivers saw them: each exactly once.
    per_path = Counter(r.path for r in capture.requests)
    # team: caution, alert, critical, lockdown entries; leadership: critical + lockdown entries, two leaves.
    assert per_path["/team"] >= 4
    assert per_path["/leadership"] == 4
    assert per_path["/pd-lead"] == 1 and per_path["/pd-director"] == 1
    assert per_path["/tickets"] == 2
    tickets = capture.at("/tickets")
    critical_at = moves[3][0]
    assert {t.body["title"] for t in tickets} == {
        "Reliability: checkout/availability error budget at " + tickets[0].body["title"].split(" at ")[-1],
        "SRE review: checkout/availability"}
    assert {t.body["due_date"] for t in tickets} == {(critical_at + timedelta(days=2)).date().isoformat(),
                                                      (critical_at + timedelta(days=7)).date().isoformat()}
    assert all(t.body["priority"] == "high" and "error-budget" in t.body["labels"] for t in tickets)
    page = capture.at("/pd-lead")[0].body
    assert page["event_action"] == "trigger" and page["routing_key"] == "R0UTINGKEY0123456789abcdef012345"
    assert "lockdown" in page["payload"]["summary"]
    with harness.db.transaction() as session:
        incidents = list(session.scalars(select(Incident)))
        assert [(i.severity, i.service, i.slo) for i in incidents] == [("SEV1", "checkout", "availability")]
        assert session.scalar(select(func.count()).select_from(PolicyAction).where(
            PolicyAction.status != "done")) == 0
        # Every cycle left a decision with its inputs.
        audits = session.scalar(select(func.count()).select_from(PolicyAudit).where(
            PolicyAudit.event.in_(["decision", "transition"])))
        assert audits == len(list(hours(start, end)))


def test_exclusion_restores_budget_and_revoking_takes_it_back(harness: Harness, history: History) -> None:
    lockdown_at = datetime(2026, 9, 13, 12, tzinfo=UTC)
    harness.cycle(lockdown_at)
    assert harness.engine.states()[0].tier == "lockdown"
    burst = (datetime(2026, 9, 13, 10, tzinfo=UTC), datetime(2026, 9, 13, 11, tzinfo=UTC))
    with harness.db.transaction() as session:
        exclusion = add_exclusion(session, ExclusionRequest(
            service="checkout", slo="availability", start=burst[0], end=burst[1],
            reason=ExclusionReason.PLATFORM_OUTAGE, approved_by="jane.doe"), "test", lockdown_at)
        exclusion_id = exclusion.id
    at = lockdown_at + timedelta(hours=1)
    reading = harness.engine.run_cycle(at).readings[0]
    assert isinstance(reading, BudgetReading)
    expected = history.remaining(at - WINDOW, at, [burst]) * 100
    assert reading.remaining * 100 == pytest.approx(expected, abs=0.3)
    assert reading.remaining * 100 - history.remaining(at - WINDOW, at) * 100 == pytest.approx(15, abs=0.5)
    harness.cycle(at + timedelta(hours=1))
    assert harness.engine.states()[0].tier == "critical"  # two cycles clear of 10% + margin
    with harness.db.transaction() as session:
        revoke_exclusion(session, exclusion_id, "test", at)
        kinds = [a.event for a in session.scalars(select(PolicyAudit).where(PolicyAudit.event.like("exclusion%")))]
    assert kinds == ["exclusion-added", "exclusion-revoked"]
    harness.cycle(at + timedelta(hours=2))
    assert harness.engine.states()[0].tier == "lockdown"


def test_a_short_exclusion_removes_what_happened_in_it_not_an_extrapolation(harness: Harness,
                                                                          history: History) -> None:
    # 15 minutes across the end of burst 4 (samples every 5 minutes): rate() over the interval itself
    # sees no burst samples inside it and removes nothing; the burst's last step is in it.
    at = datetime(2026, 9, 13, 12, tzinfo=UTC)
    short = (datetime(2026, 9, 13, 10, 57, tzinfo=UTC), datetime(2026, 9, 13, 11, 12, tzinfo=UTC))
    with harness.db.transaction() as session:
        add_exclusion(session, ExclusionRequest(
            service="checkout", slo="availability", start=short[0], end=short[1],
            reason=ExclusionReason.MEASUREMENT_BUG, approved_by="jane.doe"), "test", at)
    reading = harness.engine.run_cycle(at).readings[0]
    assert isinstance(reading, BudgetReading)
    without = history.remaining(at - WINDOW, at) * 100
    expected = history.remaining(at - WINDOW, at, [short]) * 100
    assert 1.0 < expected - without < 1.3  # one 5-minute step of burst 4 (and its events) left out
    assert reading.remaining * 100 == pytest.approx(expected, abs=0.3)
    assert any("(the hour before)" in q.purpose for q in reading.queries)


def test_calendar_month_resets_on_the_first(tmp_path: Path, prometheus: PrometheusServer,
                                            capture: CaptureServer, key_file: Path, history: History) -> None:
    h = build(tmp_path, config_for(capture.url, prometheus.url, key_file, calendar="month", timezone="UTC"))
    try:
        month = datetime(2026, 9, 1, tzinfo=UTC)
        late = datetime(2026, 9, 30, 23, tzinfo=UTC)
        reading = h.engine.run_cycle(late).readings[0]
        assert isinstance(reading, BudgetReading)
        assert reading.window.start == month
        assert reading.remaining * 100 == pytest.approx(history.remaining(month, late) * 100, abs=0.3)
        assert h.engine.states()[0].tier == "lockdown"
        for minutes in (5, 10):
            reading = h.engine.run_cycle(datetime(2026, 10, 1, 0, minutes, tzinfo=UTC)).readings[0]
            assert isinstance(reading, BudgetReading)
            assert reading.window.start == datetime(2026, 10, 1, tzinfo=UTC)
            assert reading.remaining == pytest.approx(1.0)
        assert h.engine.states()[0].tier == "normal"
        assert [(f, t) for _, f, t in transitions(h)] == [(None, "lockdown"), ("lockdown", "normal")]
    finally:
        h.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_actions_exactly_once_across_a_restart(tmp_path: Path, prometheus: PrometheusServer,
                                               capture: CaptureServer, key_file: Path, kind: str) -> None:
    with database(kind, tmp_path) as url:
        exactly_once_across_a_restart(tmp_path, prometheus, capture, key_file, url)


def exactly_once_across_a_restart(tmp_path: Path, prometheus: PrometheusServer, capture: CaptureServer,
                                  key_file: Path, url: str) -> None:
    config = config_for(capture.url, prometheus.url, key_file)
    first = build(tmp_path, config, url)
    lockdown_at = datetime(2026, 9, 13, 12, tzinfo=UTC)
    first.cycle(lockdown_at - timedelta(days=4))  # normal
    first.cycle(lockdown_at)  # -> lockdown: actions planned, the process "dies" before delivering them
    with first.db.transaction() as session:
        planned = sorted(session.scalars(select(PolicyAction.key)))
    assert len(planned) >= 6
    first.close()

    second = build(tmp_path, config, url)  # the restarted server, same database
    second.cycle(lockdown_at)  # the same instant again: already evaluated, nothing new
    second.deliver(lockdown_at)
    for hour in range(1, 4):
        second.cycle(lockdown_at + timedelta(hours=hour))
        second.deliver(lockdown_at + timedelta(hours=hour))
    third = build(tmp_path, config, url)  # and once more after everything was delivered
    third.cycle(lockdown_at + timedelta(hours=5))
    third.deliver(lockdown_at + timedelta(hours=5))
    with third.db.transaction() as session:
        assert sorted(session.scalars(select(PolicyAction.key))) == planned
        assert set(session.scalars(select(PolicyAction.status))) == {"done"}
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
    deliveries = Counter(r.headers.get("x-fireline-delivery") for r in capture.requests)
    assert deliveries and max(deliveries.values()) == 1
    assert len(capture.at("/pd-lead")) == 1 and len(capture.at("/tickets")) == 2
    second.close()
    third.close()


def test_prometheus_down_is_unknown_and_unfreezes_nothing(tmp_path: Path, prometheus: PrometheusServer,
                                                          capture: CaptureServer, key_file: Path) -> None:
    data = tmp_path / "copy"
    shutil.copytree(prometheus.data, data, ignore=shutil.ignore_patterns("lock", "wal", "chunks_head"))
    own = start_prometheus(data, tmp_path)
    h = build(tmp_path, config_for(own.url, own.url, key_file))
    h.engine.config = config_for(capture.url, own.url, key_file)  # receivers at the capture server
    h.engine.notifier = __import__("fireline.policy.notices", fromlist=["outbox_notifier"]).outbox_notifier(
        h.engine.config)
    try:
        at = datetime(2026, 9, 13, 12, tzinfo=UTC)
        h.cycle(at)
        assert h.engine.states()[0].tier == "lockdown"
        own.stop()
        for minute in range(1, 13):
            h.cycle(at + timedelta(minutes=minute))
        state = h.engine.states()[0]
        assert state.tier == "lockdown" and not state.known
        assert state.unknown_reason is not None and "Prometheus unreachable" in state.unknown_reason
        assert h.engine.gate("checkout", ChangeClass.FEATURE).allowed is False  # type: ignore[union-attr]
        hotfix = h.engine.gate("checkout", ChangeClass.HOTFIX)
        assert hotfix is not None and hotfix.allowed is None and hotfix.status_code == 503
        with h.db.transaction() as session:
            unknown_notices = list(session.scalars(select(PolicyAction).where(PolicyAction.key.like("%/unknown:%"))))
        # Grace period 10m from the first unknown cycle: exactly one notice, to the team.
        assert len(unknown_notices) == 1 and unknown_notices[0].target == "team"
        assert len(transitions(h)) == 1
    finally:
        own.stop()
        h.close()


def test_stale_series_are_unknown(harness: Harness) -> None:
    # After the last sample the series are stale: no events in the staleness window.
    reading = harness.engine.run_cycle(datetime(2026, 10, 6, tzinfo=UTC)).readings[0]
    assert not isinstance(reading, BudgetReading)
    assert "absent or stale" in reading.reason
