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
    after_seconds: float
    notify: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"after_seconds": self.after_seconds, "notify": list(self.notify)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        return cls(float(data["after_seconds"]), tuple(data["notify"]))


def chain_for(config: Config, team: str | None, *, ticket: bool) -> list[Step]:
    """The team's `escalation`, else engineer at once (the team's page receivers, or the default
    receiver), then server.escalation_lead at 15m and server.escalation_director at 30m if set.
    Tickets get no chain."""
    routing = config.teams.get(team) if team else None
    if routing is not None and routing.escalation and not ticket:
        return [Step(step.after.seconds, tuple(step.notify)) for step in routing.escalation]
    if ticket:
        # Tickets are recorded, not escalated: Alertmanager already routes them to the team's channel.
        return []
    first: list[str] = list(routing.page) if routing is not None else []
    if not first and config.default_receiver is not None:
        first = [config.default_receiver]
    steps = [Step(0.0, tuple(first))] if first else []
    if config.server.escalation_lead:
        steps.append(Step(LEAD_AFTER_SECONDS, (config.server.escalation_lead,)))
    if config.server.escalation_director:
        steps.append(Step(DIRECTOR_AFTER_SECONDS, (config.server.escalation_director,)))
    return steps
