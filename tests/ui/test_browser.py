"""The UI in a real browser (Debian's chromium through Playwright) against a real `fireline serve`.

Seeded through the server's own APIs and a real Prometheus with a backfilled week (tests/ui/live.py).
Screenshots of every page go to $FIRELINE_UI_SCREENSHOTS, or to a `ui-screenshots` folder under
pytest's temporary directory (its path is printed with -s and kept by pytest for a few runs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.slo.durations import Duration
from fireline.slo.tiers import DEFAULT_TIERS
from tests.ui.live import LiveServer, live_server
from tests.ui.support import SLOS, TOKEN

CHROMIUM = Path("/usr/bin/chromium")
# Without these chromium stalls on a machine without network (background updates, QUIC probing).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make install adds it)"),
    pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                       reason="prometheus and promtool are needed (Debian package prometheus)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (pip install .[dev])")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("ui-live")) as server:
        yield server


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("FIRELINE_UI_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("ui-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The refused action and the wrong token answer 401 on purpose; any other failed load is a bug.
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and "status of 401" not in msg.text else None)
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"errors in the browser: {errors}"


def shoot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_reading_pages_overview_worst_first_slo_charts_notifications_drill(page: Any, live: LiveServer,
                                                                           shots: Path) -> None:
    expect = sync_api.expect
    page.goto("/")
    rows = page.locator("table#slos tbody tr")
    expect(rows).to_have_count(3)
    order = [rows.nth(i).get_attribute("data-service") for i in range(3)]
    assert order == ["checkout", "search", "catalog"]  # least budget left first
    assert order != sorted(order) and order != [s.service for s in SLOS]
    checkout = page.locator('tr[data-service="checkout"]')
    expect(checkout).to_contain_text("critical")  # policy tier from the engine's stored state
    expect(checkout).to_contain_text("feature")  # frozen change class
    expect(checkout).to_contain_text("1 alert firing")
    expect(checkout.locator("li.burn-firing").first).to_contain_text("1h/5m")
    expect(page.locator('tr[data-service="search"]')).to_contain_text("1 exclusion applied")
    expect(page.locator('tr[data-service="search"]')).to_contain_text("caution")
    expect(checkout).to_contain_text(f"#{live.page_incident}")
    shoot(page, shots, "01-overview")

    page.select_option("#f-team", "discovery")  # fireline.js submits the filter on change
    page.wait_for_url("**/?team=discovery*")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-service") for i in range(2)] == ["search", "catalog"]

    page.goto("/")
    page.get_by_role("link", name="checkout / availability").click()
    page.wait_for_url("**/slos/checkout/availability")
    budget = page.locator("svg#budget")
    expect(budget.locator("path.series")).to_have_count(1)
    expect(budget.locator("desc")).to_contain_text("Budget remaining went from")
    burn = page.locator("svg#burn")
    expect(burn.locator("path.series")).to_have_count(4)  # 1h, 6h, 1d, 3d long windows
    drawn = burn.locator("line.threshold").evaluate_all("lines => lines.map(l => l.getAttribute('data-threshold'))")
    # The 7d window scales the 30d thresholds (14.4, 6, 3, 1) by 7/30: 3.36, 1.4, 0.7, 0.233.
    window = Duration.parse("7d")
    assert sorted(float(v) for v in drawn) == pytest.approx(
        sorted(float(t.burn_rate_threshold(window)) for t in DEFAULT_TIERS), rel=1e-4)
    expect(page.locator("#h-alerts + table")).to_contain_text("CheckoutAvailabilityErrorBudgetBurn")
    expect(page.locator("table.audit tbody tr").first).to_be_visible()
    runbook = page.get_by_role("link", name="page", exact=True)
    assert runbook.get_attribute("href") == "/runbooks/checkout-availability-page.md"
    shoot(page, shots, "02-slo-checkout")
    runbook.click()
    expect(page.locator("article.markdown h1")).to_contain_text("checkout")
    shoot(page, shots, "03-runbook")

    page.goto("/slos/search/availability")
    exclusions = page.locator("#h-exclusions + table")
    expect(exclusions).to_contain_text("maintenance")
    expect(exclusions).to_contain_text("jane.doe")
    expect(page.locator("svg#budget rect title")).to_have_count(1)  # the excluded interval, shaded
    expect(page.locator("table.audit")).to_contain_text("exclusion-added")
    shoot(page, shots, "04-slo-search")

    page.goto("/incidents?status=all")
    expect(page.locator("table#incidents tbody tr")).to_have_count(3)
    page.select_option("#f-status", "resolved")
    page.wait_for_url("**/incidents?status=resolved*")
    expect(page.locator("table#incidents tbody tr")).to_have_count(1)
    expect(page.locator("table#incidents")).to_contain_text("catalog")
    page.goto("/incidents")
    shoot(page, shots, "05-incidents")

    page.goto("/notifications")
    # Escalation pages and the policy engine's notices, delivered by the outbox to the capture server.
    expect(page.locator("table#captured")).to_contain_text("/pagerduty/payments/v2/enqueue")
    expect(page.locator("table#outbox tbody tr").first).to_contain_text("delivered")
    shoot(page, shots, "06-notifications")

    page.goto("/drill")
    expect(page.locator("#drill-verdict")).to_have_text("failed")
    expect(page.locator("table#checklist tbody tr")).to_have_count(8)
    expect(page.locator("table#checklist")).to_contain_text("runbooks/search-availability-ticket.md")
    shoot(page, shots, "07-drill")

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Every form control on every page has a label.
    for path in ("/", "/incidents", f"/incidents/{live.page_incident}", "/login", "/slos/checkout/availability"):
        page.goto(path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name)""")
        assert unlabelled == [], (path, unlabelled)


