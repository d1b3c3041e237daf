"""End to end with a real Alertmanager 0.25: alert → Alertmanager → webhook → incident → escalation
→ Slack/PagerDuty (at the capture server) → acknowledged via the CLI → resolved."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fireline.notify.capture import CaptureServer
from tests.notify.schemas import assert_pagerduty, assert_slack
from tests.server.process import ALERTMANAGER, AlertmanagerProcess, serving, wait_until
from tests.server.support import ROUTING_KEY, write_config

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(ALERTMANAGER), reason="prometheus-alertmanager not installed")]

LEAD_AFTER = 2.0
DIRECTOR_AFTER = 10.0


def _am_alert(ends: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "CheckoutAvailabilityErrorBudgetBurn", "service": "checkout", "slo": "availability",
                   "team": "payments", "severity": "critical", "fireline_severity": "page",
                   "long_window": "1h", "short_window": "5m"},
        "annotations": {"summary": "checkout availability: error budget burning 15.2x faster than allowed",
                        "description": "Burn rate over 1h: 15.20 (threshold 14.4). Error budget left over 30d: 81%.",
                        "runbook_url": "https://runbooks.example.com/checkout/availability-page.md"},
        "generatorURL": "http://prometheus.example:9090/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat().replace("+00:00", "Z")
    return alert


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FIRELINE_TOKEN"}
    return subprocess.run([sys.executable, "-c", "from fireline.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_alertmanager_to_incident_escalation_ack_and_resolve(database_url: str, capture: CaptureServer,
                                                             tmp_path: Path) -> None:
    config = write_config(tmp_path, capture.url, escalation=[
        {"after": "0s", "notify": ["payments-pager", "payments-slack"]},
        {"after": f"{int(LEAD_AFTER)}s", "notify": ["payments-lead"]},
        {"after": f"{int(DIRECTOR_AFTER)}s", "notify": ["eng-director"]},
    ])
    with serving(config, database_url, tmp_path / "serve.log") as server:
        alertmanager = AlertmanagerProcess(tmp_path, server.url).start()
        try:
            alertmanager.post([_am_alert()])
            [incident] = wait_until(lambda: server.get("/api/v1/incidents"), 20, "the incident to open")
            assert incident["severity"] == "SEV1" and incident["status"] == "triggered"
            assert incident["group_key"].startswith("{}:{") and "alertname=" in incident["group_key"]
            incident_id = incident["id"]

            [trigger] = wait_until(lambda: capture.requests("/v2/enqueue"), 10, "the PagerDuty trigger")
            [page_slack] = wait_until(lambda: capture.requests("/slack/payments"), 10, "the team's Slack message")
            [lead] = wait_until(lambda: capture.requests("/slack/lead"), LEAD_AFTER + 10, "escalation to the lead")
            assert "escalated (step 2" in lead.json()["text"]
            opened_at = datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00")).timestamp()
            assert lead.received_at >= opened_at + LEAD_AFTER - 0.05, "the lead hears only after the step's delay"

            acked = _cli("incidents", "ack", str(incident_id), "--server", server.url, "--config", str(config),
                         "--note", "investigating")
            assert acked.returncode == 0, acked.stderr
            assert "acknowledged" in acked.stdout
            acked_at = server.get(f"/api/v1/incidents/{incident_id}")["acknowledged_at"]
            assert datetime.fromisoformat(acked_at.replace("Z", "+00:00")).timestamp() < opened_at + DIRECTOR_AFTER, (
                "the machine was too slow to acknowledge before the director's step")
            wait_until(lambda: len(capture.requests("/v2/enqueue")) == 2, 10, "the PagerDuty acknowledge")
            # Past the director's step: acknowledged incidents stop escalating.
            time.sleep(max(0.0, opened_at + DIRECTOR_AFTER + 1.5 - time.time()))
            assert capture.requests("/hook/director") == []

            updated = _cli("incidents", "update", str(incident_id), "--server", server.url, "--config", str(config),
                           "--what-happened", "checkout 5xx after the 14:02 deploy", "--mitigation", "rolling back",
                           "--next-steps", "watch the burn rate")
            assert updated.returncode == 0, updated.stderr
            wait_until(lambda: len(capture.requests("/slack/payments")) == 3, 10, "the status update in Slack")
            alertmanager.post([_am_alert(ends=datetime.now(UTC))])
            wait_until(lambda: server.get(f"/api/v1/incidents/{incident_id}")["status"] == "mitigated", 20,
                       "Alertmanager's resolved notification to mitigate the incident")

            shown = _cli("incidents", "show", str(incident_id), "--server", server.url, "--config", str(config))
            assert shown.returncode == 0 and "all alerts resolved" in shown.stdout
            resolved = _cli("incidents", "resolve", str(incident_id), "--server", server.url, "--config",
                            str(config), "--note", "budget burn back to normal", "--root-cause", "bad deploy")
            assert resolved.returncode == 0, resolved.stderr
            wait_until(lambda: len(capture.requests("/v2/enqueue")) == 3, 10, "the PagerDuty resolve")
            drafted = _cli("incidents", "postmortem", str(incident_id), "--server", server.url, "--config",
                           str(config))
            assert drafted.returncode == 0 and drafted.stdout.startswith("# Postmortem: checkout availability")
            assert "bad deploy" in drafted.stdout and "status_update" in drafted.stdout
            listed = _cli("incidents", "list", "--server", server.url, "--config", str(config), "--status",
                          "resolved")
            assert listed.returncode == 0 and "checkout" in listed.stdout
        finally:
            alertmanager.stop()

        detail = server.get(f"/api/v1/incidents/{incident_id}")
    kinds = [event["kind"] for event in detail["timeline"]]
    for kind in ("opened", "alert_fired", "escalated", "notification_sent", "acknowledged", "alert_resolved",
                 "mitigated", "resolved"):
        assert kind in kinds, kinds

    pagerduty = capture.requests("/v2/enqueue")
    assert [r.json()["event_action"] for r in pagerduty] == ["trigger", "acknowledge", "resolve"]
    for request in pagerduty:
        assert_pagerduty(request.json())
        assert request.json()["routing_key"] == ROUTING_KEY
        assert request.json()["dedup_key"] == f"fireline-{incident_id}"
        assert request.headers["content-type"] == "application/json"
    assert trigger.json()["payload"]["summary"].startswith("[SEV1] checkout availability")
    slack = capture.requests("/slack/payments") + capture.requests("/slack/lead")
    for request in slack:
        assert_slack(request.json())
    assert page_slack.json()["channel"] == "#payments-incidents"
    headlines = [r.json()["text"].split(":")[0] for r in capture.requests("/slack/payments")]
    assert headlines == ["SEV1 triggered", "SEV1 acknowledged", "SEV1 status update", "SEV1 mitigated",
                         "SEV1 resolved"]
    # Every notification exactly once.
    deliveries = [r.headers["x-fireline-delivery"] for r in capture.requests()]
    assert len(deliveries) == len(set(deliveries))
