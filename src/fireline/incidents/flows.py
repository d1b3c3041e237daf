"""The one path by which people change an incident: API, web UI, and later Slack and PagerDuty alike.

Every function here takes the incident's row lock first (SELECT ... FOR UPDATE on PostgreSQL; SQLite
serialises writers with BEGIN IMMEDIATE), then runs the transition of service.py in the caller's
transaction. So an acknowledgement from the UI, a resolve from the API and an Alertmanager
notification for the same group take turns instead of interleaving. Callers map
IncidentNotFound to 404 and service.TransitionError to 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.incidents import service
from fireline.incidents.models import ActionItem, Incident, TimelineEvent
from fireline.spec.config import Config

TransitionError = service.TransitionError


class IncidentNotFound(LookupError):
    """No incident with this id (answered with 404)."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} not found")
        self.incident_id = incident_id


def locked(session: Session, incident_id: int) -> Incident:
    """The incident, locked for the rest of the transaction, read fresh from the database."""
    # populate_existing: an instance already in the session is re-read under the lock, never trusted stale.
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update()
                              .execution_options(populate_existing=True))
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


def acknowledge(session: Session, config: Config, incident_id: int, *, actor: str, now: datetime,
                note: str | None = None) -> Incident:
    incident = locked(session, incident_id)
    service.acknowledge(session, config, incident, actor, now, note)
    return incident


def mitigate(session: Session, config: Config, incident_id: int, *, actor: str, now: datetime,
             note: str) -> Incident:
    incident = locked(session, incident_id)
    service.mitigate(session, config, incident, actor, note, now)
    return incident


def resolve(session: Session, config: Config, incident_id: int, *, actor: str, now: datetime,
            note: str | None = None, root_cause: str | None = None) -> Incident:
    incident = locked(session, incident_id)
    service.resolve(session, config, incident, actor, now, note, root_cause)
    return incident


def comment(session: Session, incident_id: int, *, actor: str, now: datetime, text: str) -> TimelineEvent:
    incident = locked(session, incident_id)
    return service.add_comment(session, incident, actor, text, now)


def post_update(session: Session, config: Config, incident_id: int, *, actor: str, now: datetime,
                update: service.StatusUpdate) -> TimelineEvent:
    incident = locked(session, incident_id)
    return service.post_update(session, config, incident, update, actor, now)


def add_action(session: Session, incident_id: int, *, actor: str, now: datetime, title: str,
               owner: str | None = None, due: str | None = None) -> ActionItem:
    incident = locked(session, incident_id)
    return service.add_action(session, incident, actor, title, owner, due, now)
