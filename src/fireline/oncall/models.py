"""Tables of the on-call extension: overrides, incident roles, and receipts of signed integration requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.server.db import Base, UTCDateTime


class ScheduleOverride(Base):
    """`person` takes `schedule` from starts_at to ends_at (a swap, a sick day, holiday cover)."""

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_schedule", "schedule", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(255))
    person: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentRole(Base):
    """Who holds a role (commander, communications, scribe) in an incident; one holder per role."""

    __tablename__ = "incident_roles"

    # No foreign key: the on-call migrations are their own branch (incidents are never deleted).
    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    person: Mapped[str] = mapped_column(String(255))
    assigned_by: Mapped[str] = mapped_column(String(255))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IntegrationReceipt(Base):
    """A signed request already acted on (Slack signature, PagerDuty event id): a replay finds it and is refused."""

    __tablename__ = "integration_receipts"
    __table_args__ = (Index("ix_integration_receipts_received_at", "received_at"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
