"""PagerDuty webhooks v3 into fireline: `incident.acknowledged` and `incident.resolved` move the incident.

The PagerDuty incident is fireline's when its `incident_key` is the dedup_key fireline sends on
Events API v2 (`fireline-<id>`). The agent (the PagerDuty user who acted) becomes the actor: the
person whose `pagerduty_user` matches, else the agent's name as PagerDuty gives it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fireline.oncall.actions import Action, act, load
from fireline.oncall.settings import person_for_pagerduty_user
from fireline.spec.config import Config

HANDLED = {"incident.acknowledged": Action.ACKNOWLEDGE, "incident.resolved": Action.RESOLVE}
_DEDUP_RE = re.compile(r"^fireline-(\d{1,10})$")
# PagerDuty's clock and ours may differ a little; an event from further in the future is refused.
FUTURE_SKEW = timedelta(minutes=5)


class PayloadError(ValueError):
    """Not a webhook v3 event fireline can read (answered 400)."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    event_type: str
    occurred_at: datetime
    incident_key: str | None
    agent_id: str | None
    agent_name: str | None


def parse(body: bytes) -> WebhookEvent:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PayloadError("the body is not JSON") from None
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict):
        raise PayloadError("expected a webhook v3 payload: {\"event\": {...}}")
    for name in ("id", "event_type", "occurred_at"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise PayloadError(f"event.{name} is missing")
    try:
        occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"event.occurred_at {event['occurred_at'][:40]!r} is not an ISO 8601 time") from None
    if occurred.tzinfo is None:
        raise PayloadError("event.occurred_at has no time zone")
    payload: Any = event.get("data")
    key = payload.get("incident_key") if isinstance(payload, dict) else None
    agent: dict[str, Any] = event["agent"] if isinstance(event.get("agent"), dict) else {}
    return WebhookEvent(event["id"][:255], event["event_type"][:64], occurred,
                        key if isinstance(key, str) else None,
                        agent.get("id") if isinstance(agent.get("id"), str) else None,
                        agent.get("summary") if isinstance(agent.get("summary"), str) else None)


def check_age(event: WebhookEvent, now: datetime, max_age: timedelta) -> str | None:
    """Why the event is too old or too new to act on (PagerDuty signs no timestamp), or None."""
    if event.occurred_at < now - max_age:
        return f"event occurred at {event.occurred_at.isoformat()}, more than {max_age} ago (stale or replayed)"
    if event.occurred_at > now + FUTURE_SKEW:
        return f"event occurred at {event.occurred_at.isoformat()}, in the future"
    return None


def actor_of(config: Config, event: WebhookEvent) -> str:
    if event.agent_id is not None:
        person = person_for_pagerduty_user(config.people, event.agent_id)
        if person is not None:
            return person
    name = (event.agent_name or event.agent_id or "someone").strip()[:200]
    return f"{name} (PagerDuty)"


def handle(session: Session, config: Config, event: WebhookEvent, now: datetime) -> tuple[bool, str]:
    """Apply the event; (changed, what happened)."""
    action = HANDLED.get(event.event_type)
    if action is None:
        return False, f"{event.event_type} is not acted on (fireline acts on {', '.join(sorted(HANDLED))})"
    match = _DEDUP_RE.match(event.incident_key or "")
    if match is None:
        return False, "not a fireline incident (incident_key is not fireline-<id>)"
    incident = load(session, int(match.group(1)))
    if incident is None:
        return False, f"fireline incident {match.group(1)} does not exist"
    outcome = act(session, config, incident, action, actor_of(config, event), "PagerDuty", now)
    return outcome.changed, outcome.text
