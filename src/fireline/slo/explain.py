"""What each tier of an SLO's policy means in numbers (closed forms, clean history)."""

from __future__ import annotations

from dataclasses import dataclass

from fireline.slo.tiers import (
    Tier,
    budget_consumed_at_detection,
    detection_seconds,
    time_to_exhaustion_seconds,
)
from fireline.spec.models import SLOSpec


@dataclass(frozen=True)
class TierExplanation:
    tier: Tier
    burn_rate_threshold: float
    error_ratio_threshold: float
    budget_consumed_at_detection: float  # share of the whole budget when it fires
    detection_outage_seconds: float  # 100% errors
    detection_at_1_5x_seconds: float  # error ratio 1.5 x the threshold
    exhaustion_at_threshold_seconds: float  # whole budget, burning at exactly the threshold


def explain_slo(slo: SLOSpec) -> list[TierExplanation]:
    out = []
    for tier in slo.tiers():
        burn = float(tier.burn_rate_threshold(slo.window))
        ratio = float(tier.error_ratio_threshold(slo.window, slo.error_budget))
        out.append(TierExplanation(
            tier=tier,
            burn_rate_threshold=burn,
            error_ratio_threshold=ratio,
            budget_consumed_at_detection=budget_consumed_at_detection(tier, slo.window, slo.error_budget, 1.0),
            detection_outage_seconds=detection_seconds(tier, slo.window, slo.error_budget, 1.0) + tier.for_.seconds,
            detection_at_1_5x_seconds=(
                detection_seconds(tier, slo.window, slo.error_budget, min(1.0, 1.5 * ratio)) + tier.for_.seconds
            ),
            exhaustion_at_threshold_seconds=time_to_exhaustion_seconds(slo.window, burn),
        ))
    return out
