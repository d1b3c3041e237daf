"""fireline.yaml with people, schedules and integrations for the on-call tests, and request signing.

The signing helpers follow Slack's "Verifying requests from Slack" and PagerDuty's "Verifying
Signatures" (webhooks v3) directly; they are written here, apart from fireline.oncall.signing,
so a mistake there cannot hide in both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fireline.spec.config import Config
from tests.server.support import config_dict

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PAGERDUTY_SECRET = "pd-webhook-secret-0123456789abcdef"
PEOPLE = {
    "alice": {"slack_user": "U01ALICE", "email": "alice@example.com", "pagerduty_user": "PALICE1"},
    "bob": {"slack_user": "U02BOB", "email": "bob@example.com"},
    "carol": {"slack_user": "U03CAROL", "email": "carol@example.com"},
}
# Week of Mon 2026-11-23 09:00 Berlin (the test clock's 2026-11-29): bob; from Mon 2026-11-30: alice.
SCHEDULES = {
    "payments-primary": {"time_zone": "Europe/Berlin", "layers": [
        {"rotation": "weekly", "handoff": "Mon 09:00", "start": "2026-11-02", "people": ["alice", "bob"]}]},
    # Starts in 2030: nobody is on call in it today.
    "payments-future": {"time_zone": "UTC", "layers": [
        {"rotation": "daily", "handoff": "09:00", "start": "2030-01-01", "people": ["carol"]}]},
}


def oncall_dict(tmp_path: Path, capture_url: str, *, escalation: list[dict[str, Any]] | None = None,
                **kwargs: Any) -> dict[str, Any]:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "slack-signing").write_text(SLACK_SECRET + "\n")
    (secrets / "pd-webhook").write_text(PAGERDUTY_SECRET + "\n")
    chain = escalation if escalation is not None else [
        {"after": "0s", "schedule": "payments-primary", "notify": ["payments-pager", "payments-slack"]},
        {"after": "15m", "person": "carol"},
        {"after": "30m", "receiver": "eng-director"},
    ]
    data = config_dict(tmp_path, capture_url, escalation=chain, **kwargs)
    data["people"] = PEOPLE
    data["schedules"] = SCHEDULES
    data["integrations"] = {
        "slack": {"signing_secret_file": str(secrets / "slack-signing"), "response_url_hosts": ["127.0.0.1"]},
        "pagerduty": {"webhook_secret_file": str(secrets / "pd-webhook")},
    }
    return data


def oncall_config(tmp_path: Path, capture_url: str, **kwargs: Any) -> Config:
    return Config.model_validate(oncall_dict(tmp_path, capture_url, **kwargs))


# ------------------------------------------------------------------------------- signing, as documented

def slack_headers(body: bytes, *, secret: str = SLACK_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature: v0= + hex HMAC-SHA256 of "v0:{ts}:{body}"."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    basestring = f"v0:{ts}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), basestring, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    """X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body> per secret, comma-separated."""
    keys = secrets or (PAGERDUTY_SECRET,)
    value = ",".join("v1=" + hmac.new(k.encode(), body, hashlib.sha256).hexdigest() for k in keys)
    return {"X-PagerDuty-Signature": value, "Content-Type": "application/json",
            "X-Webhook-Id": hashlib.md5(body).hexdigest()}


def button_press(action_id: str, incident_id: int, *, user: str = "U01ALICE",
                 response_url: str = "http://127.0.0.1:9/actions/T1/1/x") -> bytes:
    """A block_actions interaction the way Slack posts it: form field `payload` with the JSON."""
    payload = {
        "type": "block_actions", "user": {"id": user, "username": "someone", "name": "someone", "team_id": "T0001"},
        "api_app_id": "A0001", "token": "legacy-verification-token-unused", "trigger_id": "1.2.3",
        "team": {"id": "T0001", "domain": "example"},
        "container": {"type": "message", "message_ts": "1764670000.000100", "channel_id": "C0PAY",
                      "is_ephemeral": False},
        "channel": {"id": "C0PAY", "name": "payments-incidents"},
        "message": {"type": "message", "ts": "1764670000.000100", "text": "SEV1 triggered"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": str(incident_id),
                     "text": {"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1764670001.000200"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slash_command(text: str, *, user: str = "U01ALICE", response_url: str = "http://127.0.0.1:9/commands/x"
                  ) -> bytes:
    return urlencode({"token": "unused", "team_id": "T0001", "team_domain": "example", "channel_id": "C0PAY",
                      "channel_name": "payments-incidents", "user_id": user, "user_name": "someone",
                      "command": "/fireline", "text": text, "api_app_id": "A0001", "response_url": response_url,
                      "trigger_id": "1.2.3"}).encode()


def pagerduty_event(event_type: str, incident_id: int, *, event_id: str = "01DEVT0000000000000000001",
                    occurred_at: str | None = None, agent: str = "PALICE1") -> bytes:
    occurred = occurred_at or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps({"event": {
        "id": event_id, "event_type": event_type, "resource_type": "incident", "occurred_at": occurred,
        "agent": {"html_url": f"https://acme.pagerduty.com/users/{agent}", "id": agent,
                  "self": f"https://api.pagerduty.com/users/{agent}", "summary": "Alice Example",
                  "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {"id": "Q1ABCDEF", "type": "incident", "self": "https://api.pagerduty.com/incidents/Q1ABCDEF",
                 "html_url": "https://acme.pagerduty.com/incidents/Q1ABCDEF", "number": 7,
                 "status": event_type.split(".")[1], "incident_key": f"fireline-{incident_id}",
                 "created_at": "2026-11-29T12:00:05Z", "title": "[SEV1] checkout availability"},
    }}).encode()
