"""The on-call API: who is on call, shifts, overrides, calendar feeds, roles, response times."""

from __future__ import annotations

from icalendar import Calendar

from fireline.oncall.api import feed_token
from tests.server.harness import Harness
from tests.server.support import AUTH, alert, notification


def test_oncall_now_and_at_a_time_with_until(oncall: Harness) -> None:
    h = oncall
    now = h.get("/api/v1/schedules/payments-primary/oncall")
    assert (now["person"], now["source"], now["slack_user"]) == ("bob", "layer 1", "U02BOB")
    assert now["until"] == "2026-11-30T08:00:00Z"
    later = h.get("/api/v1/schedules/payments-primary/oncall?at=2026-12-01T10:00:00%2B01:00")
    assert later["person"] == "alice" and later["at"] == "2026-12-01T09:00:00Z"
    nobody = h.get("/api/v1/schedules/payments-future/oncall")
    assert nobody["person"] is None and nobody["until"] is None
    listed = h.get("/api/v1/schedules")
    assert [(s["schedule"], s["person"]) for s in listed] == [("payments-future", None), ("payments-primary", "bob")]


def test_oncall_errors_are_4xx_with_reasons(oncall: Harness) -> None:
    h = oncall
    missing = h.client.get("/api/v1/schedules/nope/oncall", headers=AUTH)
    assert missing.status_code == 404 and "payments-primary" in missing.json()["detail"]
    naive = h.client.get("/api/v1/schedules/payments-primary/oncall?at=2026-12-01T10:00:00", headers=AUTH)
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    assert h.client.get("/api/v1/schedules/payments-primary/oncall").status_code == 401
    wide = h.client.get("/api/v1/schedules/payments-primary/shifts?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
                        headers=AUTH)
    assert wide.status_code == 422


def test_overrides_through_the_api_change_who_is_on_call(oncall: Harness) -> None:
    h = oncall
    made = h.post("/api/v1/schedules/payments-primary/overrides",
                  {"person": "carol", "from": "2026-11-29T13:00:00+01:00", "to": "2026-11-29T18:00:00+01:00"},
                  actor="bob")
    assert made.status_code == 201, made.text
    override = made.json()
    assert (override["start"], override["end"], override["created_by"]) == (
        "2026-11-29T12:00:00Z", "2026-11-29T17:00:00Z", "bob")
    now = h.get("/api/v1/schedules/payments-primary/oncall")
    assert (now["person"], now["source"], now["until"]) == ("carol", f"override {override['id']}",
                                                            "2026-11-29T17:00:00Z")
    shifts = h.get("/api/v1/schedules/payments-primary/shifts?from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z")
    assert [s["person"] for s in shifts] == ["bob", "carol", "bob"]
    assert [o["id"] for o in h.get("/api/v1/overrides")] == [override["id"]]
    removed = h.client.delete(f"/api/v1/overrides/{override['id']}", headers=AUTH)
    assert removed.status_code == 200
    assert h.get("/api/v1/schedules/payments-primary/oncall")["person"] == "bob"
    assert h.client.delete(f"/api/v1/overrides/{override['id']}", headers=AUTH).status_code == 404


