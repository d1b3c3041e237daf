"""rules/for-under-interval: `for:` shorter than the group's evaluation interval.

Prometheus checks an alert's `for` only when the group evaluates, so a `for` shorter than the
interval waits a whole interval anyway: `for: 30s` on a 1m group means 1m. The interval is the
group's `interval:`, else the project's evaluation_interval (Prometheus' default, 1m).
"""

from __future__ import annotations

from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.slo.durations import Duration, DurationError


def _duration(text: str | None) -> Duration | None:
    try:
        return Duration.parse(text.strip()) if text else None
    except DurationError:
        return None  # rules/promtool reports a malformed duration


class ForUnderInterval(RuleCheck):
    id = "rules/for-under-interval"
    severity = Severity.WARNING
    summary = "An alert's `for:` is shorter than its group's evaluation interval, so it means the interval."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        delay = _duration(rule.for_) if rule.alert else None
        if delay is None or delay.milliseconds == 0:
            return
        own = _duration(file.group_intervals.get(rule.group))
        interval = own or (ctx.config.evaluation_interval if ctx.config else Duration.parse("1m"))
        if delay < interval:
            source = f"group {rule.group!r} interval" if own else "evaluation_interval"
            yield self.finding(
                file.name,
                rule.line_of("for"),
                f"{rule.alert} has for: {rule.for_}, shorter than its {source} of {interval}: Prometheus "
                f"checks it only at evaluations, so it waits {interval} anyway. Write for: {interval} (or "
                "more), or evaluate the group more often.",
            )
