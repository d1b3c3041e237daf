"""End to end with a real Alertmanager 0.25 and `fireline serve` as a process: an alert pages the person
on call from a schedule (the Slack message and the PagerDuty trigger at the capture server), a signed
Slack button press acknowledges it, PagerDuty receives `acknowledge` with the same dedup_key, a signed
PagerDuty webhook resolves it, and the timeline shows each step with its actor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.notify.capture import CaptureServer
from tests.notify.schemas import assert_pagerduty, assert_slack
from tests.oncall.support import button_press, oncall_dict, pagerduty_event, pagerduty_headers, slack_headers
from tests.server.process import ALERTMANAGER, AlertmanagerProcess, serving, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(ALERTMANAGER), reason="prometheus-alertmanager not installed")]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FIRELINE_TOKEN"}
    return subprocess.run([sys.executable, "-c", "from fireline.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def _alert() -> dict[str, Any]:
    return {
        "labels": {"alertname": "CheckoutAvailabilityErrorBudgetBurn", "service": "checkout", "slo": "availability",
                   "team": "payments", "severity": "critical", "fireline_severity": "page"},
        "annotations": {"summary": "checkout availability: error budget burning 15.2x faster than allowed",
                        "runbook_url": "https://runbooks.example.com/checkout/availability-page.md"},
    }


def test_alert_pages_the_person_on_call_slack_acknowledges_pagerduty_follows(
        database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    data = oncall_dict(tmp_path, capture.url, escalation=[
        {"after": "0s", "schedule": "payments-primary", "notify": ["payments-pager", "payments-slack"]},
        {"after": "15m", "receiver": "eng-director"},
    ])
    config = tmp_path / "fireline.yaml"
    config.write_text(json.dumps(data, indent=2))
    with serving(config, database_url, tmp_path / "serve.log") as server:
        # Whoever the rotation has this week, carol covers the next hour (made through the CLI).
        now = datetime.now(UTC)
        added = _cli("overrides", "add", "payments-primary", "carol", "--from",
                     (now - timedelta(minutes=1)).isoformat(), "--to", (now + timedelta(hours=1)).isoformat(),
                     "--reason", "swap", "--server", server.url, "--config", str(config))
        assert added.returncode == 0, added.stderr
        shown = _cli("oncall", "payments-primary", "--server", server.url, "--config", str(config))
        assert shown.returncode == 0 and "carol" in shown.stdout and "override" in shown.stdout, shown.stdout

        alertmanager = AlertmanagerProcess(tmp_path, server.url).start()
        try:
            alertmanager.post([_alert()])
            [incident] = wait_until(lambda: server.get("/api/v1/incidents"), 20, "the incident to open")
        finally:
            alertmanager.stop()
        incident_id = incident["id"]

        [page] = wait_until(lambda: capture.requests("/slack/payments"), 10, "the page in Slack")
        message = page.json()
        assert_slack(message)
        assert "Paging <@U03CAROL> (carol), on call in payments-primary" in json.dumps(message["blocks"])
        [trigger] = wait_until(lambda: capture.requests("/v2/enqueue"), 10, "the PagerDuty trigger")
        assert_pagerduty(trigger.json())
        assert trigger.json()["event_action"] == "trigger"
        assert trigger.json()["payload"]["custom_details"]["on_call"] == "carol (payments-primary)"
        dedup_key = trigger.json()["dedup_key"]

        # carol presses Acknowledge on that message: Slack posts the interaction, signed.
        [ack_button] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                        if e.get("action_id") == "fireline_acknowledge"]
        body = button_press(ack_button["action_id"], int(ack_button["value"]), user="U03CAROL",
                            response_url=f"{capture.url}/slack/actions/response")
        pressed = httpx.post(f"{server.url}/api/v1/integrations/slack/interactions", content=body,
                             headers=slack_headers(body), timeout=10)
        assert pressed.status_code == 200, pressed.text
        [update] = wait_until(lambda: capture.requests("/slack/actions/response"), 10, "the message update")
        assert update.json()["replace_original"] is True and update.json()["text"].startswith("SEV1 acknowledged")

        pagerduty = wait_until(lambda: [r for r in capture.requests("/v2/enqueue")
                                        if r.json()["event_action"] == "acknowledge"], 10, "PagerDuty acknowledge")
        assert pagerduty[0].json()["dedup_key"] == dedup_key == f"fireline-{incident_id}"

        # Someone resolves it in PagerDuty: the v3 webhook, signed, resolves the fireline incident.
        event = pagerduty_event("incident.resolved", incident_id, event_id="01E2E0000000000000000001",
                                agent="PALICE1")
        resolved = httpx.post(f"{server.url}/api/v1/integrations/pagerduty/webhooks", content=event,
                              headers=pagerduty_headers(event), timeout=10)
        assert resolved.status_code == 200 and resolved.json()["changed"] is True, resolved.text
        wait_until(lambda: [r for r in capture.requests("/v2/enqueue") if r.json()["event_action"] == "resolve"],
                   10, "PagerDuty resolve")
        wait_until(lambda: any(e["kind"] == "notification_sent" and "resolved" in e["message"]
                               for e in server.get(f"/api/v1/incidents/{incident_id}")["timeline"]),
                   10, "the resolve delivery on the timeline")
        detail = server.get(f"/api/v1/incidents/{incident_id}")

    steps = [(e["kind"], e["actor"], e["message"]) for e in detail["timeline"]]
    assert steps[0][:2] == ("opened", "alertmanager")
    assert ("alert_fired", "alertmanager") in [s[:2] for s in steps]
    assert ("escalated", "fireline", "escalation step 1: paged carol via payments-primary, notified payments-pager, "
            "payments-slack") in steps
    assert ("acknowledged", "carol", "acknowledged by carol: via Slack") in steps
    assert ("resolved", "alice", "resolved: via PagerDuty") in steps
    sent = [s for s in steps if s[0] == "notification_sent"]
    assert all(s[1] == "fireline" for s in sent) and len(sent) >= 4
    assert [r.json()["event_action"] for r in capture.requests("/v2/enqueue")] == ["trigger", "acknowledge",
                                                                                   "resolve"]
    assert {r.json()["dedup_key"] for r in capture.requests("/v2/enqueue")} == {dedup_key}
    assert capture.requests("/hook/director") == []  # acknowledged before the next step
