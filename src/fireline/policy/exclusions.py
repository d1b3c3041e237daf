"""Budget exclusions (partial resets): an interval whose errors and events no longer count.

Granted for platform-wide outages, measurement bugs and pre-approved maintenance windows; each
one, and each revocation, leaves an audit record naming who approved it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.policy.tables import BudgetExclusion, PolicyAudit

# Longer than any SLO window (90d): an exclusion that long is a policy change, not a partial reset.
MAX_EXCLUSION = timedelta(days=92)


class ExclusionReason(StrEnum):
    PLATFORM_OUTAGE = "platform-outage"
    MEASUREMENT_BUG = "measurement-bug"
    MAINTENANCE = "maintenance"


class ExclusionRequest(BaseModel):
    """Body of POST /api/v1/budget/exclusions."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "service": "checkout", "slo": "availability", "start": "2026-11-28T02:00:00Z",
        "end": "2026-11-28T03:30:00Z", "reason": "platform-outage", "approved_by": "jane.doe",
        "note": "eu-west-1 load balancer outage, INC-4711"}]})

    service: str = Field(min_length=1, max_length=255)
    slo: str | None = Field(default=None, max_length=255, description="leave out for every SLO of the service")
    start: datetime
    end: datetime
    reason: ExclusionReason
    approved_by: str = Field(min_length=1, max_length=255)
    note: str = Field(default="", max_length=4000)
    silence: bool = Field(default=False, description="maintenance only: also silence the service's alerts in "
                          "Alertmanager for the window (alertmanager.url)")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-28T02:00:00Z")
        return value

    @model_validator(mode="after")
    def _order(self) -> ExclusionRequest:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_EXCLUSION:
            raise ValueError("an exclusion may cover at most 92 days")
        if self.silence and self.reason is not ExclusionReason.MAINTENANCE:
            raise ValueError("silence is only for pre-approved maintenance windows (reason: maintenance)")
        return self


def exclusion_dict(row: BudgetExclusion) -> dict[str, object]:
    return {"id": row.id, "service": row.service, "slo": row.slo, "start": row.start.isoformat(),
            "end": row.end.isoformat(), "reason": row.reason, "approved_by": row.approved_by, "note": row.note,
            "created_at": row.created_at.isoformat(), "created_by": row.created_by,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None, "revoked_by": row.revoked_by,
            "silence_id": row.silence_id}


def add_exclusion(session: Session, request: ExclusionRequest, actor: str, now: datetime,
                  silence_id: str | None = None) -> BudgetExclusion:
    row = BudgetExclusion(service=request.service, slo=request.slo, start=request.start, end=request.end,
                          reason=str(request.reason), approved_by=request.approved_by, note=request.note,
                          created_at=now, created_by=actor, silence_id=silence_id)
    session.add(row)
    session.flush()
    what = f"{request.service}/{request.slo}" if request.slo else f"{request.service} (every SLO)"
    session.add(PolicyAudit(
        at=now, event="exclusion-added", service=request.service, slo=request.slo, tier=None, previous_tier=None,
        remaining=None, known=None, actor=actor,
        explanation=f"exclusion #{row.id} for {what} from {request.start.isoformat()} to {request.end.isoformat()}: "
                    f"{request.reason}, approved by {request.approved_by}",
        inputs=exclusion_dict(row)))
    return row


def list_exclusions(session: Session, service: str | None = None, *,
                    include_revoked: bool = False) -> list[BudgetExclusion]:
    query = select(BudgetExclusion).order_by(BudgetExclusion.id)
    if service is not None:
        query = query.where(BudgetExclusion.service == service)
    if not include_revoked:
        query = query.where(BudgetExclusion.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_exclusion(session: Session, exclusion_id: int, actor: str, now: datetime) -> BudgetExclusion | None:
    row = session.get(BudgetExclusion, exclusion_id, with_for_update=True)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now
        row.revoked_by = actor
        session.add(PolicyAudit(
            at=now, event="exclusion-revoked", service=row.service, slo=row.slo, tier=None, previous_tier=None,
            remaining=None, known=None, actor=actor, explanation=f"exclusion #{row.id} revoked by {actor}",
            inputs=exclusion_dict(row)))
    return row
