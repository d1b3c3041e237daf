"""Escalation chains: which receivers hear about an unacknowledged incident, and when.

The chain is computed from fireline.yaml once, when the incident opens, and stored in the incident
(Grafana OnCall's snapshot): editing the config never changes an escalation already in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fireline.spec.config import Config

LEAD_AFTER_SECONDS = 15 * 60
DIRECTOR_AFTER_SECONDS = 30 * 60


@dataclass(frozen=True)
class Step:
    """One snapshotted step: page `schedule`'s person on call or `person` (resolved when the step fires),
    and notify these receivers."""

    after_seconds: float
    notify: tuple[str, ...]
    schedule: str | None = None
    person: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"after_seconds": self.after_seconds, "notify": list(self.notify)}
        if self.schedule is not None:
            data["schedule"] = self.schedule
        if self.person is not None:
            data["person"] = self.person
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(float(data["after_seconds"]), tuple(data["notify"]), data.get("schedule"), data.get("person"))


def chain_for(config: Config, team: str | None, *, ticket: bool) -> list[Step]:
    """The team's `escalation`, else engineer at once (the team's page receivers, or the default
    receiver), then server.escalation_lead at 15m and server.escalation_director at 30m if set.
    Tickets get no chain. A step that pages a schedule or a person without `notify` tells the
    team's page receivers (or the default receiver)."""
    routing = config.teams.get(team) if team else None
    if ticket:
        # Tickets are recorded, not escalated: Alertmanager already routes them to the team's channel.
        return []
    first: list[str] = list(routing.page) if routing is not None else []
    if not first and config.default_receiver is not None:
        first = [config.default_receiver]
    if routing is not None and routing.escalation:
        steps = []
        for step in routing.escalation:
            notify = ([step.receiver] if step.receiver else []) + [n for n in step.notify if n != step.receiver]
            if not notify and (step.schedule or step.person):
                notify = first
            steps.append(Step(step.after.seconds, tuple(notify), step.schedule, step.person))
        return steps
    steps = [Step(0.0, tuple(first))] if first else []
    if config.server.escalation_lead:
        steps.append(Step(LEAD_AFTER_SECONDS, (config.server.escalation_lead,)))
    if config.server.escalation_director:
        steps.append(Step(DIRECTOR_AFTER_SECONDS, (config.server.escalation_director,)))
    return steps
