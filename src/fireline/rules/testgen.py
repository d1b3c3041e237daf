"""promtool unit tests that prove the generated rules behave, per SLO:

- a total outage pages within 5 minutes (or within the fastest page tier's closed-form detection
  time plus two evaluations, when the objective makes 5 minutes impossible: 99% needs 8.6m);
- an error ratio just below a tier's threshold never fires that tier, and just above it does;
- the pages resolve once the service has recovered for the longest page short window;
- budget remaining is what the event counts say it is.

Tests assert on ALERTS series through promql_expr_test, which checks firing state and labels
without depending on how annotation templates render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fireline.rules.generate import BUDGET_REMAINING, burn_alert_name, group_name
from fireline.rules.series import InputSeries, plan_series
from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity, Tier, detection_seconds
from fireline.spec.models import ServiceSpec, SLOSpec
from fireline.yamlout import dump_yaml

EVALUATION_INTERVAL_MINUTES = 1
TOTAL_PER_MINUTE = 1000.0
CLEAN_HISTORY_MINUTES = 60
OUTAGE_MINUTES = 30
# The ratio a below-threshold test runs at, as a share of the tier's threshold.
BELOW = Decimal("0.9")
ABOVE = Decimal("1.1")


@dataclass(frozen=True)
class Segment:
    minutes: int
    error_ratio: float
    total_per_minute: float = TOTAL_PER_MINUTE


def _num(value: float) -> str:
    text = f"{value:.12g}"
    return text


def series_values(plan: list[InputSeries], segments: list[Segment]) -> list[dict[str, str]]:
    """promtool input_series for the plan over consecutive segments, one sample a minute from 0."""
    out = []
    for series in plan:
        parts = []
        value = 0.0
        first = True
        for seg in segments:
            bad = seg.total_per_minute * seg.error_ratio
            good = seg.total_per_minute - bad
            step = (bad if series.counts_bad else 0.0) + (good if series.counts_good else 0.0)
            if first:
                parts.append(f"{_num(value)}+{_num(step)}x{seg.minutes}")
                value += step * seg.minutes
                first = False
            else:
                value += step
                parts.append(f"{_num(value)}+{_num(step)}x{seg.minutes - 1}")
                value += step * (seg.minutes - 1)
        out.append({"series": series.series_text(), "values": " ".join(parts)})
    return out


def _minutes(duration: Duration) -> int:
    return math.ceil(duration.seconds / 60)


def _selector(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _count_alerts(labels: dict[str, str]) -> str:
    return f'count(ALERTS{_selector({**labels, "alertstate": "firing"})}) or vector(0)'


def _count_is(expr: str, minute: int, value: int) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{minute}m", "exp_samples": [{"labels": "{}", "value": value}]}


class _SLOTests:
    def __init__(self, service: ServiceSpec, slo: SLOSpec, plan: list[InputSeries]) -> None:
        self.service, self.slo, self.plan = service, slo, plan
        self.alert = burn_alert_name(service, slo)
        self.identity = {"alertname": self.alert, "service": service.name, "slo": slo.name}

    def _tier_labels(self, tier: Tier) -> dict[str, str]:
        return {**self.identity, "long_window": str(tier.long_window), "short_window": str(tier.short_window)}

    def _test(self, name: str, segments: list[Segment], checks: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "name": f"{self.service.name}/{self.slo.name}: {name}",
            "interval": f"{EVALUATION_INTERVAL_MINUTES}m",
            "input_series": series_values(self.plan, segments),
            "promql_expr_test": checks,
        }

    def outage(self) -> dict[str, Any] | None:
        pages = [t for t in self.slo.tiers() if t.severity is Severity.PAGE] or self.slo.tiers()
        if not pages:
            return None
        fastest = min(pages, key=lambda t: detection_seconds(t, self.slo.window, self.slo.error_budget, 1.0)
                      + t.for_.seconds)
        detect = detection_seconds(fastest, self.slo.window, self.slo.error_budget, 1.0) + fastest.for_.seconds
        deadline = max(5, math.ceil(detect / 60) + 2 * EVALUATION_INTERVAL_MINUTES)
        start = CLEAN_HISTORY_MINUTES
        outage = max(OUTAGE_MINUTES, deadline + 1)
        recovered = start + outage
        settle = max(_minutes(t.short_window) for t in pages) + 5
        segments = [Segment(start, 0.0), Segment(outage, 1.0), Segment(settle + 1, 0.0)]
        severity_label = {"fireline_severity": fastest.severity.value}
        burn = {**self.identity, "long_window": "~", **severity_label}
        burn_any = _count_alerts({k: v for k, v in burn.items() if k != "long_window"})
        checks = [
            _count_is(_count_alerts(self.identity), start - 1, 0),
            _count_is(_count_alerts({**self._tier_labels(fastest), **severity_label}), start + deadline, 1),
            _count_is(burn_any, recovered + settle, 0),
        ]
        return self._test(
            f"a total outage fires {fastest.key} ({fastest.severity.value}) within {deadline}m "
            f"and resolves {settle}m after recovery",
            segments, checks,
        )

    def threshold(self, tier: Tier, share: Decimal) -> dict[str, Any] | None:
        threshold = tier.error_ratio_threshold(self.slo.window, self.slo.error_budget)
        ratio = float(threshold * share)
        if ratio > 1 or (share > 1 and threshold >= 1):
            return None
        # A constant ratio from the first sample reads the same over every window once the short
        # one has data, so full long windows (3 days of samples) would add run time, not strength.
        minutes = _minutes(tier.short_window) + _minutes(tier.for_) + 15
        expected = 0 if share < 1 else 1
        word = "below" if share < 1 else "above"
        return self._test(
            f"an error ratio {share}x the {tier.key} threshold ({word}) {'does not fire' if share < 1 else 'fires'}",
            [Segment(minutes, ratio)],
            [_count_is(_count_alerts(self._tier_labels(tier)), minutes, expected)],
        )

    def budget(self) -> dict[str, Any]:
        # Half the budget spent at a steady rate leaves half of it.
        ratio = float(self.slo.error_budget / 2)
        minutes = 120
        selector = _selector({"service": self.service.name, "slo": self.slo.name})
        labels = {"service": self.service.name, "slo": self.slo.name,
                  **self.service.metadata.labels, **self.slo.labels}
        return self._test(
            "spending errors at half the budget's rate leaves 50% of the budget",
            [Segment(minutes, ratio)],
            [{
                "expr": f"round({BUDGET_REMAINING}{selector}, 0.001)",
                "eval_time": f"{minutes}m",
                "exp_samples": [{"labels": _selector(dict(sorted(labels.items()))), "value": 0.5}],
            }],
        )

    def tests(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any] | None] = [self.outage()]
        for tier in self.slo.tiers():
            out.append(self.threshold(tier, BELOW))
            out.append(self.threshold(tier, ABOVE))
        out.append(self.budget())
        return [t for t in out if t is not None]


@dataclass(frozen=True)
class GeneratedTests:
    text: str
    untested: list[str]  # SLOs whose SLI shape could not be synthesised, with the reason


def render_tests_file(service: ServiceSpec, rules_file: str, source_name: str) -> GeneratedTests:
    groups: list[dict[str, Any]] = []
    untested = []
    for slo in service.spec.slos:
        plan = plan_series(slo)
        if plan is None:
            untested.append(f"{service.name}/{slo.name}: SLI query shape not recognised, "
                            "no behavioural tests written (the rules are still checked by promtool)")
            continue
        groups.extend(_SLOTests(service, slo, plan).tests())
    document: dict[str, Any] = {
        "rule_files": [rules_file],
        "evaluation_interval": f"{EVALUATION_INTERVAL_MINUTES}m",
        "tests": groups,
    }
    header = (f"promtool unit tests generated by fireline from {source_name} for "
              f"{', '.join(group_name(service.name, s.name) for s in service.spec.slos)}.\n"
              "Run: promtool test rules <this file>")
    return GeneratedTests(dump_yaml(document, header=header), untested)
