"""The policy engine's tables (Alembic branch `policy`, folder policy/migrations/versions).

State and transitions make actions exactly-once: an SLO's new state, its transition (unique per
SLO and sequence number) and the transition's planned actions (unique keys) commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fireline.server.db import Base, UTCDateTime


class PolicySLOState(Base):
    __tablename__ = "policy_slo_state"

    service: Mapped[str] = mapped_column(String(255), primary_key=True)
    slo: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remaining: Mapped[float | None] = mapped_column(Float)
    measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unknown_reason: Mapped[str | None] = mapped_column(Text)
    unknown_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    recovery_tier: Mapped[str | None] = mapped_column(String(64))
    recovery_cycles: Mapped[int] = mapped_column(Integer, default=0)
    transitions: Mapped[int] = mapped_column(Integer, default=0)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PolicyTransition(Base):
    __tablename__ = "policy_transition"
    __table_args__ = (UniqueConstraint("service", "slo", "seq", name="uq_policy_transition_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(255))
    slo: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int] = mapped_column(Integer)
    from_tier: Mapped[str | None] = mapped_column(String(64))
    to_tier: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    remaining: Mapped[float] = mapped_column(Float)


class PolicyAction(Base):
    __tablename__ = "policy_action"
    __table_args__ = (Index("ix_policy_action_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    transition_id: Mapped[int | None] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(255))
    slo: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PolicyAudit(Base):
    __tablename__ = "policy_audit"
    __table_args__ = (Index("ix_policy_audit_slo", "service", "slo", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(255))
    slo: Mapped[str | None] = mapped_column(String(255))
    tier: Mapped[str | None] = mapped_column(String(64))
    previous_tier: Mapped[str | None] = mapped_column(String(64))
    remaining: Mapped[float | None] = mapped_column(Float)
    known: Mapped[bool | None] = mapped_column(Boolean)
    actor: Mapped[str | None] = mapped_column(String(255))
    explanation: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)


class BudgetExclusion(Base):
    __tablename__ = "policy_exclusion"
    __table_args__ = (Index("ix_policy_exclusion_service", "service"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(255))
    slo: Mapped[str | None] = mapped_column(String(255))  # None: every SLO of the service
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(32))
    approved_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    silence_id: Mapped[str | None] = mapped_column(String(64))