def test_acting_needs_the_token_acknowledge_shows_on_the_timeline_postmortem_downloads(
        page: Any, live: LiveServer, shots: Path, tmp_path: Path) -> None:
    expect = sync_api.expect
    incident = f"/incidents/{live.page_incident}"
    page.goto(incident)
    expect(page.locator("#incident-status")).to_have_text("triggered")
    expect(page.locator("#login-needed")).to_be_visible()
    expect(page.locator("#acknowledge")).to_be_disabled()
    shoot(page, shots, "08-incident-anonymous")

    # Without the token the server refuses, even when the form is forced open and submitted.
    page.evaluate("document.querySelectorAll('fieldset[disabled]').forEach(f => f.disabled = false)")
    page.fill("#ack-note", "sneaky")
    page.click("#acknowledge")
    expect(page.locator("#refused")).to_contain_text("Actions need the API token")
    shoot(page, shots, "09-action-refused")
    detail = httpx.get(f"{live.url}/api/v1{incident}", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert detail["status"] == "triggered"
    assert not any("sneaky" in e["message"] for e in detail["timeline"])

    page.get_by_role("link", name="Log in").last.click()
    page.fill("#login-name", "alice")
    page.fill("#login-token", "not-the-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("not the API token")
    page.fill("#login-token", TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{incident}")
    expect(page.locator("header")).to_contain_text("Signed in as alice")

    page.fill("#ack-note", "looking at the 14:02 deploy")
    page.click("#acknowledge")
    expect(page.locator("p.done")).to_have_text("Incident acknowledged.")
    expect(page.locator("#incident-status")).to_have_text("acknowledged")
    expect(page.locator("#timeline-list li.ev-acknowledged")).to_contain_text(
        "acknowledged by alice: looking at the 14:02 deploy")
    page.fill("#comment-text", "rolling back 1.42")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator("#timeline-list li.ev-comment").last).to_contain_text("rolling back 1.42")
    shoot(page, shots, "10-incident-acknowledged")

    with page.expect_download() as info:
        page.click("#postmortem-download")
    download = info.value
    assert download.suggested_filename == f"incident-{live.page_incident}-postmortem.md"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# Postmortem: checkout availability")
    assert "by alice" in text and "rolling back 1.42" in text
    # The budget impact comes from the real Prometheus (prometheus.url is set).
    assert "Error budget consumed during the incident" in text
    expect(page.locator("#postmortem h2").first).to_have_text("Summary")
    page.locator("#h-pm").scroll_into_view_if_needed()
    shoot(page, shots, "11-postmortem")
