"""Outbox delivery on SQLite and PostgreSQL: retries with backoff, dead letters, secrets at delivery time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fireline.notify.capture import CaptureServer
from fireline.notify.outbox import backoff
from tests.server.harness import Harness
from tests.server.support import alert, notification


def _notifications(h: Harness, incident_id: int, integration: str) -> list[dict[str, object]]:
    return [n for n in h.incident(incident_id)["notifications"] if n["integration"] == integration]


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = timedelta(seconds=2), timedelta(seconds=30)
    assert [backoff(n, base, cap).total_seconds() for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_5xx_is_retried_with_backoff_then_delivered_once(harness: Harness) -> None:
    h = harness
    h.capture.respond("/v2/enqueue", [503, 500])
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.tick()
    [pd] = _notifications(h, incident_id, "pagerduty")
    assert pd["status"] == "pending" and pd["attempts"] == 1 and "HTTP 503" in str(pd["last_error"])
    h.tick()  # not due yet: the clock has not moved past the 100ms backoff
    assert len(h.capture.requests("/v2/enqueue")) == 1
    h.clock.advance(seconds=0.2)
    h.tick()
    h.clock.advance(seconds=0.5)
    h.tick()
    [pd] = _notifications(h, incident_id, "pagerduty")
    assert pd["status"] == "delivered" and pd["attempts"] == 3
    assert [r.status for r in h.capture.requests("/v2/enqueue")] == [503, 500, 200]
    # One logical notification, one delivery id on every attempt.
    assert len({r.headers["x-fireline-delivery"] for r in h.capture.requests("/v2/enqueue")}) == 1
    kinds = [e["kind"] for e in h.incident(incident_id)["timeline"]]
    assert kinds.count("notification_failed") == 2


def test_4xx_goes_to_the_dead_letters_at_once_and_can_be_retried(harness: Harness) -> None:
    h = harness
    h.capture.respond("/slack/payments", [400])
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.tick()
    [item] = _notifications(h, incident_id, "slack")
    assert item["status"] == "dead" and item["attempts"] == 1
    dead = h.get("/api/v1/outbox?status=dead")
    assert [d["id"] for d in dead] == [item["id"]]
    assert "notification_dead" in [e["kind"] for e in h.incident(incident_id)["timeline"]]
    retried = h.post(f"/api/v1/outbox/{item['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    h.tick()
    assert _notifications(h, incident_id, "slack")[0]["status"] == "delivered"
    assert h.post(f"/api/v1/outbox/{item['id']}/retry").status_code == 409


def test_dead_after_max_attempts(database_url: str, capture, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Harness.start(database_url, capture, tmp_path, server={"outbox": {"max_attempts": 3, "backoff": "100ms"}}
                       ) as h:
        h.capture.respond("/v2/enqueue", [503] * 10)
        incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
        for _ in range(5):
            h.tick()
            h.clock.advance(seconds=1)
        [pd] = _notifications(h, incident_id, "pagerduty")
        assert pd["status"] == "dead" and pd["attempts"] == 3
        assert len(h.capture.requests("/v2/enqueue")) == 3


def test_missing_secret_file_is_a_failure_that_names_the_file_not_its_content(harness: Harness,
                                                                               tmp_path: Path) -> None:
    h = harness
    (tmp_path / "secrets" / "pd.key").unlink()
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.tick()
    [pd] = _notifications(h, incident_id, "pagerduty")
    assert pd["status"] == "pending" and "cannot read pagerduty routing_key_file" in str(pd["last_error"])
    assert str(tmp_path / "secrets" / "pd.key") in str(pd["last_error"])


def test_unreachable_receiver_is_retried(harness: Harness) -> None:
    h = harness
    h.capture.stop()  # connection refused
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.tick()
    items = h.incident(incident_id)["notifications"]
    assert items and all(n["status"] == "pending" and "request failed" in str(n["last_error"]) for n in items)
    assert all("127.0.0.1" not in str(n["last_error"]) for n in items), "URLs (Slack's are secrets) never shown"


def test_one_receivers_notifications_keep_their_order(harness: Harness) -> None:
    h = harness
    h.capture.respond("/v2/enqueue", [503])
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.tick()  # the trigger fails and waits for its retry
    assert h.post(f"/api/v1/incidents/{incident_id}/ack").status_code == 200
    h.tick()  # the acknowledge is due, but the trigger before it is not delivered yet
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger"]
    h.clock.advance(seconds=1)
    h.tick()  # the retried trigger goes, and right after it (same tick, the worker keeps going) the acknowledge
    assert [r.json()["event_action"] for r in h.capture.requests("/v2/enqueue")] == ["trigger", "trigger",
                                                                                        "acknowledge"]
    # Slack (another stream) was not held back by PagerDuty's retries.
    assert len(h.capture.requests("/slack/payments")) == 2


def test_pages_go_first_and_slack_is_rate_limited_per_receiver(capture: CaptureServer, tmp_path: Path) -> None:
    # Five incidents at once with one Slack channel at one message a second: the five pages go in the first
    # round, Slack's messages follow one per second, each waiting without spending an attempt.
    with Harness.start(f"sqlite:///{tmp_path / 'f.db'}", capture, tmp_path,
                       server={"outbox": {"backoff": "100ms", "slack_interval": "1s"}}) as h:
        for i in range(5):
            assert h.post_alerts(notification(alert(fingerprint=f"f{i}"), group_key=f"g{i}")).status_code == 200
        h.tick()
        assert len(capture.requests("/v2/enqueue")) == 5
        assert len(capture.requests("/slack/payments")) == 1
        for second in range(1, 5):
            h.clock.advance(seconds=1)
            h.tick()
            assert len(capture.requests("/slack/payments")) == 1 + second
        pending = h.get("/api/v1/outbox?status=delivered")
        assert all(item["attempts"] == 1 for item in pending), "waiting for a slot is not an attempt"


def test_a_page_goes_before_slack_updates_enqueued_earlier(capture: CaptureServer, tmp_path: Path) -> None:
    # One delivery at a time (parallel 1): a status update's Slack message waits in the outbox, then a new
    # group's page arrives; the round sends the page first although the update was enqueued before it.
    with Harness.start(f"sqlite:///{tmp_path / 'f.db'}", capture, tmp_path,
                       server={"outbox": {"parallel": 1, "slack_interval": "0s"}}) as h:
        first = h.post_alerts(notification(alert(fingerprint="a"), group_key="g-a")).json()["incident_id"]
        h.tick()
        capture.clear()
        assert h.post(f"/api/v1/incidents/{first}/updates", {"what_happened": "rolled back"}).status_code == 201
        second = h.post_alerts(notification(alert(fingerprint="b"), group_key="g-b")).json()["incident_id"]
        h.tick()
        sent = [(r.path, r.json().get("dedup_key")) for r in capture.requests() if not r.path.startswith("/_")]
        assert sent[0] == ("/v2/enqueue", f"fireline-{second}"), sent
        assert [path for path, _ in sent].count("/slack/payments") == 2  # the update and the new group's message
