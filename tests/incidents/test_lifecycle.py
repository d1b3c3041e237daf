"""Incident lifecycle through the HTTP API on SQLite and PostgreSQL: intake, escalation, transitions,
notifications at the capture server, updates, postmortem."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.harness import Harness
from tests.server.support import ROUTING_KEY, alert, notification


def _kinds(incident: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in incident["timeline"]]


def _open(h: Harness) -> int:
    response = h.post_alerts(notification(alert()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["opened"] is True
    return int(body["incident_id"])


def test_page_opens_escalates_is_acknowledged_and_resolved(harness: Harness) -> None:
    h = harness
    incident_id = _open(h)
    h.tick()
    pd = h.capture.requests("/v2/enqueue")
    assert [r.json()["event_action"] for r in pd] == ["trigger"]
    trigger = pd[0].json()
    assert trigger["routing_key"] == ROUTING_KEY  # read from routing_key_file at delivery
    assert trigger["dedup_key"] == f"fireline-{incident_id}"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["burn_rate"] == "15.2x"
    assert trigger["payload"]["custom_details"]["budget_remaining"] == "81.3%"
    slack = h.capture.requests("/slack/payments")
    assert len(slack) == 1 and "SEV1 triggered" in slack[0].json()["text"]
    assert h.capture.requests("/slack/lead") == []

    h.clock.advance(minutes=14, seconds=59)
    h.tick()
    assert h.capture.requests("/slack/lead") == [], "the lead is paged only after 15m"
    h.clock.advance(seconds=2)
    h.tick()
    lead = h.capture.requests("/slack/lead")
    assert len(lead) == 1 and "escalated (step 2" in lead[0].json()["text"]
    assert h.capture.requests("/hook/director") == []

    acked = h.post(f"/api/v1/incidents/{incident_id}/ack", {"note": "on it"}, actor="bob")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "bob"
    h.clock.advance(minutes=30)
    h.tick()
    assert h.capture.requests("/hook/director") == [], "acknowledged: the director is not paged"
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger", "acknowledge"]

    resolved = h.post(f"/api/v1/incidents/{incident_id}/resolve", {"note": "rolled back", "root_cause": "bad push"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    h.tick()
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger", "acknowledge",
                                                                                        "resolve"]
    incident = h.incident(incident_id)
    kinds = _kinds(incident)
    for kind in ("opened", "alert_fired", "escalated", "notification_sent", "acknowledged", "resolved"):
        assert kind in kinds
    assert kinds.count("escalated") == 2
    # Every notification is delivered exactly once.
    assert all(n["status"] == "delivered" and n["attempts"] == 1 for n in incident["notifications"])
    # Slack heard every transition: triggered, acknowledged, resolved on the team channel; lead: escalation,
    # acknowledged, resolved.
    assert len(h.capture.requests("/slack/payments")) == 3
    assert len(h.capture.requests("/slack/lead")) == 3


def test_unacknowledged_incident_reaches_the_director(harness: Harness) -> None:
    h = harness
    incident_id = _open(h)
    h.clock.advance(minutes=31)
    h.tick()  # both overdue steps fire in order on one tick
    director = h.capture.requests("/hook/director")
    assert len(director) == 1
    body = director[0].json()
    assert body["event"] == "escalated" and body["escalation_step"] == 2 and body["incident_id"] == incident_id
    assert h.incident(incident_id)["escalation_next_at"] is None


def test_same_notification_twice_changes_nothing(harness: Harness) -> None:
    h = harness
    body = notification(alert())
    first = h.post_alerts(body).json()
    before = h.incident(first["incident_id"])
    again = h.post_alerts(body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    after = h.incident(first["incident_id"])
    assert after == before
    assert len(h.get("/api/v1/incidents")) == 1


def test_all_alerts_resolved_mitigates_and_refiring_reopens(harness: Harness) -> None:
    h = harness
    incident_id = _open(h)
    h.tick()
    resolved = h.post_alerts(notification(alert(status="resolved")))
    assert resolved.json()["incident_id"] == incident_id
    incident = h.incident(incident_id)
    assert incident["status"] == "mitigated"
    assert any(e["kind"] == "mitigated" and "all alerts resolved" in e["message"] for e in incident["timeline"])
    h.post(f"/api/v1/incidents/{incident_id}/resolve")
    h.clock.advance(minutes=10)  # within the 30m cool-down: the same incident comes back
    again = h.post_alerts(notification(alert(starts="2026-11-29T12:10:00Z")))
    assert again.json() == {"duplicate": False, "incident_id": incident_id, "opened": False, "alerts": 1,
                            "note": "incident updated"}
    incident = h.incident(incident_id)
    assert incident["status"] == "triggered" and "reopened" in _kinds(incident)
    h.tick(2)  # the resolve first, then the new trigger: one stream is delivered in order
    # The reopened episode pages again (a new PagerDuty trigger after the resolve).
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger", "resolve", "trigger"]
    h.post(f"/api/v1/incidents/{incident_id}/resolve")
    h.clock.advance(minutes=31)  # past the cool-down: a new incident
    fresh = h.post_alerts(notification(alert(starts="2026-11-29T12:50:00Z"))).json()
    assert fresh["opened"] is True and fresh["incident_id"] != incident_id


def test_ticket_alerts_are_tickets_without_escalation(harness: Harness) -> None:
    h = harness
    body = notification(alert("CheckoutAvailabilityErrorBudgetLow", severity="warning", fireline_severity="ticket"),
                        group_key='{}:{alertname="Low"}')
    result = h.post_alerts(body).json()
    incident = h.incident(result["incident_id"])
    assert incident["kind"] == "ticket" and incident["severity"] == "ticket" and incident["escalation"] == []
    h.clock.advance(hours=1)
    h.tick()
    assert h.capture.requests() == []
    assert [i["id"] for i in h.get("/api/v1/incidents?kind=ticket")] == [result["incident_id"]]
    assert h.get("/api/v1/incidents?kind=incident") == []


def test_filters(harness: Harness) -> None:
    h = harness
    first = _open(h)
    h.post_alerts(notification(alert(fingerprint="fp2", service="search"), group_key="g2"))
    h.post(f"/api/v1/incidents/{first}/ack")
    assert [i["id"] for i in h.get("/api/v1/incidents?status=acknowledged")] == [first]
    assert len(h.get("/api/v1/incidents?status=triggered&severity=SEV1")) == 1
    assert h.get("/api/v1/incidents?severity=SEV2") == []
    assert [i["service"] for i in h.get("/api/v1/incidents?service=checkout")] == ["checkout"]


def test_transitions_not_allowed_are_409(harness: Harness) -> None:
    h = harness
    incident_id = _open(h)
    assert h.post(f"/api/v1/incidents/{incident_id}/resolve").status_code == 200
    again = h.post(f"/api/v1/incidents/{incident_id}/ack")
    assert again.status_code == 409 and "it is resolved" in again.json()["detail"]
    assert h.post("/api/v1/incidents/999/ack").status_code == 404


def test_status_update_comment_actions_and_postmortem(harness: Harness) -> None:
    h = harness
    incident_id = _open(h)
    h.tick()
    h.capture.clear()
    update = h.post(f"/api/v1/incidents/{incident_id}/updates", {
        "what_happened": "5xx on checkout after the 14:02 deploy", "root_cause": "fallback disabled",
        "mitigation": "rolled back", "error_rate_before": "12%", "error_rate_after": "0.05%", "burn_rate": "0.5x",
        "budget_consumed": "9%", "budget_remaining": "71%", "next_steps": "watch for 1h"})
    assert update.status_code == 201, update.text
    h.tick()
    posted = h.capture.requests("/slack/payments")
    assert len(posted) == 1 and h.capture.requests("/v2/enqueue") == [], "updates go to chat, not the pager"
    text = str(posted[0].json()["blocks"])
    for part in ("What happened", "Root cause", "fallback disabled", "before 12%, now 0.05%", "consumed 9%",
                 "remaining 71%", "Next steps"):
        assert part in text
    assert h.post(f"/api/v1/incidents/{incident_id}/comments", {"text": "failover done"}).status_code == 201
    action = h.post(f"/api/v1/incidents/{incident_id}/actions", {"title": "Alert on fallback", "owner": "carol",
                                                                 "due": "2026-12-06"})
    assert action.status_code == 201
    h.clock.advance(minutes=5)
    h.post(f"/api/v1/incidents/{incident_id}/ack")
    h.clock.advance(minutes=20)
    h.post(f"/api/v1/incidents/{incident_id}/resolve")
    response = h.client.get(f"/api/v1/incidents/{incident_id}/postmortem", headers={"Authorization":
                                                                                   "Bearer test-token-7d1f"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Postmortem: checkout availability")
    assert "- Duration: 25m 0s" in text and "- Time to acknowledge: 5m 0s" in text
    assert "fallback disabled" in text  # root cause from the update
    assert "| Alert on fallback | carol | 2026-12-06 |" in text
    assert "failover done" in text and "status_update" in text
    assert "Post-incident review due by 2026-11-30 12:25:00 UTC" in text
    assert "Error budget consumed: unknown (prometheus.url is not configured)" in text


@pytest.mark.parametrize("severity,expected", [("critical", "SEV1"), ("error", "SEV2")])
def test_severity_mapping(harness: Harness, severity: str, expected: str) -> None:
    result = harness.post_alerts(notification(alert(severity=severity))).json()
    assert harness.incident(result["incident_id"])["severity"] == expected


def test_a_ticket_that_gets_a_page_becomes_an_incident(harness: Harness) -> None:
    h = harness
    ticket = alert("CheckoutAvailabilityErrorBudgetLow", severity="warning", fireline_severity="ticket",
                   fingerprint="warn")
    result = h.post_alerts(notification(ticket, group_key="mixed")).json()
    assert h.incident(result["incident_id"])["kind"] == "ticket"
    page = alert("CheckoutAvailabilityErrorBudgetLow", fingerprint="crit")
    assert h.post_alerts(notification(ticket, page, group_key="mixed")).json()["incident_id"] == result["incident_id"]
    incident = h.incident(result["incident_id"])
    assert (incident["kind"], incident["severity"]) == ("incident", "SEV1") and incident["escalation"]
    assert any("severity raised from ticket to SEV1" in e["message"] for e in incident["timeline"])
    h.tick()
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger"]


def test_old_intake_receipts_are_pruned(harness: Harness) -> None:
    from fireline.incidents.api import prune_receipts

    h = harness
    body = notification(alert())
    h.post_alerts(body)
    assert h.post_alerts(body).json()["duplicate"] is True
    prune_receipts(h.ctx, h.clock.advance(days=6))
    assert h.post_alerts(body).json()["duplicate"] is True, "kept for a week"
    prune_receipts(h.ctx, h.clock.advance(days=2))
    again = h.post_alerts(body).json()
    assert again["duplicate"] is False and again["opened"] is False  # the same open incident, updated
