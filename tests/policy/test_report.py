"""`fireline report` on a real Prometheus (conftest's history) and a serve database with incidents,
policy transitions and an exclusion: Markdown, HTML and a PDF read back with pdftoppm and pdftotext.

Every figure expected here is worked out from the samples the history wrote, not from PromQL.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.incidents.models import Incident
from fireline.policy.server import MIGRATIONS
from fireline.policy.tables import BudgetExclusion, PolicyTransition
from fireline.reports.build import tier_time
from fireline.reports.period import PeriodError, parse_period
from fireline.server.db import Database, migrate, register_migrations

from .conftest import BURSTS, OBJECTIVE, History, PrometheusServer
from .harness import SPEC

SEPTEMBER = (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
AT = "2026-10-05T00:00:00Z"
EXCLUDED = (BURSTS[2].start, BURSTS[2].end)


def _database(url: str) -> None:
    register_migrations(MIGRATIONS)
    migrate(url)
    db = Database(url)
    opened = datetime(2026, 9, 10, 10, 5, tzinfo=UTC)
    with db.transaction() as session:
        session.add(Incident(
            group_key="g1", open_group_key=None, kind="incident", severity="SEV2", status="resolved",
            title="checkout availability: error budget burning 30x", team="payments", service="checkout",
            slo="availability", labels={}, annotations={}, opened_at=opened, last_fired_at=opened,
            acknowledged_at=opened + timedelta(minutes=4), resolved_at=opened + timedelta(hours=1, minutes=10),
            escalation=[], episode=1))
        ticket_at = datetime(2026, 9, 28, 2, tzinfo=UTC)
        session.add(Incident(
            group_key="g2", open_group_key=None, kind="ticket", severity="ticket", status="triggered",
            title="checkout availability: slow burn", team="payments", service="checkout", slo="availability",
            labels={}, annotations={}, opened_at=ticket_at, last_fired_at=ticket_at, escalation=[], episode=1))
        for seq, (at, before, after) in enumerate([
                (datetime(2026, 8, 25, tzinfo=UTC), None, "normal"),
                (datetime(2026, 9, 10, 11, tzinfo=UTC), "normal", "caution"),
                (datetime(2026, 9, 11, 6, tzinfo=UTC), "caution", "alert"),
                (datetime(2026, 9, 20, tzinfo=UTC), "alert", "normal")]):
            session.add(PolicyTransition(service="checkout", slo="availability", seq=seq, from_tier=before,
                                         to_tier=after, at=at, remaining=0.5))
        session.add(BudgetExclusion(service="checkout", slo=None, start=EXCLUDED[0], end=EXCLUDED[1],
                                    reason="maintenance", approved_by="sre-lead", note="planned failover",
                                    created_at=opened, created_by="test"))
    db.dispose()


@pytest.fixture
def workspace(tmp_path: Path, prometheus: PrometheusServer) -> Path:
    (tmp_path / "checkout.yaml").write_text(SPEC, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'fireline.db'}"
    _database(url)
    config = {
        "apiVersion": "fireline/v1", "kind": "Config", "specs": [str(tmp_path / "checkout.yaml")],
        "prometheus": {"url": prometheus.url}, "server": {"database": url},
        "receivers": {"chat": {"webhook": {"url": "http://127.0.0.1:9/chat"}}}, "default_receiver": "chat",
        "teams": {"payments": {"page": ["chat"]}},
        "policy": {},
    }
    (tmp_path / "fireline.yaml").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


def expected(history: History) -> tuple[float, float]:
    """Compliance and budget consumed in September, the maintenance window removed, in percent."""
    remaining = history.remaining(*SEPTEMBER, [EXCLUDED])
    consumed = 1 - remaining
    return 100 - consumed * (100 - OBJECTIVE), consumed * 100


def run(workspace: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["report", "--period", "2026-09", "-c", str(workspace / "fireline.yaml"),
                                      "--at", AT, *args])
    assert result.exit_code == 0, result.output
    return result.output


def figures(text: str) -> tuple[float, float]:
    row = re.search(r"availability \| 99% \| ([0-9.]+)% \| \*\*missed\*\* \| ([0-9.]+)% \| (raw|recorded) \|", text)
    assert row, text[:2000]
    return float(row.group(1)), float(row.group(2))


def test_markdown_report_figures_tiers_incidents_and_exclusions(workspace: Path, history: History) -> None:
    out = workspace / "september.md"
    run(workspace, "--format", "md", "-o", str(out))
    text = out.read_text(encoding="utf-8")
    compliance, consumed = figures(text)
    want_compliance, want_consumed = expected(history)
    # The late-September burst alone is more than the month's budget: missed, and overspent.
    assert want_consumed > 100
    assert consumed == pytest.approx(want_consumed, abs=1.0)
    assert compliance == pytest.approx(want_compliance, abs=0.01)
    assert "2026-09-01 00:00 to 2026-10-01 00:00 (UTC)" in text
    # Tiers in force during September: normal from before the month, caution, alert, normal again.
    assert re.search(r"\| alert \| 8d 18h \|", text), text
    assert re.search(r"\| normal \| 20d 11h \|", text) or re.search(r"\| normal \| 2\dd", text), text
    assert "| caution | 19h 0m |" in text
    assert "| 2026-09-12 10:00 UTC to 2026-09-12 11:00 UTC | maintenance | sre-lead | planned failover |" in text
    assert re.search(r"\| 1 \| checkout availability: error budget burning 30x \| SEV2 \| availability \| "
                     r"2026-09-10 10:05 UTC \| 4m \| 1h 10m \|", text), text
    assert "| 2026-W37 | 1 | 0 |" in text and "| 2026-W40 | 0 | 1 |" in text
    chart = workspace / "september-charts" / "checkout-availability.svg"
    assert chart.exists() and "<svg" in chart.read_text(encoding="utf-8")
    assert "(september-charts/checkout-availability.svg)" in text


def test_pdf_report_read_back(workspace: Path, history: History, tmp_path: Path) -> None:
    if shutil.which("chromium") is None or shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("chromium and poppler-utils are needed (make install adds them)")
    out = workspace / "september.pdf"
    run(workspace, "--format", "pdf", "-o", str(out))
    assert out.read_bytes().startswith(b"%PDF")
    pages = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(out), str(pages)], check=True, timeout=60)
    images = sorted(tmp_path.glob("page*.png"))
    assert images and all(p.stat().st_size > 5_000 for p in images)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    assert "SLO report 2026-09" in text and "checkout" in text and "availability" in text
    assert "missed" in text and "maintenance" in text and "planned" in text and "slow" in text
    want_compliance, want_consumed = expected(history)
    numbers = [float(n) for n in re.findall(r"([0-9]+\.[0-9]+)%", text)]
    assert any(abs(n - want_compliance) < 0.01 for n in numbers), (want_compliance, numbers)
    assert any(abs(n - want_consumed) < 1.0 for n in numbers), (want_consumed, numbers)


def test_html_report_and_errors(workspace: Path) -> None:
    out = workspace / "r.html"
    run(workspace, "--format", "html", "-o", str(out))
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page and "critical below 25%" in page
    bad = CliRunner().invoke(app, ["report", "--period", "2026-13", "-c", str(workspace / "fireline.yaml")])
    assert bad.exit_code == 2 and "month 13 is not 01-12" in bad.output
    bad = CliRunner().invoke(app, ["report", "--period", "last-30d", "--format", "docx",
                                   "-c", str(workspace / "fireline.yaml")])
    assert bad.exit_code == 2 and "use html, pdf or md" in bad.output
    # No database file: the report still has its figures and says what it left out.
    out = workspace / "nodb.md"
    run(workspace, "--format", "md", "-o", str(out), "--database", f"sqlite:///{workspace / 'missing.db'}")
    text = out.read_text(encoding="utf-8")
    assert "Not included: no incidents, policy tiers or exclusions: the database" in text
    assert not (workspace / "missing.db").exists()
    figures(text)


def test_periods() -> None:
    now = datetime(2026, 12, 2, 14, 30, tzinfo=UTC)
    month = parse_period("2026-11", now)
    assert (month.start, month.end, month.complete) == (datetime(2026, 11, 1, tzinfo=UTC),
                                                        datetime(2026, 12, 1, tzinfo=UTC), True)
    running = parse_period("2026-12", now)
    assert running.end == now and not running.complete and running.describe().endswith("so far")
    week = parse_period("2026-W48", now, "Europe/Berlin")
    assert week.start == datetime(2026, 11, 22, 23, tzinfo=UTC) and week.end == datetime(2026, 11, 29, 23, tzinfo=UTC)
    assert parse_period("last-30d", now).start == now - timedelta(days=30)
    for text, message in (("2026-W54", "no ISO week 54"), ("2027-01", "after now"), ("November", "is not YYYY-MM"),
                          ("last-0d", "1 to 400")):
        with pytest.raises(PeriodError, match=message):
            parse_period(text, now)


def test_tier_time_counts_only_the_period() -> None:
    class T:
        def __init__(self, at: datetime, tier: str) -> None:
            self.at, self.to_tier = at, tier

    period = parse_period("2026-09", datetime(2026, 10, 5, tzinfo=UTC))
    moves = [T(datetime(2026, 8, 1, tzinfo=UTC), "normal"), T(datetime(2026, 9, 11, tzinfo=UTC), "alert"),
             T(datetime(2026, 10, 2, tzinfo=UTC), "normal")]
    assert tier_time(moves, period) == [("alert", 20 * 86400.0), ("normal", 10 * 86400.0)]
    assert tier_time([], period) == []
