"""The deploy gate: may this change class of this service deploy now?

A service is frozen for a change class when any of its SLOs' tier in force freezes that class.
An unknown budget neither freezes nor unfreezes: a freeze already in force still refuses, and
otherwise the answer is "unknown" (allowed None) so the pipeline applies its own --on-unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fireline.policy.decide import UNKNOWN, SLOState
from fireline.policy.settings import ChangeClass, PolicySettings

HTTP_ALLOWED = 200
HTTP_REFUSED = 423  # Locked: the resource (the service's deploys) is frozen
HTTP_UNKNOWN = 503


@dataclass(frozen=True)
class GateSLO:
    slo: str
    tier: str  # tier in force, or "unknown" when never measured
    known: bool  # measured at the last evaluation
    remaining: float | None
    since: datetime | None
    frozen: list[ChangeClass]
    unknown_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"slo": self.slo, "tier": self.tier, "known": self.known,
                "budget_remaining": None if self.remaining is None else round(self.remaining, 6),
                "since": self.since.isoformat() if self.since else None,
                "frozen": [str(c) for c in self.frozen], "unknown_reason": self.unknown_reason}


@dataclass(frozen=True)
class GateAnswer:
    service: str
    change: ChangeClass
    allowed: bool | None  # None: the budget is unknown and no freeze is in force
    tier: str
    reason: str
    since: datetime | None
    slos: list[GateSLO]

    @property
    def status_code(self) -> int:
        if self.allowed is None:
            return HTTP_UNKNOWN
        return HTTP_ALLOWED if self.allowed else HTTP_REFUSED

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "service": self.service, "change": str(self.change), "tier": self.tier,
                "reason": self.reason, "since": self.since.isoformat() if self.since else None,
                "slos": [s.as_dict() for s in self.slos]}


def _pct(ratio: float | None) -> str:
    return "unknown" if ratio is None else f"{ratio * 100:.1f}%"


def gate_decision(policy: PolicySettings, service: str, change: ChangeClass,
                  states: list[SLOState]) -> GateAnswer:
    names = [t.name for t in policy.tiers]
    slos: list[GateSLO] = []
    for state in sorted(states, key=lambda s: s.slo):
        in_policy = state.tier in names
        frozen = list(policy.tier(state.tier).freeze) if in_policy and state.tier else []
        slos.append(GateSLO(state.slo, state.tier if in_policy and state.tier else UNKNOWN, state.known,
                            state.remaining, state.since, frozen, state.unknown_reason))

    refusing = [s for s in slos if change in s.frozen]
    if refusing:
        worst = max(refusing, key=lambda s: names.index(s.tier))
        stale = "" if worst.known else " (budget currently unknown; the freeze stays until it is measured again)"
        others = f" and {len(refusing) - 1} more SLO(s)" if len(refusing) > 1 else ""
        reason = (f"{service}/{worst.slo}{others} in tier {worst.tier} ({_pct(worst.remaining)} of the error budget "
                  f"left) since {worst.since.isoformat() if worst.since else '?'}: {change} changes are frozen"
                  f"{stale}")
        return GateAnswer(service, change, False, worst.tier, reason, worst.since, slos)

    unknown = [s for s in slos if not s.known]
    if unknown or not slos:
        first = unknown[0] if unknown else None
        why = first.unknown_reason if first and first.unknown_reason else "not measured yet"
        reason = (f"{service}/{first.slo}: error budget unknown ({why}); no freeze is in force"
                  if first else f"{service}: no SLOs are evaluated")
        return GateAnswer(service, change, None, UNKNOWN, reason, None, slos)

    worst = max(slos, key=lambda s: names.index(s.tier))
    reason = (f"{change} changes allowed: no SLO of {service} freezes them (worst tier {worst.tier}, "
              f"{_pct(worst.remaining)} of the error budget left on {worst.slo})")
    return GateAnswer(service, change, True, worst.tier, reason, worst.since, slos)
