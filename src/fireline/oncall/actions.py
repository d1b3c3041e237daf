"""Acting on an incident from Slack or PagerDuty, through incidents.flows like the API and the UI.

This is the one place the integrations change an incident, so they follow exactly the rules (and
send exactly the notifications) of the API and the UI, under the same row lock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fireline.incidents import flows
from fireline.incidents.models import Incident, Status
from fireline.oncall import service as oncall
from fireline.spec.config import Config


class Action(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    # "I'm on it": acknowledge if nobody has, and take the commander role.
    ON_IT = "on_it"


@dataclass(frozen=True)
class Outcome:
    changed: bool
    text: str


def load(session: Session, incident_id: int) -> Incident | None:
    """The incident, locked for the transaction (intake and escalation wait for it)."""
    try:
        return flows.locked(session, incident_id)
    except flows.IncidentNotFound:
        return None


def act(session: Session, config: Config, incident: Incident, action: Action, actor: str, via: str,
        now: datetime, person: str | None = None) -> Outcome:
    """Run the action; an action the status does not allow changes nothing and says why."""
    status = Status(incident.status)
    note = f"via {via}"
    if action is Action.RESOLVE:
        if status is Status.RESOLVED:
            return Outcome(False, f"incident #{incident.id} is already resolved")
        flows.resolve(session, config, incident.id, actor=actor, now=now, note=note)
        return Outcome(True, f"incident #{incident.id} resolved by {actor}")
    changed = False
    parts: list[str] = []
    if status is Status.TRIGGERED:
        flows.acknowledge(session, config, incident.id, actor=actor, now=now, note=note)
        changed = True
        parts.append(f"incident #{incident.id} acknowledged by {actor}")
    elif action is Action.ACKNOWLEDGE:
        by = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        return Outcome(False, f"incident #{incident.id} is {incident.status}{by}: nothing to acknowledge")
    if (action is Action.ON_IT and person is not None
            and oncall.assign_role(session, config, incident, "commander", person, actor, now)):
        changed = True
        parts.append(f"{person} is commander")
    if not parts:
        return Outcome(False, f"incident #{incident.id} is {incident.status} and {person} is already commander")
    return Outcome(changed, "; ".join(parts))
