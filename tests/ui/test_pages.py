"""The UI over HTTP, in process: reading, login, CSRF, actions through the incidents service, sorting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fireline.incidents.models import Incident, TimelineEvent
from fireline.ui import auth
from tests.ui.support import SLOS, TOKEN, InProcess, alert, in_process, notification, run_policy_cycle


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    with in_process(tmp_path) as running:
        yield running


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)


def open_incident(server: InProcess) -> int:
    result = server.alert(notification(alert("checkout", "payments", fingerprint="a1"), group_key="g-checkout"))
    incident_id = result["incident_id"]
    assert isinstance(incident_id, int)
    return incident_id


def log_in(server: InProcess, name: str = "alice") -> None:
    token = csrf(server.client.get("/login").text)
    response = server.client.post("/login", data={"csrf_token": token, "token": TOKEN, "name": name, "next": "/"},
                                  follow_redirects=False)
    assert response.status_code == 303, response.text
    assert auth.SESSION_COOKIE in response.cookies


def status_of(server: InProcess, incident_id: int) -> str:
    with server.ctx.db.transaction() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return incident.status


def test_reading_can_require_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRELINE_UI_READ", "token")
    with in_process(tmp_path) as server:
        incident_id = open_incident(server)
        for path in ("/", f"/incidents/{incident_id}", f"/incidents/{incident_id}/postmortem.md", "/notifications",
                     "/slos/checkout/availability"):
            response = server.client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        log_in(server)
        page = server.client.get(f"/incidents/{incident_id}")
        assert page.status_code == 200 and "Signed in as" in page.text


def test_overview_lists_slos_worst_first_with_policy_state(server: InProcess) -> None:
    run_policy_cycle(server.ctx, datetime.now(UTC).replace(microsecond=0))
    html = server.client.get("/").text
    order = re.findall(r'<tr data-service="([^"]+)" data-slo="availability">', html)
    expected = [s.service for s in sorted(SLOS, key=lambda s: s.remaining)]
    assert order == expected
    assert order != sorted(order)  # the fixture would prove nothing if worst-first were alphabetical
    checkout_row = html.split('data-service="checkout"')[1].split("</tr>")[0]
    assert "8.0%" in checkout_row and "lockdown" in checkout_row and "feature, critical" in checkout_row
    discovery = server.client.get("/", params={"team": "discovery"}).text
    assert re.findall(r'<tr data-service="([^"]+)"', discovery) == ["search", "catalog"]


def test_actions_need_a_login_and_a_csrf_token(server: InProcess) -> None:
    incident_id = open_incident(server)
    page = server.client.get(f"/incidents/{incident_id}").text
    token = csrf(page)
    assert "Actions need the API token" in page
    refused = server.client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": token, "note": "x"})
    assert refused.status_code == 401
    assert status_of(server, incident_id) == "triggered"

    log_in(server)
    token = csrf(server.client.get(f"/incidents/{incident_id}").text)
    forged = server.client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    cross_site = server.client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": token},
                                    headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert status_of(server, incident_id) == "triggered"


def test_acknowledge_resolve_update_comment_go_through_the_incidents_service(server: InProcess) -> None:
    incident_id = open_incident(server)
    log_in(server, "alice")
    token = csrf(server.client.get(f"/incidents/{incident_id}").text)
    ack = server.client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": token, "note": "on it"},
                             follow_redirects=False)
    assert ack.status_code == 303 and ack.headers["location"].startswith(f"/incidents/{incident_id}?done=")
    again = server.client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": token})
    assert again.status_code == 409 and "cannot acknowledge" in again.text
    empty = server.client.post(f"/incidents/{incident_id}/comments", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 422 and "text is required" in empty.text
    for path, form in (("comments", {"text": "DB failover started"}),
                       ("updates", {"what_happened": "5xx after the deploy", "mitigation": "rolled back"}),
                       ("resolve", {"note": "error ratio back under the objective", "root_cause": "bad config"})):
        response = server.client.post(f"/incidents/{incident_id}/{path}", data={"csrf_token": token, **form},
                                      follow_redirects=False)
        assert response.status_code == 303, (path, response.text)
    with server.ctx.db.transaction() as session:
        events = [(e.kind, e.actor, e.message) for e in session.scalars(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id))]
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.status == "resolved" and incident.root_cause == "bad config"
    kinds = [k for k, actor, _ in events if actor == "alice"]
    assert kinds == ["acknowledged", "comment", "status_update", "resolved"]
    assert ("acknowledged", "alice", "acknowledged by alice: on it") in events
    page = server.client.get(f"/incidents/{incident_id}").text
    assert "DB failover started" in page and "Mitigation: rolled back" in page


def test_login_refuses_a_wrong_token_and_forged_forms(server: InProcess) -> None:
    token = csrf(server.client.get("/login").text)
    wrong = server.client.post("/login", data={"csrf_token": token, "token": "guess", "name": "mallory"})
    assert wrong.status_code == 401 and auth.SESSION_COOKIE not in wrong.cookies
    no_csrf = server.client.post("/login", data={"token": TOKEN, "name": "mallory"})
    assert no_csrf.status_code == 403 and auth.SESSION_COOKIE not in no_csrf.cookies
    redirect = server.client.post("/login", data={"csrf_token": token, "token": TOKEN, "name": "alice",
                                                  "next": "//evil.example/"}, follow_redirects=False)
    assert redirect.headers["location"] == "/"


def test_postmortem_renders_and_downloads(server: InProcess) -> None:
    incident_id = open_incident(server)
    page = server.client.get(f"/incidents/{incident_id}").text
    assert "<h1>Postmortem: checkout availability" in page
    download = server.client.get(f"/incidents/{incident_id}/postmortem.md")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="incident-{incident_id}-postmortem.md"'
    assert download.text.startswith("# Postmortem: checkout availability")
    assert "| time | event | by | what |" in download.text


def test_alert_text_is_escaped_everywhere(server: InProcess) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    result = server.alert(notification(alert("checkout", "payments", fingerprint="x", summary=hostile),
                                       group_key="g-hostile"))
    for path in ("/incidents", f"/incidents/{result['incident_id']}"):
        html = server.client.get(path).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)" in html


def test_pages_carry_a_content_security_policy_and_no_third_party_assets(server: InProcess) -> None:
    response = server.client.get("/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', response.text)
    css = server.client.get("/static/fireline.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert server.client.get("/static/..%2Fauth.py").status_code == 404


def test_sessions_cannot_be_forged_or_outlive_their_expiry(server: InProcess) -> None:
    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    with server.ctx.db.transaction() as db:
        cookie = auth.make_session(db, TOKEN, "alice", start)
    later = start + timedelta(seconds=auth.SESSION_SECONDS)
    with server.ctx.db.transaction() as db:
        session = auth.read_session(db, TOKEN, cookie, start + timedelta(hours=1))
        assert session is not None and session.actor == "alice"
        assert auth.read_session(db, TOKEN, cookie, later + timedelta(seconds=1)) is None
        version, session_id, signature = cookie.split(".")
        # Another last character, always a different id (a random id ending in "x" made "x" no forgery).
        forged = session_id[:-1] + ("y" if session_id.endswith("x") else "x")
        assert auth.read_session(db, TOKEN, f"{version}.{forged}.{signature}", start) is None
        assert auth.read_session(db, TOKEN, f"{version}.{session_id}.{'0' * 64}", start) is None
        # A session made with another token (before a rotation) is not a session of this one.
        assert auth.read_session(db, "rotated", cookie, start) is None


def test_notifications_show_what_the_stacks_capture_server_received(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import time
    from dataclasses import asdict

    import httpx

    from fireline.notify.capture import CaptureServer
    from fireline.stack.stack import StackState

    # The layout `fireline stack up` writes: stack.json next to fireline/fireline.db.
    state_dir = tmp_path / "stack"
    (state_dir / "fireline").mkdir(parents=True)
    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    with CaptureServer() as capture:
        state = StackState(state_dir=str(state_dir), bundle=str(tmp_path / "out"), config=None, demo=True,
                           alertmanager_replicas=1, ports={}, urls={"capture": capture.url}, capture_receivers={},
                           token_file=str(tmp_path / "token"), started_at=time.time(), timers={})
        (state_dir / "stack.json").write_text(json.dumps(asdict(state)), encoding="utf-8")
        httpx.post(f"{capture.url}/serve/payments-chat/slack", json={"text": "checkout burning 15x"}, timeout=5)
        with in_process(state_dir / "fireline") as server:
            html = server.client.get("/notifications").text
    assert capture.url in html
    assert "POST /serve/payments-chat/slack" in html and "checkout burning 15x" in html


def test_drill_page_shows_the_last_checklist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fireline.stack.drill import DrillReport, ItemResult, write_report

    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    monkeypatch.setenv("FIRELINE_STACK_DIR", str(tmp_path / "stack"))
    with in_process(tmp_path) as server:
        assert "no drill has run" in server.client.get("/drill").text
        report = DrillReport("r1", "2026-11-29T06:00:00Z", "2026-11-29T06:04:00Z", {}, True, [
            ItemResult(1, "routing", "alerts reach exactly the expected receivers", "pass", 12.5,
                       ["3 test alerts reached 5 receivers"]),
            ItemResult(6, "runbooks", "runbook links resolve", "fail", 0.4, ["runbooks/x.md does not exist"]),
        ])
        write_report(report, tmp_path / "stack" / "drill" / "last.json")
        html = server.client.get("/drill").text
    assert 'id="drill-verdict">failed' in html
    assert "3 test alerts reached 5 receivers" in html and "runbooks/x.md does not exist" in html
    assert html.index("alerts reach exactly") < html.index("runbook links resolve")


def test_pages_render_when_prometheus_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from fireline.server.settings import PrometheusSettings

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    with in_process(tmp_path) as server:
        server.ctx.config = server.ctx.config.model_copy(
            update={"prometheus": PrometheusSettings(url=f"http://127.0.0.1:{closed}")})
        overview = server.client.get("/")
        assert overview.status_code == 200 and "Prometheus is unreachable" in overview.text
        assert len(re.findall(r'<tr data-service="', overview.text)) == len(SLOS)
        slo = server.client.get("/slos/checkout/availability")
        assert slo.status_code == 200 and "Prometheus could not answer the chart queries" in slo.text
        assert server.client.get("/slos/checkout/nope").status_code == 404


def test_report_page_is_the_cli_report_with_its_style_allowed_by_hash(server: InProcess) -> None:
    incident_id = open_incident(server)
    response = server.client.get("/reports", params={"period": "last-7d"})
    assert response.status_code == 200, response.text
    html = response.text
    assert "<h1>SLO report last-7d</h1>" in html
    for slo in SLOS:
        assert f"<h2>{slo.service} " in html
    checkout = html.split("<h2>checkout ")[1].split("<h2>")[0]
    assert f"<td>{incident_id}</td>" in checkout
    policy = response.headers["content-security-policy"]
    assert "style-src 'self' 'sha256-" in policy and "script-src 'self'" in policy and "<script" not in html
    refused = server.client.get("/reports", params={"period": "2026-13"})
    assert refused.status_code == 400 and "month 13 is not 01-12" in refused.text
    assert 'href="/reports"' in server.client.get("/").text
