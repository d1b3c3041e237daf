"""SIGKILL with escalations and outbox items pending: after the restart every notification is delivered
exactly once (nothing lost, nothing repeated), and escalation keeps its original schedule."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from fireline.notify.capture import CaptureServer
from tests.server.process import ServeProcess, wait_until
from tests.server.support import alert, notification, write_config

pytestmark = pytest.mark.slow

LEAD_AFTER = 4
DIRECTOR_AFTER = 7
INCIDENTS = 3


def _delivered(capture: CaptureServer, path: str) -> list[str]:
    return [r.headers["x-fireline-delivery"] for r in capture.requests(path) if r.status < 300]


def test_sigkill_with_pending_work_then_restart_delivers_everything_once(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, capture.url, escalation=[
        {"after": "0s", "notify": ["payments-pager", "payments-slack"]},
        {"after": f"{LEAD_AFTER}s", "notify": ["payments-lead"]},
        {"after": f"{DIRECTOR_AFTER}s", "notify": ["eng-director"]},
    ], server={"outbox": {"backoff": "200ms", "max_backoff": "1s", "max_attempts": 100}})
    capture.respond("/v2/enqueue", [503] * 10_000)  # PagerDuty is down: its triggers stay in the outbox
    server = ServeProcess(config, database_url, tmp_path / "serve.log").start()
    try:
        started = time.time()
        for i in range(INCIDENTS):
            response = server.post_alerts(notification(alert(fingerprint=f"fp{i}"), group_key=f"group-{i}"))
            assert response.status_code == 200 and response.json()["opened"]
        wait_until(lambda: len(_delivered(capture, "/slack/payments")) == INCIDENTS, 10, "Slack step-1 messages")
        wait_until(lambda: len(capture.requests("/v2/enqueue")) >= 2 * INCIDENTS, 10, "failing PagerDuty attempts")
        outbox = server.get("/api/v1/outbox?status=pending")
        assert {item["integration"] for item in outbox} == {"pagerduty"} and len(outbox) == INCIDENTS
        assert capture.requests("/slack/lead") == []
        server.kill()
        killed = time.time()
        assert killed - started < LEAD_AFTER, "killed before the lead's step was due"
    finally:
        server.stop()

    time.sleep(1)  # while it is down, steps become due and PagerDuty comes back
    capture.respond("/v2/enqueue", [])
    restarted = ServeProcess(config, database_url, tmp_path / "serve2.log").start()
    try:
        wait_until(lambda: len(_delivered(capture, "/hook/director")) >= INCIDENTS, DIRECTOR_AFTER + 15,
                   "the director's step after the restart")
        wait_until(lambda: len(_delivered(capture, "/v2/enqueue")) >= INCIDENTS, 10, "PagerDuty triggers")
        wait_until(lambda: server_idle(restarted), 10, "the outbox to drain")
        time.sleep(1.5)  # anything sent twice would arrive now
        incidents = restarted.get("/api/v1/incidents")
    finally:
        restarted.stop()

    assert len(incidents) == INCIDENTS
    for path in ("/slack/payments", "/v2/enqueue", "/slack/lead", "/hook/director"):
        delivered = _delivered(capture, path)
        assert len(delivered) == INCIDENTS, (path, delivered)
        assert len(set(delivered)) == INCIDENTS, f"{path}: a notification was delivered twice"
    dedup = Counter(r.json()["dedup_key"] for r in capture.requests("/v2/enqueue") if r.status < 300)
    assert set(dedup.values()) == {1}
    # The restart resumed the snapshot's schedule: the director heard DIRECTOR_AFTER after opening, not after
    # the restart, and never earlier.
    director_times = [r.received_at for r in capture.requests("/hook/director")]
    assert all(t >= started + DIRECTOR_AFTER - 0.5 for t in director_times)
    assert all(t < killed + 1 + DIRECTOR_AFTER for t in director_times)


def server_idle(server: ServeProcess) -> bool:
    return server.get("/api/v1/outbox?status=pending") == []
