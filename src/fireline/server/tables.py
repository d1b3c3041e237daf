"""Imports every table of `fireline serve` so Base.metadata is complete (Alembic env, tests)."""

from __future__ import annotations

from fireline.incidents.models import ActionItem, Incident, IncidentAlert, IntakeReceipt, TimelineEvent
from fireline.notify.outbox import OutboxItem

__all__ = ["ActionItem", "Incident", "IncidentAlert", "IntakeReceipt", "OutboxItem", "TimelineEvent"]
