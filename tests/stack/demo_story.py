"""What `make demo` shows on first view, checked on the demo's stack (`stack up --history 30d`)
before the drill runs on it: every example SLO has a budget figure and a policy tier in the UI
(Debian's chromium), checkout sits in `critical` with feature deploys frozen, the critical tier's
actions (leadership post, reliability tickets) arrived once, and the recorded history reaches back
over the window. Screenshots of the overview and checkout's page go to $FIRELINE_UI_SCREENSHOTS
(docs/screenshots for the README), else to a temporary folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIERS = {("checkout", "availability"): "critical", ("checkout", "latency"): "caution",
         ("search", "availability"): "normal", ("myservice", "requests-availability"): "normal"}


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


def check_story(demo_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    """demo_stack: the `stack up --format json` state, with the API token under "token"."""
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
    # ...and the burn-down the SLO page plots: hourly budgets, before the incident and after it.
    end = time.time()
    answer = httpx.get(f"{prometheus}/api/v1/query_range", params={
        "query": 'last_over_time(slo:error_budget_remaining:ratio{service="checkout",slo="availability"}[3h])',
        "start": end - 29 * 86400, "end": end, "step": 10800}).json()
    points = [(float(t), float(v)) for t, v in answer["data"]["result"][0]["values"]]
    assert len(points) >= 230
    before = [v for t, v in points if t < end - 10 * 86400]
    assert min(before) > 0.9 and points[-1][1] == pytest.approx(0.20, abs=0.02)

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
            texts = overview_rows(page, {key: [tier] for key, tier in TIERS.items()})
            assert "1 exclusion applied" in next(t for t in texts if "search / availability" in t)
            page.screenshot(path=str(shots / "demo-overview.png"), full_page=True)
            page.goto("/slos/checkout/availability")
            page.screenshot(path=str(shots / "demo-slo-checkout-availability.png"), full_page=True)
        finally:
            browser.close()


def overview_rows(page: Any, tiers: dict[tuple[str, str], list[str]]) -> set[str]:
    """Open the overview; every SLO's row has a budget percentage and one of its allowed tiers."""
    page.goto("/")
    rows = page.locator("table tbody tr")
    texts = {rows.nth(i).inner_text() for i in range(rows.count())}
    for (service, slo), allowed in tiers.items():
        row = next((t for t in texts if f"{service} / {slo}" in t), None)
        assert row is not None, f"no overview row for {service}/{slo}: {texts}"
        assert "%" in row and "unknown" not in row.split("%")[0], row
        assert any(tier in row.split() for tier in allowed), (row, allowed)
    return texts


def check_overview_after_the_drill(fireline: str) -> None:
    """What `make demo` leaves: still a budget and a tier for every example SLO (checkout's tier is
    lockdown until hysteresis lets it back to critical after the policy drill's exclusion)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make install adds it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    allowed = {key: [tier] for key, tier in TIERS.items()}
    allowed[("checkout", "availability")] = ["critical", "lockdown"]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            overview_rows(browser.new_page(base_url=fireline, viewport={"width": 1280, "height": 900}), allowed)
        finally:
            browser.close()
