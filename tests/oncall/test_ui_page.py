"""The /oncall page: who is on call, overrides added and removed, roles, response times (login and CSRF)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fireline.notify.capture import CaptureServer
from fireline.oncall.api import extension as oncall_extension
from fireline.ui.routes import extension as ui_extension
from tests.oncall.support import oncall_config
from tests.server.harness import Harness
from tests.server.support import TOKEN, alert, notification


@pytest.fixture
def ui(database_url: str, capture: CaptureServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[Harness]:
    monkeypatch.setenv("FIRELINE_UI_READ", "open")
    config = oncall_config(tmp_path, capture.url)
    with Harness.start(database_url, capture, tmp_path, config=config,
                       extensions=[ui_extension(), oncall_extension()]) as h:
        yield h


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match is not None
    return match.group(1)


def _log_in(h: Harness, name: str) -> None:
    token = _csrf(h.client.get("/login").text)
    response = h.client.post("/login", data={"csrf_token": token, "token": TOKEN, "name": name, "next": "/oncall"},
                             follow_redirects=False)
    assert response.status_code == 303


def _cells(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


def test_page_shows_who_is_on_call_and_overrides_need_a_login(ui: Harness) -> None:
    page = ui.client.get("/oncall")
    assert page.status_code == 200
    schedules = _cells(page.text, "schedules")
    assert schedules[0][:2] == ["Schedule", "On call"]
    assert schedules[2][:3] == ["payments-primary Europe/Berlin", "bob", "layer 1"]
    assert schedules[1][1] == "nobody"
    form = {"csrf_token": _csrf(page.text), "schedule": "payments-primary", "person": "carol",
            "from": "2026-11-29T13:00", "to": "2026-11-29T15:00"}
    refused = ui.client.post("/oncall/overrides", data=form)
    assert refused.status_code == 401
    assert ui.get("/api/v1/overrides") == []


def test_add_and_remove_an_override_in_the_schedules_time_zone(ui: Harness) -> None:
    _log_in(ui, "bob")
    page = ui.client.get("/oncall")
    added = ui.client.post("/oncall/overrides", data={
        "csrf_token": _csrf(page.text), "schedule": "payments-primary", "person": "carol",
        "from": "2026-11-29T13:00", "to": "2026-11-29T15:00", "reason": "dentist"}, follow_redirects=False)
    assert added.status_code == 303, added.text
    [override] = ui.get("/api/v1/overrides")
    # 13:00 in Berlin (CET) is 12:00 UTC.
    assert (override["start"], override["end"], override["created_by"]) == (
        "2026-11-29T12:00:00Z", "2026-11-29T14:00:00Z", "bob")
    page = ui.client.get("/oncall")
    assert _cells(page.text, "schedules")[2][1:3] == ["carol", f"override {override['id']}"]
    bad = ui.client.post("/oncall/overrides", data={
        "csrf_token": _csrf(page.text), "schedule": "payments-primary", "person": "zed",
        "from": "2026-11-29T13:00", "to": "2026-11-29T15:00"})
    assert bad.status_code == 422 and "no person &#39;zed&#39;" in bad.text
    forged = ui.client.post(f"/oncall/overrides/{override['id']}/remove", data={"csrf_token": "0" * 40})
    assert forged.status_code == 403
    removed = ui.client.post(f"/oncall/overrides/{override['id']}/remove", data={"csrf_token": _csrf(page.text)},
                             follow_redirects=False)
    assert removed.status_code == 303
    assert ui.get("/api/v1/overrides") == []


def test_assign_a_role_and_see_response_times(ui: Harness) -> None:
    incident_id = int(ui.post_alerts(notification(alert())).json()["incident_id"])
    ui.clock.advance(minutes=4)
    ui.post(f"/api/v1/incidents/{incident_id}/ack", actor="bob")
    _log_in(ui, "alice")
    page = ui.client.get("/oncall")
    assigned = ui.client.post(f"/oncall/incidents/{incident_id}/roles", data={
        "csrf_token": _csrf(page.text), "role": "communications", "person": "carol"}, follow_redirects=False)
    assert assigned.status_code == 303
    assert ui.get(f"/api/v1/incidents/{incident_id}/roles")["roles"] == {"communications": "carol"}
    timeline = ui.incident(incident_id)["timeline"]
    assert [(e["actor"], e["message"]) for e in timeline if e["kind"] == "role_assigned"] == [
        ("alice", "carol is communications")]
    page = ui.client.get("/oncall")
    roles = _cells(page.text, "role-list")
    assert roles[1][2] == "carol"
    teams = _cells(page.text, "team-times")
    assert teams[1][:5] == ["payments", "1", "1 (100%)", "0", "4m00s"]
    incidents = _cells(page.text, "incident-times")
    assert incidents[1][3:] == ["bob", "4m00s", "—", "met"]
