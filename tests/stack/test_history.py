"""`fireline stack up --history`: the example services' story, synthesised and then read back.

These check the synthesised counters against the story without Prometheus; the demo's stack on
30 days of history (real Prometheus, Alertmanager, fireline serve with the policy engine, chromium)
is checked in tests/stack/test_drill.py, before the drill runs on it (tests/stack/demo_story.py).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML

from fireline.rules.plan import history_recordings
from fireline.stack.history import DAY, STORY, Chapter, History, _objectives, backfill_rules, budget_rules, synthesise
from tests.conftest import EXAMPLES
from tests.stack.conftest import FIRELINE

END = 1_796_000_000  # a fixed end: the story is deterministic for a given end


@pytest.fixture(scope="module")
def history() -> History:
    return synthesise([EXAMPLES], end=END, days=30, rps=10, instance="127.0.0.1:9464")


def _series(history: History, name: str, **labels: str) -> np.ndarray:
    for family in history.families:
        for series in family.series:
            if series.name == name and all(series.labels.get(k) == v for k, v in labels.items()):
                return series.values
    raise AssertionError(f"no series {name}{labels}")


def _remaining(history: History, chapter: Chapter, bad: np.ndarray, total: np.ndarray) -> float:
    """The budget left at the end, from the counters, the way the SLO counts it."""
    objective = _objectives([EXAMPLES])[(chapter.service, chapter.slo)]
    ts = history.timestamps
    bad_step, total_step = np.diff(bad, prepend=0), np.diff(total, prepend=0)
    keep = ts > history.end - objective.window
    if chapter.excluded and chapter.episode is not None:
        lo, hi = chapter.episode.span(history.end)
        keep &= ~((ts > lo) & (ts <= hi))
    if objective.time_weighted:
        ratio = np.divide(bad_step, total_step, out=np.zeros(len(ts)), where=total_step > 0)
        return float(1 - ratio[keep].mean() / objective.budget)
    return float(1 - bad_step[keep].sum() / total_step[keep].sum() / objective.budget)


def test_the_counters_tell_the_story(history: History) -> None:
    chapters = {(c.service, c.slo): c for c in STORY}
    checkout_ok = _series(history, "http_requests_total", job="checkout", code="200")
    checkout_err = _series(history, "http_requests_total", job="checkout", code="500")
    assert _remaining(history, chapters[("checkout", "availability")], checkout_err,
                      checkout_ok + checkout_err) == pytest.approx(0.20, abs=0.005)
    count = _series(history, "http_request_duration_seconds_count", job="checkout")
    fast = _series(history, "http_request_duration_seconds_bucket", job="checkout", le="0.5")
    assert _remaining(history, chapters[("checkout", "latency")], count - fast, count) == pytest.approx(0.65, abs=0.005)
    searched = _series(history, "search_requests_total", job="search")
    failed = _series(history, "search_requests_failed_total", job="search")
    search = chapters[("search", "availability")]
    assert _remaining(history, search, failed, searched) == pytest.approx(0.90, abs=0.02)
    # Without its exclusion the maintenance window costs a quarter of search's budget.
    assert _remaining(history, Chapter("search", "availability", 0.9, search.episode), failed,
                      searched) == pytest.approx(0.65, abs=0.02)
    bad = (_series(history, "http_request_duration_seconds_count", job="myservice", code="500")
           + _series(history, "http_request_duration_seconds_count", job="myservice", code="429"))
    total = bad + _series(history, "http_request_duration_seconds_count", job="myservice", code="200")
    assert _remaining(history, chapters[("myservice", "requests-availability")], bad, total) == pytest.approx(
        0.82, abs=0.005)


def test_the_incident_is_nine_days_ago_and_the_exclusion_covers_the_maintenance(history: History) -> None:
    errors = np.diff(_series(history, "http_requests_total", job="checkout", code="500"))
    ts = history.timestamps[1:]
    worst = int(ts[int(np.argmax(errors))])
    assert history.end // DAY - worst // DAY == 9  # nine calendar days before the end
    (exclusion,) = history.exclusions
    assert exclusion["service"] == "search" and exclusion["reason"] == "maintenance"
    failed = np.diff(_series(history, "search_requests_failed_total", job="search"))
    start = time.mktime(time.strptime(exclusion["start"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert start < ts[int(np.argmax(failed))] <= start + 90 * 60


def test_counters_never_go_down_and_histograms_are_cumulative(history: History) -> None:
    for family in history.families:
        for series in family.series:
            assert (np.diff(series.values) >= 0).all(), series.prefix()
    buckets = [s for f in history.families for s in f.series
               if s.name == "http_request_duration_seconds_bucket" and s.labels["job"] == "checkout"]
    finals = [float(s.values[-1]) for s in buckets]
    assert finals == sorted(finals) and buckets[-1].labels["le"] == "+Inf"


def test_same_end_same_series() -> None:
    a = synthesise([EXAMPLES], end=END, days=3, rps=10, instance="x")
    b = synthesise([EXAMPLES], end=END, days=3, rps=10, instance="x")
    assert all(np.array_equal(s.values, t.values) for f, g in zip(a.families, b.families, strict=True)
               for s, t in zip(f.series, g.series, strict=True))


def test_backfill_takes_the_5m_recordings_that_read_raw_series(bundle: Path) -> None:
    rules = sorted((bundle / "prometheus").glob("*.rules.yml"))
    files = backfill_rules(rules, "5s", parts=2)
    assert len(files) == 2
    picked = [(g["rules"][0]["record"], g["rules"][0]["labels"]["service"], g["rules"][0]["labels"]["slo"])
              for f in files for g in f["groups"]]
    wanted = history_recordings()
    assert all(record in wanted for record, _, _ in picked)
    assert all(not any(name in str(g["rules"][0]["expr"]) for name in wanted) for f in files for g in f["groups"])
    assert all(g["interval"] == "5s" for f in files for g in f["groups"])
    # Every SLO of every example gets its raw-reading 5m recordings.
    assert {(s, o) for _, s, o in picked} == {("checkout", "availability"), ("checkout", "latency"),
                                             ("search", "availability"), ("myservice", "requests-availability")}
    generated = [r for p in rules for g in YAML(typ="safe").load(p.read_text())["groups"] for r in g["rules"]
                 if r.get("record") in wanted and not any(n in str(r["expr"]) for n in wanted)]
    assert len(picked) == len(generated)


def test_history_is_refused_without_specs_or_on_victoriametrics(bundle: Path, tmp_path: Path) -> None:
    run = subprocess.run([FIRELINE, "stack", "up", "--bundle", str(bundle), "--dir", str(tmp_path / "s"),
                          "--history", "30d", "--free-ports"], capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "--history needs --specs" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([FIRELINE, "stack", "up", "--bundle", str(bundle), "--dir", str(tmp_path / "s"),
                          "--history", "forever", "--specs", str(EXAMPLES)], capture_output=True, text=True,
                         check=False)
    assert run.returncode != 0 and "--history 'forever'" in run.stderr and "Traceback" not in run.stderr


def test_budget_rules_read_the_raw_counters_over_the_window(bundle: Path) -> None:
    import promql_parser

    rules = sorted((bundle / "prometheus").glob("*.rules.yml"))
    (file,) = budget_rules(rules, [EXAMPLES])
    picked = {(g["rules"][0]["labels"]["service"], g["rules"][0]["labels"]["slo"]): g for g in file["groups"]}
    # search's SLI is a ratio (a time average of the 5m ratio): its burn-down fills live.
    assert set(picked) == {("checkout", "availability"), ("checkout", "latency"),
                           ("myservice", "requests-availability")}
    live = {(r["labels"]["service"], r["labels"]["slo"]): r for p in rules
            for g in YAML(typ="safe").load(p.read_text())["groups"] for r in g["rules"]
            if r.get("record") == "slo:error_budget_remaining:ratio"}
    for key, group in picked.items():
        rule = group["rules"][0]
        assert group["interval"] == "1h" and rule["record"] == "slo:error_budget_remaining:ratio"
        assert rule["labels"] == live[key]["labels"]  # the same series the budget group records
        assert "slo:" not in rule["expr"] and "[30d]" in rule["expr"]
        promql_parser.parse(rule["expr"])
    assert 'http_requests_total{job="checkout",code=~"5.."}[30d]' in picked[("checkout", "availability")][
        "rules"][0]["expr"]
