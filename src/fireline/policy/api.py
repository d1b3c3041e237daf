"""HTTP API of the policy engine: deploy gate, budget status, exclusions, audit log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from fireline.policy.engine import PolicyEngine
from fireline.policy.exclusions import (
    ExclusionRequest,
    add_exclusion,
    exclusion_dict,
    list_exclusions,
    revoke_exclusion,
)
from fireline.policy.settings import ChangeClass
from fireline.policy.silences import SilenceError, create_silence, expire_silence
from fireline.policy.tables import PolicyAudit
from fireline.server.app import Actor

if TYPE_CHECKING:
    from fireline.policy.server import PolicyRuntime

_GATE_EXAMPLES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the change may deploy", "content": {"application/json": {"example": {
        "allowed": True, "service": "checkout", "change": "feature", "tier": "caution",
        "reason": "feature changes allowed: no SLO of checkout freezes them (worst tier caution, 61.0% of the "
                  "error budget left on availability)", "since": "2026-11-20T08:00:00+00:00", "slos": []}}}},
    423: {"description": "frozen by the error-budget policy", "content": {"application/json": {"example": {
        "allowed": False, "service": "checkout", "change": "feature", "tier": "lockdown",
        "reason": "checkout/availability in tier lockdown (4.2% of the error budget left) since "
                  "2026-11-28T10:00:00+00:00: feature changes are frozen", "since": "2026-11-28T10:00:00+00:00",
        "slos": [{"slo": "availability", "tier": "lockdown", "known": True, "budget_remaining": 0.042,
                  "since": "2026-11-28T10:00:00+00:00", "frozen": ["feature", "critical"],
                  "unknown_reason": None}]}}}},
    503: {"description": "budget unknown and no freeze in force: the pipeline decides (--on-unknown)"},
    404: {"description": "service not watched, or no policy configured"},
}


def build_router(runtime: PolicyRuntime) -> APIRouter:
    router = APIRouter(tags=["policy"])

    def engine() -> PolicyEngine:
        if runtime.engine is None:
            raise HTTPException(404, "the error-budget policy is not enabled (no policy: section in fireline.yaml)")
        return runtime.engine

    @router.get("/api/v1/gate/{service}", responses=_GATE_EXAMPLES)
    def gate(service: str, _actor: Actor,
             change: Annotated[ChangeClass, Query(description="what the deploy is")] = ChangeClass.FEATURE
             ) -> JSONResponse:
        """May a change of this class deploy to this service now? 200 yes, 423 frozen, 503 unknown."""
        answer = engine().gate(service, change)
        if answer is None:
            raise HTTPException(404, f"service {service!r} is not watched by the policy engine (specs: in "
                                     "fireline.yaml)")
        return JSONResponse(answer.as_dict(), status_code=answer.status_code)

    @router.get("/api/v1/budget/status", responses={200: {"content": {"application/json": {"example": {
        "slos": [{"service": "checkout", "slo": "availability", "tier": "caution", "known": True,
                  "budget_remaining": 0.61, "since": "2026-11-20T08:00:00+00:00", "frozen": [],
                  "measured_at": "2026-11-29T06:00:00+00:00", "unknown_since": None, "unknown_reason": None}]}}}}})
    def status(_actor: Actor, service: str | None = None) -> dict[str, Any]:
        """Every watched SLO: tier in force, budget remaining (exclusions applied), frozen change classes."""
        eng = engine()
        names = [t.name for t in eng.policy.tiers]
        out = []
        for s in eng.states(service):
            frozen = eng.policy.tier(s.tier).freeze if s.tier in names and s.tier else []
            out.append({"service": s.service, "slo": s.slo, "tier": s.tier or "unknown", "known": s.known,
                        "budget_remaining": s.remaining, "since": s.since.isoformat() if s.since else None,
                        "frozen": [str(c) for c in frozen],
                        "measured_at": s.measured_at.isoformat() if s.measured_at else None,
                        "unknown_since": s.unknown_since.isoformat() if s.unknown_since else None,
                        "unknown_reason": s.unknown_reason})
        return {"slos": out}

    @router.post("/api/v1/budget/exclusions", status_code=201, responses={
        201: {"content": {"application/json": {"example": {
            "id": 1, "service": "checkout", "slo": "availability", "start": "2026-11-28T02:00:00+00:00",
            "end": "2026-11-28T03:30:00+00:00", "reason": "platform-outage", "approved_by": "jane.doe",
            "note": "", "created_at": "2026-11-28T09:00:00+00:00", "created_by": "api", "revoked_at": None,
            "revoked_by": None, "silence_id": None}}}},
        404: {"description": "unknown service or SLO"}})
    def create_exclusion(request: ExclusionRequest, actor: Actor) -> dict[str, object]:
        """Exclude an interval from the budget (platform outage, measurement bug, maintenance); audited."""
        eng = engine()
        if not eng.find(request.service, request.slo):
            what = f"{request.service}/{request.slo}" if request.slo else request.service
            raise HTTPException(404, f"{what} is not watched by the policy engine")
        silence_id = None
        if request.silence:
            am = eng.config.alertmanager.url
            if am is None:
                raise HTTPException(422, "silence: alertmanager.url is not set in fireline.yaml")
            matchers = {"service": request.service, **({"slo": request.slo} if request.slo else {})}
            try:
                silence_id = create_silence(am, matchers, request.start, request.end, request.approved_by,
                                            f"fireline budget exclusion (maintenance): {request.note}".strip())
            except SilenceError as exc:
                raise HTTPException(502, str(exc)) from None
        with eng.db.transaction() as session:
            row = add_exclusion(session, request, actor, eng.clock(), silence_id)
            return exclusion_dict(row)

    @router.get("/api/v1/budget/exclusions")
    def get_exclusions(_actor: Actor, service: str | None = None,
                       include_revoked: bool = False) -> dict[str, list[dict[str, object]]]:
        """Exclusions, newest last; revoked ones only with include_revoked=true."""
        eng = engine()
        with eng.db.transaction() as session:
            return {"exclusions": [exclusion_dict(r) for r in
                                   list_exclusions(session, service, include_revoked=include_revoked)]}

    @router.delete("/api/v1/budget/exclusions/{exclusion_id}", responses={404: {"description": "no such exclusion"}})
    def delete_exclusion(exclusion_id: int, actor: Actor) -> dict[str, object]:
        """Revoke an exclusion: its interval counts against the budget again from the next cycle."""
        eng = engine()
        with eng.db.transaction() as session:
            row = revoke_exclusion(session, exclusion_id, actor, eng.clock())
            if row is None:
                raise HTTPException(404, f"no exclusion #{exclusion_id}")
            if row.silence_id and eng.config.alertmanager.url:
                try:
                    expire_silence(eng.config.alertmanager.url, row.silence_id)
                except SilenceError as exc:
                    raise HTTPException(502, f"{exc}; the exclusion is not revoked") from None
            return exclusion_dict(row)

    @router.get("/api/v1/policy/audit")
    def audit(_actor: Actor, service: str | None = None, slo: str | None = None, event: str | None = None,
              after: Annotated[int, Query(ge=0, description="only records with a larger id")] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              since: datetime | None = None) -> dict[str, Any]:
        """Every decision with its inputs (queries, counts, window, hysteresis), transitions, actions, exclusions."""
        eng = engine()
        query = select(PolicyAudit).where(PolicyAudit.id > after).order_by(PolicyAudit.id).limit(limit)
        if service is not None:
            query = query.where(PolicyAudit.service == service)
        if slo is not None:
            query = query.where(PolicyAudit.slo == slo)
        if event is not None:
            query = query.where(PolicyAudit.event == event)
        if since is not None:
            query = query.where(PolicyAudit.at >= since)
        with eng.db.transaction() as session:
            rows = list(session.scalars(query))
            return {"records": [{
                "id": r.id, "at": r.at.isoformat(), "event": r.event, "service": r.service, "slo": r.slo,
                "tier": r.tier, "previous_tier": r.previous_tier, "budget_remaining": r.remaining, "known": r.known,
                "actor": r.actor, "explanation": r.explanation, "inputs": r.inputs} for r in rows]}

    return router
