"""Policy notifications and pages as outbox items, in each integration's own format.

`notify` posts to chat and webhooks (never pages); `page` pages through PagerDuty, and falls back
to the receiver's chat/webhook integrations when it has no PagerDuty.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fireline.notify.endpoints import integrations_of
from fireline.notify.outbox import enqueue
from fireline.policy.actions import ActionKind
from fireline.spec.config import Config


def slack_body(message: str, payload: dict[str, Any], service: str, slo: str) -> dict[str, Any]:
    fields = [f"*Service*\n{service}", f"*SLO*\n{slo}", f"*Tier*\n{payload.get('to_tier')}",
              f"*Budget left*\n{payload.get('budget_remaining')}"]
    return {"text": message[:3000], "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Error-budget policy"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]}


def pagerduty_body(message: str, payload: dict[str, Any], key: str, service: str, slo: str) -> dict[str, Any]:
    return {"event_action": "trigger", "dedup_key": key[:255], "client": "fireline", "payload": {
        "summary": message[:1024], "source": service, "severity": "critical", "component": slo,
        "class": "error-budget-policy", "timestamp": payload.get("at"),
        "custom_details": {k: payload.get(k) for k in ("tier", "phase", "previous_tier", "to_tier",
                                                          "budget_remaining")},
    }}


def webhook_body(kind: ActionKind, message: str, payload: dict[str, Any], key: str, service: str,
                 slo: str) -> dict[str, Any]:
    return {"version": "1", "source": "fireline", "kind": f"policy.{kind}", "key": key, "service": service,
            "slo": slo, "message": message, **{k: payload.get(k) for k in
                                               ("tier", "phase", "previous_tier", "to_tier", "budget_remaining", "at")}}


def outbox_notifier(config: Config) -> Any:
    """A fireline.policy.engine.Notifier writing to the serve outbox in the caller's transaction."""

    def notify(session: Session, *, key: str, receiver: str, kind: ActionKind, service: str, slo: str,
               payload: dict[str, Any], now: datetime) -> list[str]:
        integrations = integrations_of(config, receiver)
        if kind is ActionKind.PAGE and "pagerduty" in integrations:
            integrations = ["pagerduty"]
        else:
            integrations = [i for i in integrations if i != "pagerduty"]
        message = str(payload.get("message", ""))
        keys = []
        for integration in integrations:
            if integration == "slack":
                body = slack_body(message, payload, service, slo)
            elif integration == "pagerduty":
                body = pagerduty_body(message, payload, key, service, slo)
            else:
                body = webhook_body(kind, message, payload, key, service, slo)
            item_key = f"{key}:{integration}"
            if len(item_key) > 255:
                # The outbox key column holds 255 characters; a digest keeps long keys unique.
                item_key = item_key[:190] + ":" + hashlib.sha256(item_key.encode()).hexdigest()
            enqueue(session, key=item_key, incident_id=None, receiver=receiver, integration=integration,
                    event=f"policy.{kind}", payload=body, now=now)
            keys.append(item_key)
        return keys

    return notify