def test_bad_overrides_are_refused_with_the_reason(oncall: Harness) -> None:
    h = oncall
    cases = [
        ({"person": "mallory", "from": "2026-11-30T00:00:00Z", "to": "2026-11-30T01:00:00Z"}, 422, "no person"),
        ({"person": "carol", "from": "2026-11-30T02:00:00Z", "to": "2026-11-30T01:00:00Z"}, 422, "before it starts"),
        ({"person": "carol", "from": "2026-11-30T00:00:00", "to": "2026-11-30T01:00:00"}, 422, "time zone"),
        ({"person": "carol", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, 422, "in the past"),
        ({"person": "carol", "from": "2026-11-30T00:00:00Z", "to": "2027-11-30T00:00:00Z"}, 422, "at most 90 days"),
    ]
    for body, status, reason in cases:
        response = h.post("/api/v1/schedules/payments-primary/overrides", body)
        assert response.status_code == status, (body, response.text)
        assert reason in response.text
    unknown = h.post("/api/v1/schedules/nope/overrides",
                     {"person": "carol", "from": "2026-11-30T00:00:00Z", "to": "2026-11-30T01:00:00Z"})
    assert unknown.status_code == 404
    assert h.get("/api/v1/overrides") == []


def test_calendar_feeds_with_the_api_token_or_their_own_token(oncall: Harness) -> None:
    h = oncall
    assert h.client.get("/api/v1/schedules/payments-primary/calendar.ics").status_code == 401
    assert h.client.get("/api/v1/schedules/payments-primary/calendar.ics?token=0123").status_code == 401
    url = h.get("/api/v1/schedules/payments-primary")["calendar_url"]
    response = h.client.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    events = list(Calendar.from_ical(response.content).walk("VEVENT"))
    assert {str(e["SUMMARY"]).split()[0] for e in events} == {"alice", "bob"}
    # A schedule's token does not open another feed.
    token = feed_token(h.ctx, "schedule", "payments-primary")
    assert h.client.get(f"/api/v1/people/alice/calendar.ics?token={token}").status_code == 401
    person = h.client.get(f"/api/v1/people/alice/calendar.ics?token={feed_token(h.ctx, 'person', 'alice')}")
    assert person.status_code == 200
    summaries = {str(e["SUMMARY"]) for e in Calendar.from_ical(person.content).walk("VEVENT")}
    assert summaries == {"alice on call: payments-primary"}
    assert h.client.get("/api/v1/people/nobody/calendar.ics", headers=AUTH).status_code == 404


def test_roles_are_assigned_released_and_written_on_the_timeline(oncall: Harness) -> None:
    h = oncall
    incident_id = int(h.post_alerts(notification(alert())).json()["incident_id"])
    given = h.client.put(f"/api/v1/incidents/{incident_id}/roles/commander", json={"person": "alice"},
                         headers={**AUTH, "X-Fireline-Actor": "bob"})
    assert given.status_code == 200 and given.json()["roles"] == {"commander": "alice"}
    h.client.put(f"/api/v1/incidents/{incident_id}/roles/scribe", json={"person": "carol"}, headers=AUTH)
    h.client.put(f"/api/v1/incidents/{incident_id}/roles/commander", json={"person": "bob"}, headers=AUTH)
    released = h.client.delete(f"/api/v1/incidents/{incident_id}/roles/scribe", headers=AUTH)
    assert released.json()["roles"] == {"commander": "bob"}
    bad = h.client.put(f"/api/v1/incidents/{incident_id}/roles/commander", json={"person": "zed"}, headers=AUTH)
    assert bad.status_code == 422 and "no person 'zed'" in bad.text
    assert h.client.put(f"/api/v1/incidents/{incident_id}/roles/boss", json={"person": "bob"},
                        headers=AUTH).status_code == 422
    assert h.client.put("/api/v1/incidents/999/roles/commander", json={"person": "bob"},
                        headers=AUTH).status_code == 404
    timeline = [(e["actor"], e["message"]) for e in h.incident(incident_id)["timeline"] if e["kind"] == "role_assigned"]
    assert timeline == [("bob", "alice is commander"), ("api", "carol is scribe"),
                        ("api", "bob is commander (was alice)"), ("api", "scribe role released (was carol)")]


def test_response_times_per_incident_and_team_against_fifteen_minutes(oncall: Harness) -> None:
    h = oncall
    first = int(h.post_alerts(notification(alert())).json()["incident_id"])
    h.clock.advance(minutes=5)
    h.post(f"/api/v1/incidents/{first}/ack", actor="bob")
    h.clock.advance(minutes=55)
    h.post(f"/api/v1/incidents/{first}/resolve", actor="bob")
    second = int(h.post_alerts(notification(alert(fingerprint="f2"), group_key='{}:{a="2"}')).json()["incident_id"])
    h.clock.advance(minutes=20)
    h.post(f"/api/v1/incidents/{second}/ack", actor="alice")
    third = int(h.post_alerts(notification(alert(fingerprint="f3", team="search"),
                                           group_key='{}:{a="3"}')).json()["incident_id"])
    h.clock.advance(minutes=1)
    report = h.get("/api/v1/response-times")
    assert report["target_seconds"] == 900
    rows = {r["id"]: r for r in report["incidents"]}
    assert (rows[first]["time_to_acknowledge_seconds"], rows[first]["time_to_resolve_seconds"],
            rows[first]["within_target"]) == (300.0, 3600.0, True)
    assert (rows[second]["time_to_acknowledge_seconds"], rows[second]["within_target"]) == (1200.0, False)
    assert rows[third]["within_target"] is None  # one minute old, nobody yet
    payments = report["teams"]["payments"]
    assert (payments["incidents"], payments["within_target"], payments["missed_target"]) == (2, 1, 1)
    assert payments["mtta_seconds"] == 750.0 and payments["mttr_seconds"] == 3600.0
    assert payments["within_target_ratio"] == 0.5
    assert report["overall"]["incidents"] == 3
    only = h.get("/api/v1/response-times?team=search&from=2026-11-29T00:00:00Z")
    assert [r["id"] for r in only["incidents"]] == [third] and only["from"] == "2026-11-29T00:00:00Z"
