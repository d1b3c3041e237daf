"""rules/cause-based-page: a paging alert that watches only resource metrics, not what users feel."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Finding, LintContext, RuleCheck, Severity
from fireline.lint.promql import parse

RESOURCE = re.compile(
    r"cpu|disk|filesystem|node_load|(^|_)load(1|5|15|avg)?($|_)|swap|inode"
    r"|file_?descriptor|(^|_)fds?(_|$)|oom|temperature|thermal|network_(receive|transmit)",
    re.IGNORECASE,
)
# "memory" is a resource only when the metric measures it (bytes, usage, a ratio). Otherwise it says
# where something is counted: cortex_ingester_memory_users is a number of tenants held in memory.
MEMORY = re.compile(r"(^|_)mem(ory)?(_|$)", re.IGNORECASE)
MEMORY_MEASURE = re.compile(
    r"bytes|usage|utili[sz]ation|ratio|percent|rss|working_set|available|free|limit|pressure|swap|Mem[A-Z]",
)


def is_resource(name: str) -> bool:
    if RESOURCE.search(name):
        return True
    return MEMORY.search(name) is not None and MEMORY_MEASURE.search(name) is not None
SYMPTOM = re.compile(
    r"request|(^|_)http|grpc|(^|_)rpc|error|fail|latency|duration|(^|:)slo:|sli|success|response"
    r"|availability|apdex|5xx|burn_rate",
    re.IGNORECASE,
)


def watched_metrics(rule: Rule, recorded: dict[str, list[Rule]], depth: int = 0) -> set[str]:
    """Metric names the expression reads, looking through recording rules to the raw metrics too."""
    names = {s.name for s in rule.selectors if s.name}
    if depth > 5:
        return names
    for name in list(names):
        for recording in recorded.get(name, []):
            names |= watched_metrics(recording, recorded, depth + 1)
    return names


def paging_label_line(rule: Rule) -> int:
    """The line of the label that makes the alert a page: where the fix goes."""
    if rule.labels.get("severity", "").strip().lower() in {"critical", "page", "pager"}:
        return rule.line_of("labels.severity")
    if rule.labels.get("sloth_severity", "").strip().lower() == "page":
        return rule.line_of("labels.sloth_severity")
    return rule.line_of("labels.fireline_severity")


class CauseBasedPage(RuleCheck):
    id = "rules/cause-based-page"
    severity = Severity.WARNING
    summary = "A paging alert watches only resource metrics (CPU, memory, disk, load), no user-facing signal."

    def check_rule(self, rule: Rule, file: RuleFile, ctx: LintContext) -> Iterator[Finding]:
        if not rule.alert or not rule.is_paging or parse(rule.expr) is None:
            return
        names = watched_metrics(rule, ctx.recorded())
        resources = sorted(n for n in names if is_resource(n))
        if resources and not any(SYMPTOM.search(n) for n in names):
            yield self.finding(
                file.name,
                paging_label_line(rule),
                f"{rule.alert} pages on causes ({', '.join(resources)}) with no request, error or latency "
                "signal: it wakes people when users may be fine and misses outages with healthy machines. "
                "Make it a warning (severity: warning) and page on SLO burn rate instead.",
            )
