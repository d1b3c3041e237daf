"""The policy engine reads fireline's recordings once they cover the window, raw counters before.

A real Prometheus holds the raw history of conftest.History and, from ADOPTED on (the day the team
loaded fireline's rules), the series those rules record: the SLI group's 5m rates and ratio and the
budget group's SLO-window ratio. The recordings are written from the history's own counts under the
names and labels the rule plan generates for the spec (checked below), so every expected budget is
still worked out from the samples the test wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fireline.clients.prometheus import PrometheusClient
from fireline.policy.budget import BudgetReading, BudgetUnknown, measure_budget
from fireline.policy.engine import prometheus_query
from fireline.policy.windows import Interval, budget_window
from fireline.rules.plan import ERRORS_5M, TOTAL_5M, RulePlan, plans, ratio_series
from fireline.rules.sli import BASE_WINDOW
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services

from .conftest import BURSTS, START, STEP, WINDOW, History, PrometheusServer, openmetrics, serve_openmetrics
from .harness import SPEC

ADOPTED = datetime(2026, 8, 30, tzinfo=UTC)
STALENESS = Duration.parse("10m")
LABELS = 'service="checkout",slo="availability"'


def _plan(tmp: Path) -> RulePlan:
    spec = tmp / "checkout.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return plans(load_services([spec])[0].spec)[0]


def recordings(history: History, slo_window: timedelta) -> str:
    """What fireline's rules record from ADOPTED on, from the history's exact per-step counts."""
    lines: list[str] = []
    per_window = int(slo_window / STEP)
    seconds = STEP.total_seconds()
    series: dict[str, list[str]] = {ERRORS_5M: [], TOTAL_5M: [], ratio_series(BASE_WINDOW): [],
                                    ratio_series(Duration.of_seconds(slo_window.total_seconds())): []}
    names = list(series)
    for i in range(1, len(history.times)):
        at = history.times[i]
        if at < ADOPTED:
            continue
        errors = (history.errors[i] - history.errors[i - 1]) / seconds
        total = (history.total[i] - history.total[i - 1]) / seconds
        first = max(0, i - per_window)
        window_ratio = ((history.errors[i] - history.errors[first]) / (history.total[i] - history.total[first]))
        stamp = f"{at.timestamp():.0f}"
        for name, value in zip(names, (errors, total, errors / total, window_ratio), strict=True):
            series[name].append(f"{name}{{{LABELS}}} {value:.12g} {stamp}")
    for name, samples in series.items():
        lines.append(f"# TYPE {name.replace(':', '_')} gauge")
        lines.extend(samples)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, history: History) -> Iterator[PrometheusServer]:
    raw = openmetrics(history).removesuffix("# EOF\n")
    yield from serve_openmetrics(tmp_path_factory.mktemp("recorded"), raw + recordings(history, WINDOW) + "\n# EOF\n")


@pytest.fixture
def client(recorded: PrometheusServer) -> Iterator[PrometheusClient]:
    http = PrometheusClient(recorded.url, timeout=10)
    yield http
    http.close()


def test_recordings_written_here_are_the_ones_the_rules_generate(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    generated = {r.name for r in plan.recordings}
    assert {ERRORS_5M, TOTAL_5M, ratio_series(BASE_WINDOW), ratio_series(plan.slo.window)} <= generated
    assert plan.selector == "{" + LABELS + "}"
    assert plan.slo.window == Duration.of_seconds(WINDOW.total_seconds())


def _measure(client: PrometheusClient, tmp: Path, at: datetime, *, excluded: list[Interval] | None = None,
             calendar: bool = False, source: str = "auto") -> BudgetReading | BudgetUnknown:
    slo = _plan(tmp).slo
    window = budget_window(at, slo.window, "month" if calendar else None, "UTC")
    return measure_budget(prometheus_query(client), "checkout", slo, window, excluded or [], STALENESS,
                          source)  # type: ignore[arg-type]


def test_raw_until_the_recordings_cover_the_window_then_one_read_per_slo(
        client: PrometheusClient, history: History, tmp_path: Path) -> None:
    seen = set()
    for at in (datetime(2026, 9, 3, 12, tzinfo=UTC), datetime(2026, 9, 5, 23, tzinfo=UTC),
               datetime(2026, 9, 6, 1, tzinfo=UTC), datetime(2026, 9, 11, 6, tzinfo=UTC),
               datetime(2026, 9, 14, 12, tzinfo=UTC), datetime(2026, 9, 18, tzinfo=UTC)):
        reading = _measure(client, tmp_path, at)
        assert isinstance(reading, BudgetReading), reading
        expected = "recorded" if at - WINDOW >= ADOPTED else "raw"
        assert reading.source == expected, at
        seen.add(reading.source)
        assert reading.remaining * 100 == pytest.approx(history.remaining(at - WINDOW, at) * 100, abs=0.3), at
        if expected == "recorded":
            # Freshness of the raw SLI, coverage at the window's start, the recorded window ratio: three
            # instant reads whatever the window's length, and none of them over the raw series' window.
            assert [q.purpose for q in reading.queries] == [
                "freshness", "recordings at window start", "recorded window ratio"]
            assert reading.errors is None and reading.events is None
        else:
            raw = _measure(client, tmp_path, at, source="raw")
            assert isinstance(raw, BudgetReading)
            assert raw.remaining == pytest.approx(reading.remaining)
    assert seen == {"raw", "recorded"}


def test_recorded_agrees_with_raw_while_bursts_cross_the_window(client: PrometheusClient, tmp_path: Path) -> None:
    for hours in range(0, 24 * 8, 7):
        at = datetime(2026, 9, 10, tzinfo=UTC) + timedelta(hours=hours)
        recorded, raw = _measure(client, tmp_path, at), _measure(client, tmp_path, at, source="raw")
        assert isinstance(recorded, BudgetReading) and isinstance(raw, BudgetReading)
        assert (recorded.source, raw.source) == ("recorded", "raw")
        assert recorded.remaining * 100 == pytest.approx(raw.remaining * 100, abs=0.3), at


def test_exclusions_and_calendar_months_from_the_recorded_rates(
        client: PrometheusClient, history: History, tmp_path: Path) -> None:
    at = datetime(2026, 9, 14, 12, tzinfo=UTC)
    # The day of the third burst excluded (a platform outage, say). A day, not the burst's hour: the test's
    # recordings are 5 minutes apart, where a closed range's extra sample would weigh 1/13 of an hour.
    burst = BURSTS[2]
    day = burst.start.replace(hour=0)
    interval = Interval(day, day + timedelta(days=1))
    reading = _measure(client, tmp_path, at, excluded=[interval])
    assert isinstance(reading, BudgetReading)
    assert reading.source == "recorded"
    assert all(q.purpose == "freshness" or "recorded" in q.purpose or q.purpose.startswith("recordings")
               for q in reading.queries), [q.purpose for q in reading.queries]
    assert reading.events is not None and reading.excluded_events > 0
    expected = history.remaining(at - WINDOW, at, [(interval.start, interval.end)])
    assert reading.remaining * 100 == pytest.approx(expected * 100, abs=0.3)
    assert reading.remaining > _measure(client, tmp_path, at).remaining + 0.1  # type: ignore[union-attr]

    month_at = datetime(2026, 9, 29, 10, tzinfo=UTC)
    month = _measure(client, tmp_path, month_at, calendar=True)
    assert isinstance(month, BudgetReading)
    assert month.source == "recorded"
    start = datetime(2026, 9, 1, tzinfo=UTC)
    assert month.remaining * 100 == pytest.approx(history.remaining(start, month_at) * 100, abs=0.3)
    raw = _measure(client, tmp_path, month_at, calendar=True, source="raw")
    assert isinstance(raw, BudgetReading)
    assert month.remaining * 100 == pytest.approx(raw.remaining * 100, abs=0.3)


def test_forced_sources(client: PrometheusClient, tmp_path: Path) -> None:
    young = _measure(client, tmp_path, datetime(2026, 9, 3, tzinfo=UTC), source="recorded")
    assert isinstance(young, BudgetUnknown)
    assert "recordings" in young.reason and "do not cover" in young.reason
    late = _measure(client, tmp_path, datetime(2026, 9, 20, tzinfo=UTC), source="raw")
    assert isinstance(late, BudgetReading) and late.source == "raw"
    assert START < ADOPTED


def _engine(client: PrometheusClient, tmp: Path, batched: bool) -> Any:
    from fireline.policy.engine import PolicyEngine, prometheus_vector_query, watched_slos

    from .harness import config_for

    key = tmp / "key"
    key.write_text("R0UTINGKEY0123456789abcdef012345\n", encoding="utf-8")
    config = config_for("http://127.0.0.1:9", client.url, key)
    spec = tmp / "checkout.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    assert config.policy is not None
    return PolicyEngine(config, config.policy, watched_slos(load_services([spec])), None,  # type: ignore[arg-type]
                        prometheus_query(client), notifier=None, open_incident=None,  # type: ignore[arg-type]
                        vector_query=prometheus_vector_query(client) if batched else None)


def test_the_engine_reads_every_recorded_budget_in_a_few_queries(client: PrometheusClient, history: History,
                                                                  tmp_path: Path) -> None:
    from fireline.policy.tables import BudgetExclusion

    batched, single = _engine(client, tmp_path, True), _engine(client, tmp_path, False)
    at = datetime(2026, 9, 14, 12, tzinfo=UTC)
    [reading] = batched.measure(at, [])
    [one] = single.measure(at, [])
    assert isinstance(reading, BudgetReading) and isinstance(one, BudgetReading)
    assert reading.source == one.source == "recorded"
    assert [q.purpose for q in reading.queries] == [
        "freshness (recorded, all SLOs)", "recordings at window start (all SLOs)", "recorded window ratio (all SLOs)"]
    assert reading.remaining == pytest.approx(one.remaining)
    assert reading.remaining * 100 == pytest.approx(history.remaining(at - WINDOW, at) * 100, abs=0.3)
    # An exclusion needs counts over its interval: that SLO is read on its own.
    burst = BURSTS[2]
    exclusion = BudgetExclusion(service="checkout", slo=None, start=burst.start, end=burst.end, reason="maintenance",
                                approved_by="x", note="", created_at=at, created_by="x")
    [excluded] = batched.measure(at, [exclusion])
    assert isinstance(excluded, BudgetReading) and excluded.excluded_events > 0
    assert not any("all SLOs" in q.purpose for q in excluded.queries)
    # Before the recordings cover the window the batch has nothing and the raw counters answer.
    [early] = batched.measure(datetime(2026, 9, 3, 12, tzinfo=UTC), [])
    assert isinstance(early, BudgetReading) and early.source == "raw"
