"""promtool unit tests that prove the generated rules behave, per SLO:

- a total outage pages within 5 minutes (or within the fastest page tier's closed-form detection
  time plus two evaluations, when the objective makes 5 minutes impossible: 99% needs 8.6m);
- an error ratio just below a tier's threshold never fires that tier, and just above it does;
- the pages resolve once the service has recovered for the longest page short window;
- budget remaining is what the event counts say it is;
- good events absent (counters that appear on the first success) still page on a total outage;
- the total absent leaves the SLI without data, never "0% errors";
- an SLO whose alerting is off fires nothing, while its SLI is still recorded.

Every SLO gets behavioural tests. When its SLI query has a shape the series synthesis does not
recognise (rules/series.py), the same rules are generated for a stand-in SLI over two counters and
tested there: the alert and budget logic is proven, the SLI query itself only by promtool's check.

Tests assert on ALERTS series through promql_expr_test, which checks firing state and labels
without depending on how annotation templates render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from fireline.promql import Aggregate, Binary, Call, Number, VectorSelector
from fireline.promql.selectors import Matcher, Selector
from fireline.rules.generate import render_rules_file
from fireline.rules.plan import (
    BUDGET_REMAINING,
    AlertKind,
    GenerateOptions,
    RulePlan,
    group_name,
    guard_events,
    plans,
)
from fireline.rules.series import InputSeries, plan_series
from fireline.rules.sli import BASE_WINDOW, SLIQueries
from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity, Tier, detection_seconds
from fireline.spec.models import SLI, EventsSLI, ServiceSpec, SLOSpec
from fireline.yamlout import dump_yaml

EVALUATION_INTERVAL_MINUTES = 1
TOTAL_PER_MINUTE = 1000.0
CLEAN_HISTORY_MINUTES = 60
OUTAGE_MINUTES = 30
# The alerting-off test's outage: longer than any page tier needs to fire.
ALERTING_OFF_OUTAGE_MINUTES = 6 * 60
# The ratio a below-threshold test runs at, as a share of the tier's threshold.
BELOW = Decimal("0.9")
ABOVE = Decimal("1.1")


@dataclass(frozen=True)
class Segment:
    minutes: int
    error_ratio: float
    total_per_minute: float = TOTAL_PER_MINUTE  # negative: no samples in this segment (series absent)


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
            if seg.total_per_minute < 0:
                # No samples at all: the series is absent (a scrape that stopped).
                parts.append(f"_x{seg.minutes}")
                continue
            bad = seg.total_per_minute * seg.error_ratio
            good = seg.total_per_minute - bad
            step = (bad if series.counts_bad else 0.0) + (good if series.counts_good else 0.0)
            if series.gauge:
                # A gauge holds each minute's count itself: constant through the segment.
                parts.append(f"{_num(step)}+0x{seg.minutes - (0 if first else 1)}")
                first = False
                continue
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


# Values of a grouped SLO's group labels on the synthetic series: the group under test and another.
GROUP_A = "fireline-a"
GROUP_B = "fireline-b"


def _in_group(series: InputSeries, group: dict[str, str]) -> InputSeries:
    """The series with the group's labels, where the SLI's own selector leaves them free."""
    if not group:
        return series
    return replace(series, labels={**group, **series.labels} if series.labels.keys() & group.keys()
                   else {**series.labels, **group})


def _minutes(duration: Duration) -> int:
    return math.ceil(duration.seconds / 60)


def _selector(labels: dict[str, str]) -> str:
    return Selector("", tuple(Matcher(k, "=", v) for k, v in labels.items())).text()


def _count_alerts(labels: dict[str, str]) -> str:
    matchers = tuple(Matcher(k, "=~" if v == "~" else "=", ".+" if v == "~" else v)
                     for k, v in {**labels, "alertstate": "firing"}.items())
    count = Aggregate("count", VectorSelector(Selector("ALERTS", matchers)))
    return Binary("or", count, Call.of("vector", Number.of(0))).text()


def _count_is(expr: str, minute: int, value: int) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{minute}m", "exp_samples": [{"labels": "{}", "value": value}]}


class _SLOTests:
    def __init__(self, service: ServiceSpec, slo: SLOSpec, plan: list[InputSeries], *, label: str = "",
                 options: GenerateOptions | None = None) -> None:
        self.service, self.slo = service, slo
        # A grouped SLO's input series carry each group label (value GROUP_A when the SLI's selector
        # leaves it free); its alerts and recordings are then checked with that group's labels.
        self.group = {name: GROUP_A for name in slo.group_by}
        self.plan = [_in_group(s, self.group) for s in plan]
        self.rules = RulePlan.build(service, slo, options)
        self.alert = self.rules.burn_alerts()[0].name if self.rules.burn_alerts() else ""
        self.identity = {"alertname": self.alert, "service": service.name, "slo": slo.name}
        self.label = label

    def _tier_labels(self, tier: Tier) -> dict[str, str]:
        return {**self.identity, "long_window": str(tier.long_window), "short_window": str(tier.short_window)}

    def _test(self, name: str, segments: list[Segment], checks: list[dict[str, Any]],
              series: list[InputSeries] | None = None) -> dict[str, Any]:
        return {
            "name": f"{self.service.name}/{self.slo.name}: {self.label}{name}",
            "interval": f"{EVALUATION_INTERVAL_MINUTES}m",
            "input_series": series_values(self.plan if series is None else series, segments),
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
        # A constant ratio from the first sample reads the same over every window, whatever share of
        # it has data (rate() scales errors and events alike), so neither full long windows (3 days of
        # samples) nor a full 6h short one add strength, only run time: an hour at most, and the
        # minutes the low-traffic guard needs.
        guard = guard_events(self.slo, tier) if SLIQueries(self.slo).event_based else 0
        minutes = (max(min(_minutes(tier.short_window), 60), math.ceil(guard / TOTAL_PER_MINUTE))
                   + _minutes(tier.for_) + 15)
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
        return self._test(
            "spending errors at half the budget's rate leaves 50% of the budget",
            [Segment(minutes, ratio)],
            [{
                "expr": f"round({self.rules.budget_remaining_query()}, 0.001)",
                "eval_time": f"{minutes}m",
                "exp_samples": [{"labels": self._record_labels(), "value": 0.5}],
            }],
        )

    def _record_labels(self, group: dict[str, str] | None = None) -> str:
        # The labels the plan puts on its recordings (identity, compat labels, the spec's labels), and
        # a grouped SLO's group labels, which the SLI's aggregation keeps.
        labels = next(r.labels for r in self.rules.recordings if r.name == BUDGET_REMAINING)
        return _selector(dict(sorted({**labels, **self._group_of(group)}.items())))

    def _group_of(self, group: dict[str, str] | None) -> dict[str, str]:
        """The group labels a recording carries: the given group's, else those of the input series
        (GROUP_A, or the value the SLI's selector fixes)."""
        if group is not None:
            return group
        return {k: v for s in self.plan for k, v in s.labels.items() if k in self.group}

    def groups_apart(self) -> dict[str, Any] | None:
        """A grouped SLO: one group in a total outage pages for that group only, the other keeps its budget."""
        if not self.slo.group_by or any(s.labels.get(n) != GROUP_A for s in self.plan for n in self.slo.group_by):
            return None  # the SLI's selector fixes a group label: only one group can exist
        pages = [t for t in self.slo.tiers() if t.severity is Severity.PAGE] or self.slo.tiers()
        if not pages:
            return None
        healthy = {name: GROUP_B for name in self.slo.group_by}
        other = [replace(s, labels={**s.labels, **healthy}) for s in self.plan]
        minutes = CLEAN_HISTORY_MINUTES
        failing = series_values(self.plan, [Segment(minutes, 1.0)])
        clean = series_values(other, [Segment(minutes, 0.0)])
        tier = min(pages, key=lambda t: t.short_window)
        page = {**self._tier_labels(tier), "fireline_severity": tier.severity.value}
        return {
            "name": f"{self.service.name}/{self.slo.name}: {self.label}one group failing pages for that group, "
                    "the other keeps its budget",
            "interval": f"{EVALUATION_INTERVAL_MINUTES}m",
            "input_series": failing + clean,
            "promql_expr_test": [
                _count_is(_count_alerts({**page, **self.group}), minutes, 1),
                _count_is(_count_alerts({**page, **healthy}), minutes, 0),
                {"expr": f"round({self.rules.budget_remaining_query(healthy)}, 0.001)", "eval_time": f"{minutes}m",
                 "exp_samples": [{"labels": self._record_labels(healthy), "value": 1}]},
            ],
        }

    def good_absent(self) -> dict[str, Any] | None:
        """Only failing requests, and the good-events series never appears: the outage still pages."""
        # Only where fireline itself derives errors from good events (events.good, latency); a user's
        # own `total - good` errors query is theirs to guard.
        if self.slo.sli.latency is None and (self.slo.sli.events is None or self.slo.sli.events.good is None):
            return None
        rest = [s for s in self.plan if not (s.counts_good and not s.counts_bad)]
        pages = [t for t in self.slo.tiers() if t.severity is Severity.PAGE] or self.slo.tiers()
        if len(rest) == len(self.plan) or not pages:
            return None
        minutes = OUTAGE_MINUTES + CLEAN_HISTORY_MINUTES
        fastest = {**self._tier_labels(pages[0]), "fireline_severity": pages[0].severity.value}
        return self._test(
            "every request fails and the good-events series does not exist: the outage pages",
            [Segment(minutes, 1.0)],
            [_count_is(_count_alerts(fastest), minutes, 1),
             {"expr": f"round({self.rules.error_ratio_query(BASE_WINDOW)}, 0.001)", "eval_time": f"{minutes}m",
              "exp_samples": [{"labels": self._record_labels(), "value": 1}]}],
            series=rest,
        )

    def total_absent(self) -> dict[str, Any] | None:
        """Errors counted but no total series: the SLI has no data (never 0% errors) and nothing fires."""
        total_metric = {s.metric for s in self.plan if s.counts_bad and s.counts_good}
        rest = [s for s in self.plan if s.metric not in total_metric]
        if not rest or not total_metric or len(rest) == len(self.plan):
            return None
        minutes = OUTAGE_MINUTES
        return self._test(
            "error events but no total series: the SLI has no data and nothing fires",
            [Segment(minutes, 1.0)],
            [{"expr": f"absent({self.rules.error_ratio_query(BASE_WINDOW)})", "eval_time": f"{minutes}m",
              "exp_samples": [{"labels": self.rules.selector, "value": 1}]},
             *([_count_is(_count_alerts(self.identity), minutes, 0)] if self.alert else [])],
            series=rest,
        )

    def no_data(self) -> dict[str, Any] | None:
        """The SLI's series stop for 20 minutes past alerting.no_data_for: the no-data ticket fires."""
        alerts = self.rules.alerts_of(AlertKind.NO_DATA)
        if not alerts:
            return None
        wait = _minutes(alerts[0].for_)
        gap = wait + 20
        start = CLEAN_HISTORY_MINUTES
        # The 5m rate needs two samples inside 5 minutes: it is gone 5 minutes after the last scrape.
        checks = [
            _count_is(_count_alerts({"alertname": alerts[0].name, "service": self.service.name,
                                     "slo": self.slo.name}), start, 0),
            _count_is(_count_alerts({"alertname": alerts[0].name, "service": self.service.name,
                                     "slo": self.slo.name}), start + gap, 1),
        ]
        return self._test(
            f"the SLI's series stop for {gap}m: the no-data alert fires after {wait}m",
            [Segment(start, 0.0), Segment(gap, 0.0, total_per_minute=-1.0)],
            checks,
        )

    def alerting_off(self) -> dict[str, Any] | None:
        """No alerts for this SLO: a total outage fires nothing, and is recorded."""
        if self.rules.alerts:
            return None
        # Long enough for every page tier to fire (and, for budgets of up to 6h, to spend the whole
        # budget, so a budget alert would fire too), and no longer: promtool evaluates every rule of
        # the file at every minute, and the SLO-window ratios cost more with every minute of history.
        budget_minutes = math.ceil(float(self.slo.error_budget) * self.slo.window.seconds / 60) + 10
        minutes = min(budget_minutes, ALERTING_OFF_OUTAGE_MINUTES)
        what = "spends the budget" if minutes == budget_minutes else f"lasts {minutes // 60}h"
        end = CLEAN_HISTORY_MINUTES + minutes
        silent = _count_alerts({"service": self.service.name, "slo": self.slo.name})
        return self._test(
            f"alerting is off: an outage that {what} fires no alert, and the SLI still records it",
            [Segment(CLEAN_HISTORY_MINUTES, 0.0), Segment(minutes, 1.0)],
            [_count_is(silent, CLEAN_HISTORY_MINUTES + 10, 0), _count_is(silent, end, 0),
             {"expr": f"round({self.rules.error_ratio_query(BASE_WINDOW)}, 0.001)", "eval_time": f"{end}m",
              "exp_samples": [{"labels": self._record_labels(), "value": 1}]}],
        )

    def tests(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any] | None] = [self.outage(), self.alerting_off()]
        for tier in self.slo.tiers():
            out.append(self.threshold(tier, BELOW))
            out.append(self.threshold(tier, ABOVE))
        out.extend((self.budget(), self.good_absent(), self.total_absent(), self.no_data(), self.groups_apart()))
        return [t for t in out if t is not None]


