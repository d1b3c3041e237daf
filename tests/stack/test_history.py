"""`fireline stack up --history`: the example services' story, synthesised and then read back.

The unit tests check the synthesised counters against the story without Prometheus; the stack test
starts the demo's stack (real Prometheus, Alertmanager, fireline serve with the policy engine) on
30 days of history and checks, in Debian's chromium, that the overview shows a budget figure and a
policy tier for every example SLO, and that the critical tier's actions arrived once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ruamel.yaml import YAML

from fireline.rules.plan import history_recordings
from fireline.stack.history import DAY, STORY, Chapter, History, _objectives, backfill_rules, synthesise
from fireline.stack.stack import Ports, down
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
    ts = np.arange(history.start, history.end + 1, 60)
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
    bad = sum(_series(history, "http_request_duration_seconds_count", job="myservice", code=c) for c in ("500", "429"))
    total = bad + _series(history, "http_request_duration_seconds_count", job="myservice", code="200")
    assert _remaining(history, chapters[("myservice", "requests-availability")], bad, total) == pytest.approx(
        0.82, abs=0.005)


def test_the_incident_is_nine_days_ago_and_the_exclusion_covers_the_maintenance(history: History) -> None:
    errors = np.diff(_series(history, "http_requests_total", job="checkout", code="500"))
    ts = np.arange(history.start, history.end + 1, 60)[1:]
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


# --- the demo's stack on 30 days of history -------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIERS = {("checkout", "availability"): "critical", ("checkout", "latency"): "caution",
         ("search", "availability"): "normal", ("myservice", "requests-availability"): "normal"}


@pytest.fixture(scope="module")
def demo_stack(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None:
        pytest.skip("needs Debian's prometheus and prometheus-alertmanager")
    state_dir = tmp_path_factory.mktemp("demo") / "stack"
    ports = Ports.free(1)
    run = subprocess.run([
        FIRELINE, "stack", "up", "--bundle", str(bundle), "--dir", str(state_dir),
        "-c", str(EXAMPLES / "fireline.yaml"), "--specs", str(EXAMPLES), "--history", "30d", "--format", "json",
        "--prometheus-port", str(ports.prometheus), "--alertmanager-port", str(ports.alertmanager),
        "--cluster-port", str(ports.cluster), "--fireline-port", str(ports.fireline),
        "--capture-port", str(ports.capture), "--demo-port", str(ports.demo_service)],
        capture_output=True, text=True, check=False, timeout=300)
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        state: dict[str, Any] = json.loads(run.stdout)
        state["token"] = Path(state["token_file"]).read_text().strip()
        yield state
    finally:
        down(state_dir)


def _budget_status(state: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    response = httpx.get(f"{state['urls']['fireline']}/api/v1/budget/status",
                         headers={"Authorization": f"Bearer {state['token']}"}, timeout=10)
    response.raise_for_status()
    return {(s["service"], s["slo"]): s for s in response.json()["slos"]}


def _wait_for_tiers(state: dict[str, Any], timeout: float = 90) -> dict[tuple[str, str], dict[str, Any]]:
    deadline = time.monotonic() + timeout
    status: dict[tuple[str, str], dict[str, Any]] = {}
    while time.monotonic() < deadline:
        status = _budget_status(state)
        if set(status) == set(TIERS) and all(s["known"] for s in status.values()):
            return status
        time.sleep(1)
    raise AssertionError(f"the policy engine did not measure every SLO within {timeout:.0f}s: {status}")


@pytest.mark.slow
def test_the_demo_stack_starts_with_the_story(demo_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                                              ) -> None:
    history = demo_stack["history"]
    assert history["exclusions_posted"] and history["samples"] > 1_000_000
    status = _wait_for_tiers(demo_stack)
    assert {key: s["tier"] for key, s in status.items()} == TIERS
    assert status[("checkout", "availability")]["budget_remaining"] == pytest.approx(0.20, abs=0.01)
    assert status[("search", "availability")]["budget_remaining"] == pytest.approx(0.90, abs=0.02)
    assert status[("checkout", "availability")]["frozen"] == ["feature"]

    headers = {"Authorization": f"Bearer {demo_stack['token']}"}
    fireline = demo_stack["urls"]["fireline"]
    assert httpx.get(f"{fireline}/api/v1/gate/checkout?change=feature", headers=headers).status_code == 423
    assert httpx.get(f"{fireline}/api/v1/gate/checkout?change=hotfix", headers=headers).status_code == 200
    assert httpx.get(f"{fireline}/api/v1/gate/search?change=feature", headers=headers).status_code == 200

    # The critical tier's actions, once each, even after more cycles (the interval is 10s).
    measured = status[("checkout", "availability")]["measured_at"]
    deadline = time.monotonic() + 60
    while _budget_status(demo_stack)[("checkout", "availability")]["measured_at"] == measured:
        assert time.monotonic() < deadline, "no second policy cycle within 60s"
        time.sleep(1)
    time.sleep(11)
    captured = httpx.get(f"{demo_stack['urls']['capture']}/_capture/requests").json()
    leadership = [r for r in captured if r["path"] == "/serve/leadership/slack"]
    tickets = [json.loads(r["body"])["title"] for r in captured
               if r["path"] == "/serve/tracker-reliability/repos/acme/reliability/issues"]
    assert len(leadership) == 1 and "checkout/availability" in leadership[0]["body"]
    assert sorted(t.split(": ")[0] for t in tickets) == ["Reliability", "SRE review"], tickets
    assert all("checkout/availability" in t for t in tickets), tickets
    assert all(r["headers"].get("authorization") == "Bearer capture-tracker-reliability" for r in captured
               if r["path"].startswith("/serve/tracker-reliability/"))

    # The recorded history: the 5m recordings reach back over the whole window.
    prometheus = demo_stack["urls"]["prometheus"]
    answer = httpx.get(f"{prometheus}/api/v1/query", params={
        "query": 'count_over_time(slo:sli_total:rate5m{service="checkout",slo="availability"}[30d])'}).json()
    assert float(answer["data"]["result"][0]["value"][1]) > 29 * 86400 / 5

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make install adds it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    configured = os.environ.get("FIRELINE_UI_SCREENSHOTS")
    shots = Path(configured) if configured else tmp_path_factory.mktemp("demo-screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(base_url=fireline, viewport={"width": 1280, "height": 900})
            page.goto("/")
            rows = page.locator("table tbody tr")
            texts = {rows.nth(i).inner_text() for i in range(rows.count())}
            for (service, slo), tier in TIERS.items():
                row = next((t for t in texts if t.startswith(f"{service} / {slo}") or f"{service} / {slo}" in t), None)
                assert row is not None, f"no overview row for {service}/{slo}: {texts}"
                assert "%" in row and "unknown" not in row.split("%")[0], row
                assert tier in row.split(), row
            assert "1 exclusion applied" in next(t for t in texts if "search / availability" in t)
            page.screenshot(path=str(shots / "demo-overview.png"), full_page=True)
            page.goto("/slos/checkout/availability")
            page.screenshot(path=str(shots / "demo-slo-checkout-availability.png"), full_page=True)
        finally:
            browser.close()
