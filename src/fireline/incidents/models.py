"""Incidents, their alerts and timeline, as stored; the status machine lives in service.py."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fireline.server.db import Base, UTCDateTime


class Status(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


class Kind(enum.StrEnum):
    INCIDENT = "incident"
    TICKET = "ticket"


class EventKind(enum.StrEnum):
    OPENED = "opened"
    REOPENED = "reopened"
    ALERT_FIRED = "alert_fired"
    ALERT_RESOLVED = "alert_resolved"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_DEAD = "notification_dead"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    STATUS_UPDATE = "status_update"
    COMMENT = "comment"
    ACTION_ITEM = "action_item"
    INTAKE_NOTE = "intake_note"  # what intake cut or left out to store an alert
    ROLE_ASSIGNED = "role_assigned"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_kind", "status", "kind"),
        Index("ix_incidents_group_key", "group_key"),
        Index("ix_incidents_escalation_due", "escalation_next_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(1024))
    # Equal to group_key while the incident is not resolved, NULL after: the unique constraint keeps
    # one open incident per group even when two replicas take the same group at the same moment.
    open_group_key: Mapped[str | None] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(255))
    slo: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    external_url: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Escalation chain snapshotted when the incident opens: [{"after_seconds": .., "notify": [..]}].
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    escalation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_next_step: Mapped[int] = mapped_column(Integer, default=0)
    # When the next step is due; NULL when nothing is left to escalate (or acknowledged).
    escalation_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Incremented on every reopen so notifications of a new episode get new outbox keys.
    episode: Mapped[int] = mapped_column(Integer, default=1)
    root_cause: Mapped[str | None] = mapped_column(Text)

    alerts: Mapped[list[IncidentAlert]] = relationship(back_populates="incident", order_by="IncidentAlert.id")
    timeline: Mapped[list[TimelineEvent]] = relationship(back_populates="incident", order_by="TimelineEvent.id")
    actions: Mapped[list[ActionItem]] = relationship(back_populates="incident", order_by="ActionItem.id")


class IncidentAlert(Base):
    __tablename__ = "incident_alerts"
    __table_args__ = (UniqueConstraint("incident_id", "fingerprint", name="uq_incident_alerts_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="alerts")


class TimelineEvent(Base):
    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    due: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(255))

    incident: Mapped[Incident] = relationship(back_populates="actions")


class IntakeReceipt(Base):
    """One row per distinct Alertmanager notification: a redelivery finds its digest and changes nothing."""

    __tablename__ = "intake_receipts"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    group_key: Mapped[str] = mapped_column(String(1024))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    alerts: Mapped[int] = mapped_column(Integer)
