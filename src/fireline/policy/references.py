"""Checks of `policy:` against the rest of fireline.yaml: every receiver and tracker it names exists."""

from __future__ import annotations

from fireline.policy.settings import TEAM_RECEIVER
from fireline.spec.config import Config


def check_policy_references(config: Config) -> list[str]:
    """One message per undefined name, each naming its field (policy.tiers[3].on_enter.notify[0])."""
    policy = config.policy
    if policy is None:
        return []
    problems: list[str] = []

    def receiver(name: str, where: str) -> None:
        if name == TEAM_RECEIVER:
            if not config.teams and config.default_receiver is None:
                problems.append(f"{where}: 'team' means the owning team's ticket receivers (teams:) or "
                                "default_receiver, and neither is configured")
            return
        if name not in config.receivers:
            problems.append(f"{where}: receiver {name!r} is not defined under receivers")

    for i, tier in enumerate(policy.tiers):
        for phase in ("on_enter", "on_leave"):
            actions = getattr(tier, phase)
            for field in ("notify", "page"):
                for j, name in enumerate(getattr(actions, field)):
                    receiver(name, f"policy.tiers[{i}].{phase}.{field}[{j}] (tier {tier.name})")
            for j, ticket in enumerate(actions.ticket):
                if ticket.tracker not in policy.trackers:
                    problems.append(f"policy.tiers[{i}].{phase}.ticket[{j}].tracker (tier {tier.name}): tracker "
                                    f"{ticket.tracker!r} is not defined under policy.trackers")
    for j, name in enumerate(policy.unknown_notify):
        receiver(name, f"policy.unknown_notify[{j}]")
    return problems
