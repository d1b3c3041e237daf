"""Escalation steps that name a schedule or a person: resolved when the step fires, on the timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fireline.notify.capture import CaptureServer
from fireline.oncall.api import extension
from tests.notify.schemas import assert_pagerduty, assert_slack
from tests.oncall.support import oncall_config
from tests.server.harness import Harness
from tests.server.support import alert, notification


def _open(h: Harness) -> int:
    response = h.post_alerts(notification(alert()))
    assert response.status_code == 200, response.text
    return int(response.json()["incident_id"])


def _escalations(incident: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["actor"], e["message"]) for e in incident["timeline"] if e["kind"] == "escalated"]


def test_first_step_pages_who_is_on_call_and_later_steps_name_a_person_and_a_receiver(oncall: Harness) -> None:
    h = oncall
    incident_id = _open(h)  # Sunday 2026-11-29: bob's week
    h.tick()
    [page] = h.capture.requests("/slack/payments")
    body = page.json()
    assert_slack(body)
    text = str(body["blocks"])
    assert "Paging <@U02BOB> (bob), on call in payments-primary" in text
    [trigger] = h.capture.requests("/v2/enqueue")
    assert_pagerduty(trigger.json())
    assert trigger.json()["payload"]["custom_details"]["on_call"] == "bob (payments-primary)"
    actions = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [a.get("action_id") for a in actions] == ["runbook", "incident", "fireline_acknowledge", "fireline_on_it",
                                                     "fireline_resolve"]
    assert all(a["value"] == str(incident_id) for a in actions[2:])

    h.clock.advance(minutes=15)
    h.tick()
    # The person step without notify tells the team's page receivers, mentioning carol.
    later = h.capture.requests("/slack/payments")
    assert len(later) == 2 and "<@U03CAROL> (carol)" in str(later[1].json()["blocks"])
    h.clock.advance(minutes=15)
    h.tick()
    assert len(h.capture.requests("/hook/director")) == 1

    assert _escalations(h.incident(incident_id)) == [
        ("fireline", "escalation step 1: paged bob via payments-primary, notified payments-pager, payments-slack"),
        ("fireline", "escalation step 2: not acknowledged after 15m, paged carol, notified payments-pager, "
                     "payments-slack"),
        ("fireline", "escalation step 3: not acknowledged after 30m, notified eng-director"),
    ]


def test_an_override_created_after_opening_decides_who_the_step_pages(oncall: Harness) -> None:
    """The chain is the snapshot of opening; the person is resolved when the step fires."""
    h = oncall
    incident_id = _open(h)
    created = h.post("/api/v1/schedules/payments-primary/overrides",
                     {"person": "alice", "from": "2026-11-29T12:10:00Z", "to": "2026-11-29T13:00:00Z",
                      "reason": "bob is on a plane"})
    assert created.status_code == 201, created.text
    h.tick()
    assert _escalations(h.incident(incident_id))[0][1].startswith("escalation step 1: paged bob")
    # A second incident opened under the override pages alice.
    h.clock.advance(minutes=20)
    second = h.post_alerts(notification(alert(fingerprint="fp2"), group_key='{}:{alertname="Other"}'))
    h.tick()
    timeline = h.incident(int(second.json()["incident_id"]))
    assert _escalations(timeline)[0][1].startswith("escalation step 1: paged alice via payments-primary")


def test_a_schedule_with_nobody_on_call_falls_through_to_the_next_step_at_once(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    config = oncall_config(tmp_path, capture.url, escalation=[
        {"after": "0s", "schedule": "payments-future", "notify": ["payments-pager"]},
        {"after": "10m", "schedule": "payments-primary", "notify": ["payments-slack"]},
    ])
    with Harness.start(database_url, capture, tmp_path, config=config, extensions=[extension()]) as h:
        incident_id = _open(h)
        h.tick()
        assert capture.requests("/v2/enqueue") == []  # step 1 paged nobody
        [slack] = capture.requests("/slack/payments")
        assert "<@U02BOB>" in str(slack.json()["blocks"])
        incident = h.incident(incident_id)
        assert _escalations(incident) == [
            ("fireline", "escalation step 1: nobody on call in payments-future, falling through to step 2"),
            ("fireline", "escalation step 2: not acknowledged after 10m, paged bob via payments-primary, "
                         "notified payments-slack"),
        ]
        assert incident["escalation_next_at"] is None


def test_a_last_step_with_nobody_on_call_still_notifies_its_receivers(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    config = oncall_config(tmp_path, capture.url, escalation=[
        {"after": "0s", "schedule": "payments-future", "notify": ["payments-slack"]}])
    with Harness.start(database_url, capture, tmp_path, config=config, extensions=[extension()]) as h:
        incident_id = _open(h)
        h.tick()
        assert len(capture.requests("/slack/payments")) == 1
        assert _escalations(h.incident(incident_id)) == [
            ("fireline", "escalation step 1: nobody on call in payments-future and no later step, "
                         "notified payments-slack")]


def test_the_snapshot_keeps_the_schedule_of_opening_even_if_the_config_changes(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    h_config = oncall_config(tmp_path, capture.url)
    with Harness.start(database_url, capture, tmp_path, config=h_config, extensions=[extension()]) as h:
        incident_id = _open(h)
        snapshot = h.incident(incident_id)["escalation"]
    assert snapshot == [
        {"after_seconds": 0.0, "notify": ["payments-pager", "payments-slack"], "schedule": "payments-primary"},
        {"after_seconds": 900.0, "notify": ["payments-pager", "payments-slack"], "person": "carol"},
        {"after_seconds": 1800.0, "notify": ["eng-director"]},
    ]
