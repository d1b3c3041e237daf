"""Burn-rate alerts: slo/window-pair, slo/burn-exceeds-budget, slo/budget-at-detection, slo/for-delay.

All four read the alert's tiers the same way (fireline.lint.promql.burn_groups): each `or`
alternative is a tier, its `and`-joined conditions are its windows. The long window is the
longest of a tier; its burn rate times its length, over the SLO period, is the share of the
whole budget spent before the tier can fire.
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import BurnCondition, burn_groups
from fireline.slo.durations import Duration, DurationError

# The Workbook pairs a long window with a short one of 1/12; past 1/4 the alert keeps firing long
# after recovery and a fast burn waits for the long window to fill.
MAX_SHORT_TO_LONG = 0.25
# A page should fire before 5% of the period's budget is gone (the Workbook's 6h tier).
MAX_PAGE_BUDGET_FRACTION = 0.05
_TOLERANCE = 1e-9


def num(value: float) -> str:
    return f"{value:.4g}"


def pct(value: float) -> str:
    return f"{value * 100:.3g}%"


def long_condition(group: list[BurnCondition]) -> BurnCondition:
    return max(group, key=lambda c: c.window)


class WindowPair(RuleCheck):
    id = "slo/window-pair"
    severity = Severity.WARNING
    summary = "A burn-rate tier pairs windows wrongly: short window over 1/4 of the long one, or mixed tiers."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert:
            return
        for group in burn_groups(rule.ast):
            if len(group) < 2:
                continue
            long = long_condition(group)
            short = min(group, key=lambda c: c.window)
            burns = {round(c.burn_rate, 6) for c in group}
            if len(burns) > 1:
                yield self.finding(
                    file.name,
                    rule.line_of("expr"),
                    f"{rule.alert} pairs windows of different tiers ("
                    + ", ".join(f"{c.window} at {num(c.burn_rate)}x" for c in group)
                    + "): a tier needs both windows at the same burn rate, so here the longer window "
                    "decides alone and detection slows from minutes to hours. Give each tier its long "
                    "window and a short one of 1/12 (1h with 5m, 6h with 30m) at the same threshold.",
                )
            elif short.window / long.window > MAX_SHORT_TO_LONG + _TOLERANCE:
                yield self.finding(
                    file.name,
                    rule.line_of("expr"),
                    f"{rule.alert} pairs a {short.window} short window with a {long.window} long one "
                    f"({short.window / long.window:.2g} of it): the short window exists to make the alert "
                    f"stop soon after recovery and should be about 1/12 of the long one "
                    f"(use {Duration(long.window.milliseconds // 12)} with {long.window}).",
                )


class BurnExceedsBudget(RuleCheck):
    id = "slo/burn-exceeds-budget"
    severity = Severity.ERROR
    summary = "Burn-rate threshold x window exceeds the SLO period: the alert fires only after the budget is gone."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert:
            return
        period = ctx.slo_period
        reported: set[tuple[Duration, float]] = set()
        for group in burn_groups(rule.ast):
            long = long_condition(group)
            share = long.burn_rate * (long.window / period)
            if share <= 1 + _TOLERANCE or (long.window, long.burn_rate) in reported:
                continue
            reported.add((long.window, long.burn_rate))
            yield self.finding(
                file.name,
                rule.line_of("expr"),
                f"{rule.alert} fires at {num(long.burn_rate)}x over {long.window}: that is {pct(share)} of "
                f"the {period} error budget ({num(long.burn_rate)} x {long.window} / {period}), so it can "
                f"only fire after the budget is gone. Lower the threshold below {num(period / long.window)} "
                f"(for a page, budget share x {period} / {long.window}) or use a shorter window.",
            )


class BudgetAtDetection(RuleCheck):
    id = "slo/budget-at-detection"
    severity = Severity.WARNING
    summary = "A paging tier lets more than 5% of the budget burn before it can fire."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert or not rule.is_paging:
            return
        period = ctx.slo_period
        for group in burn_groups(rule.ast):
            long = long_condition(group)
            share = long.burn_rate * (long.window / period)
            if MAX_PAGE_BUDGET_FRACTION + _TOLERANCE < share <= 1 + _TOLERANCE:
                suggested = MAX_PAGE_BUDGET_FRACTION * (period / long.window)
                yield self.finding(
                    file.name,
                    rule.line_of("expr"),
                    f"{rule.alert} pages only after {pct(share)} of the {period} budget has burned "
                    f"({num(long.burn_rate)} x {long.window} / {period}); a page should fire within "
                    f"{pct(MAX_PAGE_BUDGET_FRACTION)}. Use a shorter long window (14.4x with 1h, 6x with "
                    f"6h) or a threshold of at most {num(suggested)} for {long.window}.",
                )


def detection_seconds_total_outage(group: list[BurnCondition], fallback_budget: float | None) -> float | None:
    """Seconds until every window of a tier crosses its threshold when all requests fail."""
    budget = next((c.error_budget for c in group if c.error_budget is not None), fallback_budget)
    if budget is None:
        return None
    # With error ratio 1 a window's ratio reaches burn x budget after that fraction of the window.
    return max(c.window.seconds * min(c.burn_rate * budget, 1.0) for c in group)


class ForDelay(RuleCheck):
    id = "slo/for-delay"
    severity = Severity.WARNING
    summary = "A `for:` on a burn-rate page delays it by more than the alert's own detection time."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert or not rule.is_paging or not rule.for_:
            return
        try:
            delay = Duration.parse(rule.for_)
        except DurationError:
            return  # rules/promtool reports the malformed duration
        groups = burn_groups(rule.ast)
        if not groups or delay.milliseconds == 0:
            return
        budgets = [c.error_budget for g in groups for c in g if c.error_budget is not None]
        times = [detection_seconds_total_outage(g, budgets[0] if budgets else None) for g in groups]
        known = [t for t in times if t is not None]
        if not known:
            return
        detection = min(known)
        if delay.seconds > detection:
            yield self.finding(
                file.name,
                rule.line_of("for"),
                f"{rule.alert} has for: {rule.for_}, but its burn-rate windows already detect a total "
                f"outage in {Duration.of_seconds(round(detection))}: the page arrives "
                f"{Duration.of_seconds(delay.seconds)} late. The short window already filters blips; remove "
                "for: (or keep it under the detection time).",
            )
