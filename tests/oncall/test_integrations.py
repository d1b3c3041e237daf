"""Signed requests from Slack and PagerDuty, signed here the way their documentation says.

Good signatures act; bad, stale and replayed ones are 401 and change nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fireline.notify.capture import CaptureServer
from fireline.oncall.api import extension
from tests.notify.schemas import assert_slack
from tests.oncall.support import (
    button_press,
    oncall_config,
    pagerduty_event,
    pagerduty_headers,
    slack_headers,
    slash_command,
)
from tests.server.harness import Harness
from tests.server.support import alert, notification

INTERACTIONS = "/api/v1/integrations/slack/interactions"
COMMANDS = "/api/v1/integrations/slack/commands"
PAGERDUTY = "/api/v1/integrations/pagerduty/webhooks"


def _open(h: Harness) -> int:
    return int(h.post_alerts(notification(alert())).json()["incident_id"])


def _now(h: Harness) -> int:
    return int(h.clock.now.timestamp())


def _press(h: Harness, action: str, incident_id: int, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = button_press(action, incident_id, response_url=f"{h.capture.url}/slack/response", **kwargs)
    return body, slack_headers(body, timestamp=_now(h))


def _state(h: Harness, incident_id: int) -> tuple[str, str | None, list[str]]:
    incident = h.incident(incident_id)
    return incident["status"], incident["acknowledged_by"], [e["kind"] for e in incident["timeline"]]


def _reopen(h: Harness) -> None:
    """All alerts resolve (the incident is mitigated), then fire again (it reopens, triggered)."""
    h.clock.advance(minutes=1)
    h.post_alerts(notification(alert(status="resolved")))
    h.clock.advance(minutes=1)
    h.post_alerts(notification(alert(starts="2026-11-29T12:01:30Z")))


# --------------------------------------------------------------------------------------------- Slack

def test_a_signed_acknowledge_press_acknowledges_updates_the_message_and_tells_pagerduty(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    h.tick()
    body, headers = _press(h, "fireline_acknowledge", incident_id)
    response = h.client.post(INTERACTIONS, content=body, headers=headers)
    assert response.status_code == 200, response.text
    status, by, _kinds = _state(h, incident_id)
    assert (status, by) == ("acknowledged", "alice")
    ack = [e for e in h.incident(incident_id)["timeline"] if e["kind"] == "acknowledged"]
    assert [(e["actor"], e["message"]) for e in ack] == [("alice", "acknowledged by alice: via Slack")]
    [update] = h.capture.requests("/slack/response")
    message = update.json()
    assert message["replace_original"] is True
    assert_slack({k: v for k, v in message.items() if k != "replace_original"})
    assert message["text"].startswith("SEV1 acknowledged")
    buttons = [e.get("action_id") for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "fireline_acknowledge" not in buttons and "fireline_resolve" in buttons
    h.tick()
    actions = [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")]
    assert actions == ["trigger", "acknowledge"]
    assert h.capture.requests("/v2/enqueue")[1].json()["dedup_key"] == f"fireline-{incident_id}"


def test_bad_stale_and_unsigned_presses_are_401_and_change_nothing(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    before = _state(h, incident_id)
    body = button_press("fireline_resolve", incident_id, response_url=f"{h.capture.url}/slack/response")
    wrong_secret = slack_headers(body, secret="not-the-signing-secret", timestamp=_now(h))
    stale = slack_headers(body, timestamp=_now(h) - 301)
    future = slack_headers(body, timestamp=_now(h) + 301)
    good = slack_headers(body, timestamp=_now(h))
    tampered = body.replace(b"fireline_resolve", b"fireline_on_it")
    for name, content, headers in [
        ("wrong secret", body, wrong_secret), ("stale", body, stale), ("future", body, future),
        ("tampered body", tampered, good), ("unsigned", body, {"Content-Type": "application/x-www-form-urlencoded"}),
        ("signature of another timestamp", body, {**good, "X-Slack-Request-Timestamp": str(_now(h) - 1)}),
    ]:
        response = h.client.post(INTERACTIONS, content=content, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert "Slack signature refused" in response.json()["detail"]
    assert _state(h, incident_id) == before
    assert h.capture.requests("/slack/response") == []
    # The stale request is refused at 301 seconds; at 299 the same signing scheme is accepted.
    fresh = slack_headers(body, timestamp=_now(h) - 299)
    assert h.client.post(INTERACTIONS, content=body, headers=fresh).status_code == 200
    assert _state(h, incident_id)[0] == "resolved"


def test_a_replayed_press_is_401_and_changes_nothing(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    body, headers = _press(h, "fireline_acknowledge", incident_id)
    assert h.client.post(INTERACTIONS, content=body, headers=headers).status_code == 200
    _reopen(h)
    reopened = _state(h, incident_id)
    assert reopened[0] == "triggered"
    replay = h.client.post(INTERACTIONS, content=body, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    assert _state(h, incident_id) == reopened


def test_an_unknown_slack_user_gets_an_ephemeral_answer_and_nothing_changes(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    before = _state(h, incident_id)
    body, headers = _press(h, "fireline_acknowledge", incident_id, user="U9STRANGER")
    assert h.client.post(INTERACTIONS, content=body, headers=headers).status_code == 200
    assert _state(h, incident_id) == before
    [answer] = h.capture.requests("/slack/response")
    assert answer.json()["response_type"] == "ephemeral" and answer.json()["replace_original"] is False
    assert "does not know Slack user U9STRANGER" in answer.json()["text"]


def test_im_on_it_acknowledges_and_makes_the_presser_commander(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    body, headers = _press(h, "fireline_on_it", incident_id, user="U03CAROL")
    assert h.client.post(INTERACTIONS, content=body, headers=headers).status_code == 200
    incident = h.incident(incident_id)
    assert incident["acknowledged_by"] == "carol"
    assert [(e["actor"], e["message"]) for e in incident["timeline"] if e["kind"] == "role_assigned"] == [
        ("carol", "carol is commander")]
    assert h.get(f"/api/v1/incidents/{incident_id}/roles")["roles"] == {"commander": "carol"}


def test_a_press_on_an_incident_already_acknowledged_answers_who_and_changes_nothing(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    h.post(f"/api/v1/incidents/{incident_id}/ack", actor="bob")
    before = _state(h, incident_id)
    body, headers = _press(h, "fireline_acknowledge", incident_id)
    assert h.client.post(INTERACTIONS, content=body, headers=headers).status_code == 200
    assert _state(h, incident_id) == before
    [answer] = h.capture.requests("/slack/response")
    assert "acknowledged by bob: nothing to acknowledge" in answer.json()["text"]


def test_signed_garbage_is_400_and_response_urls_elsewhere_are_not_called(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    garbage = b"payload=%7Bnot-json"
    assert h.client.post(INTERACTIONS, content=garbage, headers=slack_headers(garbage, timestamp=_now(h))
                         ).status_code == 400
    body = button_press("fireline_acknowledge", incident_id, response_url="https://attacker.example/x")
    assert h.client.post(INTERACTIONS, content=body, headers=slack_headers(body, timestamp=_now(h))
                         ).status_code == 200
    assert _state(h, incident_id)[0] == "acknowledged"  # acted, but the message update went nowhere
    assert h.capture.requests() == []


def test_an_unreadable_signing_secret_is_503_without_the_path_contents(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    config = oncall_config(tmp_path, capture.url)
    assert config.integrations.slack is not None
    Path(config.integrations.slack.signing_secret_file).unlink()
    with Harness.start(database_url, capture, tmp_path, config=config, extensions=[extension()]) as h:
        body = button_press("fireline_acknowledge", 1)
        response = h.client.post(INTERACTIONS, content=body, headers=slack_headers(body, timestamp=_now(h)))
        assert response.status_code == 503 and "cannot be read" in response.json()["detail"]


def test_slash_commands_ack_status_oncall_and_role(oncall: Harness) -> None:
    h = oncall

    def command(text: str, user: str = "U01ALICE") -> Any:
        h.clock.advance(seconds=1)  # Slack signs every request with its own timestamp
        body = slash_command(text, user=user)
        response = h.client.post(COMMANDS, content=body, headers=slack_headers(body, timestamp=_now(h)))
        assert response.status_code == 200, response.text
        return response.json()

    incident_id = _open(h)
    assert "*payments-primary*: <@U02BOB> (layer 1) until 2026-11-30 08:00 UTC" in command("oncall")["text"]
    assert f"#{incident_id} SEV1 triggered" in command("status")["text"]
    stranger = command(f"ack {incident_id}", user="U9STRANGER")
    assert stranger["response_type"] == "ephemeral" and "does not know" in stranger["text"]
    assert h.incident(incident_id)["status"] == "triggered"
    acked = command(f"ack {incident_id}")
    assert acked == {"response_type": "in_channel", "text": f"incident #{incident_id} acknowledged by alice"}
    assert "nothing to acknowledge" in command(f"ack {incident_id}")["text"]
    assert command(f"role {incident_id} scribe <@U03CAROL|carol>")["text"] == (
        f"carol is scribe of incident #{incident_id}")
    assert command(f"role {incident_id} commander")["text"] == f"alice is commander of incident #{incident_id}"
    assert "commander alice" in command(f"status {incident_id}")["text"]
    assert "unknown command" in command("reboot everything")["text"]
    assert command(f"resolve {incident_id}")["text"] == f"incident #{incident_id} resolved by alice"
    assert h.incident(incident_id)["status"] == "resolved"
    bad = slash_command(f"resolve {incident_id}")
    assert h.client.post(COMMANDS, content=bad, headers=slack_headers(bad, secret="x", timestamp=_now(h))
                         ).status_code == 401


# ----------------------------------------------------------------------------------------- PagerDuty

def _pd(h: Harness, body: bytes, *secrets: str) -> Any:
    return h.client.post(PAGERDUTY, content=body, headers=pagerduty_headers(body, *secrets))


def _occurred(h: Harness, minutes_ago: float = 0) -> str:
    from datetime import timedelta

    return (h.clock.now - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_pagerduty_acknowledged_and_resolved_move_the_incident(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    acked = _pd(h, pagerduty_event("incident.acknowledged", incident_id, event_id="E1", occurred_at=_occurred(h)))
    assert acked.status_code == 200 and acked.json()["changed"] is True
    incident = h.incident(incident_id)
    assert incident["acknowledged_by"] == "alice"  # pagerduty_user PALICE1
    assert [e["message"] for e in incident["timeline"] if e["kind"] == "acknowledged"] == [
        "acknowledged by alice: via PagerDuty"]
    resolved = _pd(h, pagerduty_event("incident.resolved", incident_id, event_id="E2", occurred_at=_occurred(h),
                                      agent="PUNKNOWN"))
    assert resolved.status_code == 200
    incident = h.incident(incident_id)
    assert incident["status"] == "resolved"
    assert [e["actor"] for e in incident["timeline"] if e["kind"] == "resolved"] == ["Alice Example (PagerDuty)"]
    other = _pd(h, pagerduty_event("incident.annotated", incident_id, event_id="E3", occurred_at=_occurred(h)))
    assert other.json()["changed"] is False and "not acted on" in other.json()["result"]


def test_pagerduty_signature_rotation_accepts_any_matching_v1(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    body = pagerduty_event("incident.acknowledged", incident_id, event_id="E9", occurred_at=_occurred(h))
    from tests.oncall.support import PAGERDUTY_SECRET

    assert _pd(h, body, "old-rotated-secret", PAGERDUTY_SECRET).status_code == 200
    assert h.incident(incident_id)["status"] == "acknowledged"


def test_bad_stale_and_replayed_pagerduty_webhooks_are_401_and_change_nothing(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)
    before = _state(h, incident_id)
    body = pagerduty_event("incident.resolved", incident_id, event_id="E5", occurred_at=_occurred(h))
    for name, headers in [
        ("wrong secret", pagerduty_headers(body, "not-the-secret")),
        ("no signature", {"Content-Type": "application/json"}),
        ("v0 only", {"X-PagerDuty-Signature": "v0=" + "0" * 64}),
        ("tampered", pagerduty_headers(body.replace(b"incident.resolved", b"incident.acknowledged"))),
    ]:
        content = body if name != "tampered" else body.replace(b"incident.resolved", b"incident.triggered")
        response = h.client.post(PAGERDUTY, content=content, headers=headers)
        assert response.status_code == 401, (name, response.text)
    stale = pagerduty_event("incident.resolved", incident_id, event_id="E6", occurred_at=_occurred(h, 31))
    response = _pd(h, stale)
    assert response.status_code == 401 and "stale" in response.json()["detail"]
    assert _state(h, incident_id) == before

    ack = pagerduty_event("incident.acknowledged", incident_id, event_id="E7", occurred_at=_occurred(h))
    assert _pd(h, ack).status_code == 200
    _reopen(h)
    reopened = _state(h, incident_id)
    replay = _pd(h, ack)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    assert _state(h, incident_id) == reopened


def test_pagerduty_events_of_other_incidents_and_bad_json(oncall: Harness) -> None:
    h = oncall
    body = pagerduty_event("incident.acknowledged", 1, event_id="E8", occurred_at=_occurred(h)).replace(
        b"fireline-1", b"d3640fbd41094207a1c11e58e46b1662")
    answer = _pd(h, body)
    assert answer.status_code == 200 and "not a fireline incident" in answer.json()["result"]
    garbage = b"{\"event\": 3}"
    assert _pd(h, garbage).status_code == 400
