"""The actions a transition calls for, planned as data with a stable key each.

The key is what makes them exactly-once: it is stored in the same database transaction as the
SLO's new state, so an action is planned once per transition however often the engine restarts,
and delivered until it succeeds (or is dead-lettered) by the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fireline.policy.decide import SLOState, Transition
from fireline.policy.settings import PolicySettings, TierActions
from fireline.slo.tiers import decimal_text
from fireline.spec.models import SLOSpec


class ActionKind(StrEnum):
    NOTIFY = "notify"
    PAGE = "page"
    TICKET = "ticket"
    INCIDENT = "incident"


@dataclass(frozen=True)
class PlannedAction:
    key: str  # unique across all actions ever planned
    kind: ActionKind
    target: str  # receiver name, tracker name, or the incident severity
    service: str
    slo: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateContext:
    service: str
    slo: str
    team: str
    tier: str
    previous_tier: str
    budget_remaining: str
    objective: str
    window: str
    since: str

    def render(self, template: str) -> str:
        return template.format_map(self.__dict__)


def percent_text(ratio: float | None) -> str:
    return "unknown" if ratio is None else f"{ratio * 100:.1f}%"


def context_for(slo: SLOSpec, service: str, team: str, tier: str, previous: str | None,
                remaining: float | None, since: datetime, window_text: str) -> TemplateContext:
    return TemplateContext(service=service, slo=slo.name, team=team, tier=tier, previous_tier=previous or "none",
                           budget_remaining=percent_text(remaining), objective=f"{decimal_text(slo.objective)}%",
                           window=window_text, since=since.isoformat())


def _expand(actions: TierActions, ctx: TemplateContext, at: datetime, prefix: str, tier: str,
            phase: str) -> list[PlannedAction]:
    out: list[PlannedAction] = []
    base = {"tier": tier, "phase": phase, "previous_tier": ctx.previous_tier, "to_tier": ctx.tier,
            "budget_remaining": ctx.budget_remaining, "at": at.isoformat()}
    message = ctx.render(actions.message)
    for receiver in actions.notify:
        out.append(PlannedAction(f"{prefix}/{phase}:{tier}/notify:{receiver}", ActionKind.NOTIFY, receiver,
                                 ctx.service, ctx.slo, {**base, "message": message}))
    for receiver in actions.page:
        out.append(PlannedAction(f"{prefix}/{phase}:{tier}/page:{receiver}", ActionKind.PAGE, receiver,
                                 ctx.service, ctx.slo, {**base, "message": message}))
    for index, ticket in enumerate(actions.ticket):
        due = (at + timedelta(milliseconds=ticket.due_in.milliseconds)).date().isoformat() if ticket.due_in else None
        out.append(PlannedAction(
            f"{prefix}/{phase}:{tier}/ticket:{index}:{ticket.tracker}", ActionKind.TICKET, ticket.tracker,
            ctx.service, ctx.slo,
            {**base, "title": ctx.render(ticket.title), "body": ctx.render(ticket.body), "labels": ticket.labels,
             "priority": ticket.priority, "due_date": due}))
    if actions.incident is not None:
        out.append(PlannedAction(
            f"{prefix}/{phase}:{tier}/incident", ActionKind.INCIDENT, actions.incident.severity, ctx.service,
            ctx.slo, {**base, "title": ctx.render(actions.incident.title), "severity": actions.incident.severity,
                      "message": message}))
    return out


def plan_transition(policy: PolicySettings, transition: Transition, slo: SLOSpec, team: str,
                    window_text: str) -> list[PlannedAction]:
    """on_leave of the tier left, then on_enter of every tier entered (in order of severity)."""
    prefix = f"{transition.service}/{transition.slo}/transition:{transition.seq}"
    ctx = context_for(slo, transition.service, team, transition.to_tier, transition.from_tier,
                      transition.remaining, transition.at, window_text)
    planned: list[PlannedAction] = []
    if transition.left is not None:
        planned += _expand(policy.tier(transition.left).on_leave, ctx, transition.at, prefix, transition.left,
                           "leave")
    for tier in transition.entered:
        planned += _expand(policy.tier(tier).on_enter, ctx, transition.at, prefix, tier, "enter")
    return planned


def plan_unknown_notice(policy: PolicySettings, state: SLOState, slo: SLOSpec, team: str,
                        at: datetime) -> list[PlannedAction]:
    """One message per unknown spell (keyed by when it began) to policy.unknown_notify."""
    assert state.unknown_since is not None
    kept = (f"tier {state.tier} stays in force (nothing is frozen or unfrozen while unknown)" if state.tier
            else "nothing is frozen")
    message = (f"{state.service}/{state.slo}: error budget unknown since {state.unknown_since.isoformat()}: "
               f"{state.unknown_reason}; {kept}")
    prefix = f"{state.service}/{state.slo}/unknown:{state.unknown_since.isoformat()}"
    return [PlannedAction(f"{prefix}/notify:{receiver}", ActionKind.NOTIFY, receiver, state.service, slo.name,
                          {"tier": "unknown", "phase": "unknown", "message": message, "at": at.isoformat(),
                           "previous_tier": state.tier or "none", "to_tier": "unknown",
                           "budget_remaining": "unknown"})
            for receiver in policy.unknown_notify]