# The stand-in SLI: two counters per SLO, which the synthesis always knows how to drive.
STANDIN_ERRORS = "fireline_standin_errors_total"
STANDIN_TOTAL = "fireline_standin_requests_total"


def standin_slo(service: ServiceSpec, slo: SLOSpec) -> SLOSpec:
    """The same SLO with its SLI replaced by stand-in counters: identical windows, tiers and alerts."""
    labels = _selector({"service": service.name, "slo": slo.name})
    # A grouped SLO's stand-in keeps its groups: the stand-in counters carry the group labels too.
    by = f" by ({', '.join(slo.group_by)}) " if slo.group_by else ""
    sli = SLI(events=EventsSLI(errors=f"sum{by}(rate({STANDIN_ERRORS}{labels}[{{{{.window}}}}]))",
                               total=f"sum{by}(rate({STANDIN_TOTAL}{labels}[{{{{.window}}}}]))"))
    return slo.model_copy(update={"sli": sli})


@dataclass(frozen=True)
class GeneratedTests:
    text: str
    notes: list[str]  # what the user should know: SLOs tested through a stand-in SLI, and why
    standin_rules: str | None = None  # rules of the stand-in SLOs, when there are any
    standin_tests: str | None = None


def _document(rules_file: str, tests: list[dict[str, Any]], header: str, service: ServiceSpec,
              options: GenerateOptions | None) -> str:
    document: dict[str, Any] = {
        "rule_files": [rules_file],
        "evaluation_interval": f"{EVALUATION_INTERVAL_MINUTES}m",
        # promtool evaluates every group at every step; in this order each reads fresh what the ones
        # before it recorded (otherwise the order is random, and a read one step old).
        "group_eval_order": [g.name for plan in plans(service, options) for g in plan.groups],
        "tests": tests,
    }
    return dump_yaml(document, header=header)


