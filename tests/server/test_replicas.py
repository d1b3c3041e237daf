"""Two replicas on one PostgreSQL: both take intake, exactly one runs the scheduler, the other takes over
within seconds when the leader is SIGKILLed, and pending escalations fire exactly once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fireline.notify.capture import CaptureServer
from tests.server.process import ServeProcess, wait_until
from tests.server.support import alert, fresh_postgres, needs_postgres, notification, write_config

pytestmark = [pytest.mark.slow, needs_postgres]

LEAD_AFTER = 5
TAKEOVER_BUDGET = 5.0


def _leaders(replicas: list[ServeProcess]) -> list[bool]:
    return [bool(r.health()["scheduler_leader"]) for r in replicas]


def test_two_replicas_one_leader_and_takeover(capture: CaptureServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, capture.url, escalation=[
        {"after": "0s", "notify": ["payments-pager", "payments-slack"]},
        {"after": f"{LEAD_AFTER}s", "notify": ["payments-lead"]},
    ])
    with fresh_postgres() as url:
        # Started together: the schema migration is serialised by an advisory lock.
        replicas = [ServeProcess(config, url, tmp_path / f"replica{i}.log").spawn() for i in range(2)]
        try:
            for replica in replicas:
                replica.wait_healthy()
            leaders = wait_until(lambda: (lambda ls: ls if sum(ls) == 1 else None)(_leaders(replicas)), 10,
                                 "exactly one scheduler leader")
            time.sleep(1)
            assert _leaders(replicas) == leaders, "leadership is stable"
            leader = replicas[leaders.index(True)]
            follower = replicas[leaders.index(False)]

            # Both take intake; the same notification sent 20 times to both at once opens one incident.
            body = notification(alert())
            with ThreadPoolExecutor(max_workers=20) as pool:
                codes = list(pool.map(lambda i: replicas[i % 2].post_alerts(body).status_code, range(20)))
            assert codes == [200] * 20
            other = follower.post_alerts(notification(alert(fingerprint="fp-other"), group_key="other-group"))
            assert other.status_code == 200
            incidents = leader.get("/api/v1/incidents")
            assert len(incidents) == 2
            wait_until(lambda: len(capture.requests("/v2/enqueue")) == 2, 10, "step-1 pages by the leader")

            leader.kill()
            killed = time.monotonic()
            wait_until(lambda: follower.health()["scheduler_leader"], TAKEOVER_BUDGET, "the follower to take over",
                       interval=0.05)
            takeover = time.monotonic() - killed
            print(f"scheduler takeover after {takeover:.2f}s")
            assert takeover < TAKEOVER_BUDGET

            # The lead's step (due LEAD_AFTER after opening) is fired by the new leader, once per incident.
            wait_until(lambda: len(capture.requests("/slack/lead")) == 2, LEAD_AFTER + 10, "the lead's step")
            time.sleep(1.5)
            assert len(capture.requests("/slack/lead")) == 2
            assert len(capture.requests("/v2/enqueue")) == 2
            assert len(capture.requests("/slack/payments")) == 2
            deliveries = [r.headers["x-fireline-delivery"] for r in capture.requests()]
            assert len(deliveries) == len(set(deliveries))
        finally:
            for replica in replicas:
                replica.stop()
