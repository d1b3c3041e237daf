"""Tier selection with hysteresis, and what happens to an SLO's policy state at each evaluation.

A worse tier takes effect at once (the budget is gone, waiting helps nobody). A better tier takes
effect only after the budget has stood at least `margin` points above that tier's boundary for
`cycles` consecutive evaluations, so a budget hovering on a boundary never flaps the freeze.

An unknown budget changes nothing that is in force: the last known tier keeps its freezes (and a
never-measured SLO freezes nothing). It only starts the grace-period clock for telling someone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fireline.policy.budget import BudgetReading, BudgetUnknown
from fireline.policy.settings import PolicySettings, PolicyTier

UNKNOWN = "unknown"


@dataclass(frozen=True)
class SLOState:
    """The policy's memory of one SLO, persisted between evaluations and across restarts."""

    service: str
    slo: str
    tier: str | None = None  # tier in force; None until the budget has been measured once
    since: datetime | None = None  # when that tier took effect
    remaining: float | None = None  # last measured budget remaining (ratio)
    measured_at: datetime | None = None
    unknown_since: datetime | None = None  # set while the budget cannot be measured
    unknown_reason: str | None = None
    unknown_notified: bool = False
    recovery_tier: str | None = None  # better tier the budget currently qualifies for (with margin)
    recovery_cycles: int = 0
    transitions: int = 0  # sequence number of the last transition

    @property
    def known(self) -> bool:
        return self.tier is not None and self.unknown_since is None


@dataclass(frozen=True)
class Transition:
    service: str
    slo: str
    seq: int
    from_tier: str | None
    to_tier: str
    at: datetime
    remaining: float
    entered: list[str]  # tiers whose on_enter actions run, in order (intermediate ones on the way down)
    left: str | None  # tier whose on_leave actions run


@dataclass(frozen=True)
class Decision:
    state: SLOState
    transition: Transition | None
    notify_unknown: bool  # the budget has been unknown for the grace period: tell someone, once
    explanation: str
    raw_tier: str | None  # the tier the budget alone points at, before hysteresis


def tier_for(policy: PolicySettings, remaining_percent: float) -> PolicyTier:
    """The best tier whose min_remaining the budget reaches (boundaries inclusive)."""
    for tier in policy.tiers:
        if tier.min_remaining is None or remaining_percent >= float(tier.min_remaining):
            return tier
    return policy.tiers[-1]


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.2f}%"


def decide(policy: PolicySettings, state: SLOState, measurement: BudgetReading | BudgetUnknown) -> Decision:
    at = measurement.at
    if isinstance(measurement, BudgetUnknown):
        unknown_since = state.unknown_since or at
        due = at - unknown_since >= timedelta(milliseconds=policy.grace_period.milliseconds)
        notify = due and not state.unknown_notified
        kept = f"tier {state.tier} stays in force" if state.tier else "nothing is frozen (never measured)"
        new = replace(state, unknown_since=unknown_since, unknown_reason=measurement.reason,
                      unknown_notified=state.unknown_notified or notify, recovery_tier=None, recovery_cycles=0)
        return Decision(new, None, notify, f"budget unknown since {unknown_since.isoformat()}: "
                        f"{measurement.reason}; {kept}", None)

    percent = measurement.remaining_percent
    raw = tier_for(policy, percent)
    measured = replace(state, remaining=measurement.remaining, measured_at=at, unknown_since=None,
                       unknown_reason=None, unknown_notified=False)
    if state.tier is None:
        return _move(policy, measured, raw.name, at, measurement.remaining,
                     f"first measurement: {_pct(measurement.remaining)} left -> tier {raw.name}", raw.name)

    current = policy.tier_index(state.tier) if state.tier in [t.name for t in policy.tiers] else None
    if current is None:
        # The tier was renamed or removed from fireline.yaml since it was stored: re-enter by the budget.
        return _move(policy, measured, raw.name, at, measurement.remaining,
                     f"tier {state.tier} no longer exists in the policy; {_pct(measurement.remaining)} left "
                     f"-> tier {raw.name}", raw.name)
    target = policy.tier_index(raw.name)
    if target > current:
        return _move(policy, measured, raw.name, at, measurement.remaining,
                     f"{_pct(measurement.remaining)} left, below tier {state.tier}'s boundary -> tier {raw.name}",
                     raw.name)
    if target == current:
        return Decision(replace(measured, recovery_tier=None, recovery_cycles=0), None, False,
                        f"{_pct(measurement.remaining)} left: tier {state.tier} holds", raw.name)

    # Better by the raw boundary; with the margin, which better tier (if any) does it clear?
    margin = float(policy.hysteresis.margin)
    with_margin = policy.tier_index(tier_for(policy, percent - margin).name)
    if with_margin >= current:
        return Decision(replace(measured, recovery_tier=None, recovery_cycles=0), None, False,
                        f"{_pct(measurement.remaining)} left: above tier {state.tier}'s boundary but within the "
                        f"{margin:g}-point margin; tier {state.tier} holds", raw.name)
    # Across a streak, recover only as far as the worst cycle of the streak allowed.
    previous = (policy.tier_index(state.recovery_tier)
                if state.recovery_tier in [t.name for t in policy.tiers] and state.recovery_cycles else None)
    candidate = with_margin if previous is None else max(with_margin, previous)
    cycles = state.recovery_cycles + 1
    name = policy.tiers[candidate].name
    if cycles >= policy.hysteresis.cycles:
        return _move(policy, replace(measured, recovery_tier=None, recovery_cycles=0), name, at,
                     measurement.remaining,
                     f"{_pct(measurement.remaining)} left, clear of tier {name}'s boundary by the "
                     f"{margin:g}-point margin for {cycles} cycles -> tier {name}", raw.name)
    return Decision(replace(measured, recovery_tier=name, recovery_cycles=cycles), None, False,
                    f"{_pct(measurement.remaining)} left: recovering towards tier {name} "
                    f"({cycles}/{policy.hysteresis.cycles} cycles); tier {state.tier} holds", raw.name)


def _move(policy: PolicySettings, state: SLOState, to: str, at: datetime, remaining: float,
          explanation: str, raw: str) -> Decision:
    names = [t.name for t in policy.tiers]
    old = state.tier if state.tier in names else None
    if old is None:
        entered = [to]
    elif names.index(to) > names.index(old):
        # Going down, the thresholds of every tier in between were crossed too ("under 25%" holds under 10%).
        entered = names[names.index(old) + 1: names.index(to) + 1]
    else:
        entered = [to]
    seq = state.transitions + 1
    transition = Transition(state.service, state.slo, seq, state.tier, to, at, remaining, entered, old)
    new = replace(state, tier=to, since=at, transitions=seq, recovery_tier=None, recovery_cycles=0)
    return Decision(new, transition, False, explanation, raw)