def render_tests_file(service: ServiceSpec, rules_file: str, source_name: str,
                      standin_rules_file: str | None = None, options: GenerateOptions | None = None) -> GeneratedTests:
    """Tests of the real rules, plus tests of stand-in rules for SLOs whose SLI shape is not synthesisable.

    standin_rules_file is the stand-in rule file's path as the stand-in test file names it
    (beside it by default).
    """
    groups: list[dict[str, Any]] = []
    standins: list[SLOSpec] = []
    standin_tests: list[dict[str, Any]] = []
    notes = []
    for slo in service.spec.slos:
        plan = plan_series(slo)
        if plan is not None:
            groups.extend(_SLOTests(service, slo, plan, options=options).tests())
            continue
        stand_in = standin_slo(service, slo)
        standins.append(stand_in)
        stand_plan = plan_series(stand_in)
        assert stand_plan is not None, "the stand-in SLI is always synthesisable"
        standin_tests.extend(_SLOTests(service, stand_in, stand_plan, label="[stand-in SLI] ",
                                       options=options).tests())
        notes.append(f"{service.name}/{slo.name}: the SLI query's shape cannot be driven by synthetic series; "
                     f"its alerts and budget are tested through a stand-in SLI "
                     f"(prometheus/tests/{service.name}.standin.test.yml), its query by promtool check only")
    slos = ", ".join(group_name(service.name, s.name) for s in service.spec.slos)
    header = (f"promtool unit tests generated by fireline from {source_name} for {slos}.\n"
              "Run: promtool test rules <this file>")
    text = _document(rules_file, groups, header, service, options)
    if not standins:
        return GeneratedTests(text, notes)
    stand_service = service.model_copy(update={"spec": service.spec.model_copy(update={"slos": standins})})
    rules_name = standin_rules_file or f"{service.name}.standin.rules.yml"
    standin_header = (f"promtool unit tests of fireline's rules for {source_name}, driven through a stand-in SLI "
                      "(two counters) for the SLOs whose SLI query shape synthetic series cannot drive.\n"
                      "Run: promtool test rules <this file>")
    return GeneratedTests(
        text, notes,
        standin_rules=render_rules_file(stand_service, f"{source_name} (stand-in SLI for tests)", options),
        standin_tests=_document(rules_name, standin_tests, standin_header, stand_service, options),
    )
