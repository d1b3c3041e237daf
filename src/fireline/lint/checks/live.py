"""Live checks, `fireline lint --prometheus URL`: the linted rules against a running Prometheus.

live/not-loaded     a linted rule is not among the server's rules, or is loaded with another expression
live/eval-error     the server's last evaluation of the rule failed
live/eval-time      a group takes longer to evaluate than its interval, so evaluations are skipped
live/missing-series a raw metric the rules read does not exist on the server
live/retention      the server keeps less history than the SLO period or a rule's range needs

Four requests per run (rules, runtime info, metric names, build info), whatever the number of
rules. Rules are matched by group name, rule name and expression (compared as parsed PromQL,
since the server prints expressions in its own format).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from fireline.lint.files import Rule, RuleFile
from fireline.lint.model import Check, Finding, LintContext, Severity
from fireline.lint.promql import burn_groups, function_name, parse, selectors, walk
from fireline.slo.durations import Duration, DurationError

_RETENTION_RE = re.compile(r"(?:[0-9]+(?:ms|[smhdwy]))+")
ABSENCE_FUNCTIONS = {"absent", "absent_over_time"}
ONLY_WHILE_ACTIVE = {"ALERTS", "ALERTS_FOR_STATE"}


class LiveCheck(Check):
    """A check answered by a running Prometheus (see live_findings)."""


class NotLoaded(LiveCheck):
    id = "live/not-loaded"
    severity = Severity.ERROR
    summary = "A linted rule is not loaded in the Prometheus given with --prometheus, or differs from it."


class EvaluationError(LiveCheck):
    id = "live/eval-error"
    severity = Severity.ERROR
    summary = "Prometheus' last evaluation of the rule failed."


class EvaluationTime(LiveCheck):
    id = "live/eval-time"
    severity = Severity.WARNING
    summary = "A rule group takes longer to evaluate than its interval, so Prometheus skips evaluations."


class MissingSeries(LiveCheck):
    id = "live/missing-series"
    severity = Severity.WARNING
    summary = "A metric the rules read does not exist in Prometheus."


class Retention(LiveCheck):
    id = "live/retention"
    severity = Severity.WARNING
    summary = "Prometheus keeps less history than the SLO period, or than a rule's range selector."


NOT_LOADED, EVAL_ERROR, EVAL_TIME, MISSING_SERIES, RETENTION = (
    NotLoaded(), EvaluationError(), EvaluationTime(), MissingSeries(), Retention()
)
LIVE_CHECKS: tuple[LiveCheck, ...] = (NOT_LOADED, EVAL_ERROR, EVAL_TIME, MISSING_SERIES, RETENTION)


@dataclass
class ServerState:
    """What the live checks read from Prometheus, as its HTTP API returns it."""

    url: str
    groups: list[dict[str, Any]] = field(default_factory=list)  # /api/v1/rules data.groups
    retention: str | None = None  # /api/v1/status/runtimeinfo storageRetention, e.g. "15d"
    metric_names: set[str] = field(default_factory=set)  # /api/v1/label/__name__/values
    version: str | None = None


def fetch(url: str) -> ServerState:
    """The rules are required; the rest is optional (Thanos and Mimir rulers lack some endpoints)."""
    from fireline.clients.prometheus import PrometheusClient, PrometheusQueryError  # httpx only when asked

    with PrometheusClient(url) as client:
        rules = client.api("/api/v1/rules", {})

        def optional(path: str) -> Any:
            try:
                return client.api(path, {})
            except PrometheusQueryError:
                return None

        runtime = optional("/api/v1/status/runtimeinfo")
        names = optional("/api/v1/label/__name__/values")
        build = optional("/api/v1/status/buildinfo")
    return ServerState(
        url=client.url,
        groups=list(rules.get("groups", [])) if isinstance(rules, dict) else [],
        retention=runtime.get("storageRetention") if isinstance(runtime, dict) else None,
        metric_names=set(names) if isinstance(names, list) else set(),
        version=build.get("version") if isinstance(build, dict) else None,
    )


def canonical(expr: str) -> str:
    ast = parse(expr)
    return str(ast) if ast is not None else " ".join(expr.split())


def retention_of(text: str | None) -> Duration | None:
    """`15d`, `15d or 512MiB` -> 15d; None when the server keeps data by size only or says nothing."""
    found = _RETENTION_RE.search(text or "")
    if found is None:
        return None
    try:
        return Duration.parse(found.group())
    except DurationError:
        return None


def _longest_range(rule: Rule) -> Duration | None:
    ranges = [s.range for s in rule.selectors if s.range is not None]
    return max(ranges) if ranges else None


def _raw_metrics(rule: Rule) -> list[str]:
    """Metric names read directly (not through absent(), which expects them missing)."""
    if rule.ast is None:
        return []
    absent_inside = {id(n) for call in walk(rule.ast) if function_name(call) in ABSENCE_FUNCTIONS
                     for n in walk(call)}
    out: list[str] = []
    for node in walk(rule.ast):
        if id(node) in absent_inside or type(node).__name__ != "VectorSelector":
            continue
        out.extend(s.name for s in selectors(node) if s.name)
    return out


class _Live:
    def __init__(self, state: ServerState, ctx: LintContext, off: Collection[str]) -> None:
        self.state, self.ctx, self.off = state, ctx, off
        self.loaded: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.group_info: dict[str, dict[str, Any]] = {}
        for group in state.groups:
            self.group_info.setdefault(str(group.get("name", "")), group)
            for loaded in group.get("rules", []):
                key = (str(group.get("name", "")), str(loaded.get("name", "")))
                self.loaded.setdefault(key, []).append(loaded)
        self.where = f"Prometheus at {state.url}" + (f" ({state.version})" if state.version else "")

    def on(self, check: Check) -> bool:
        return check.id not in self.off

    def findings(self) -> Iterator[tuple[Finding, RuleFile]]:
        recorded = self.ctx.recorded()
        retention = retention_of(self.state.retention)
        for file in self.ctx.rule_files:
            for finding in self._file(file, recorded, retention):
                yield finding, file

    def _file(self, file: RuleFile, recorded: dict[str, list[Rule]], retention: Duration | None) -> Iterator[Finding]:
        slo_reported = False
        missing_seen: set[str] = set()
        for rule in file.rules:
            yield from self._loaded(file, rule)
            if self.on(MISSING_SERIES) and self.state.metric_names:
                for name in _raw_metrics(rule):
                    if (name in self.state.metric_names or name in recorded or name in ONLY_WHILE_ACTIVE
                            or name in missing_seen):
                        continue
                    missing_seen.add(name)
                    yield MISSING_SERIES.finding(
                        file.name, rule.line_of("expr"),
                        f"{rule.name} reads {name}, which {self.where} has no series of: the rule computes "
                        "nothing. Check the metric name and that its target is scraped.")
            if retention is None or not self.on(RETENTION):
                continue
            longest = _longest_range(rule)
            if longest is not None and longest > retention:
                yield RETENTION.finding(
                    file.name, rule.line_of("expr"),
                    f"{rule.name} reads {longest} of history but {self.where} keeps {retention}: the result "
                    "covers only what is kept. Raise --storage.tsdb.retention.time or shorten the range.")
            if not slo_reported and retention < self.ctx.slo_period and rule.alert and burn_groups(rule.ast):
                slo_reported = True
                yield RETENTION.finding(
                    file.name, rule.line,
                    f"{self.where} keeps {retention} of history, less than the {self.ctx.slo_period} SLO "
                    f"period: budget and {self.ctx.slo_period} ratios are computed from partial data. "
                    f"Keep at least {self.ctx.slo_period} (--storage.tsdb.retention.time).")
        if self.on(EVAL_TIME):
            yield from self._evaluation_time(file)

    def _loaded(self, file: RuleFile, rule: Rule) -> Iterator[Finding]:
        candidates = self.loaded.get((rule.group, rule.name), [])
        kind = "alerting" if rule.alert else "recording"
        candidates = [c for c in candidates if c.get("type", kind) == kind]
        if not candidates:
            if self.on(NOT_LOADED):
                yield NOT_LOADED.finding(
                    file.name, rule.line,
                    f"{rule.name} (group {rule.group!r}) is not loaded in {self.where}: what is linted is "
                    "not what runs. Deploy this file, or lint the files the server loads.")
            return
        wanted = canonical(rule.expr)
        same = [c for c in candidates if canonical(str(c.get("query", ""))) == wanted]
        if not same:
            if self.on(NOT_LOADED):
                yield NOT_LOADED.finding(
                    file.name, rule.line_of("expr"),
                    f"{rule.name} runs in {self.where} with another expression ({candidates[0].get('query')}): "
                    "the deployed rules are not these. Deploy this file or lint the deployed one.")
            return
        loaded = same[0]
        error = str(loaded.get("lastError") or "")
        if self.on(EVAL_ERROR) and (error or loaded.get("health") == "err"):
            yield EVAL_ERROR.finding(
                file.name, rule.line_of("expr"),
                f"{rule.name}: the last evaluation in {self.where} failed: {error or 'health err'}. Until it "
                "evaluates, " + ("the alert cannot fire." if rule.alert else "the series is not recorded."))

    def _evaluation_time(self, file: RuleFile) -> Iterator[Finding]:
        for group, line in file.groups.items():
            info = self.group_info.get(group)
            if info is None:
                continue
            seconds, interval = info.get("evaluationTime"), info.get("interval")
            if not isinstance(seconds, int | float) or not isinstance(interval, int | float) or interval <= 0:
                continue
            if seconds > interval:
                yield EVAL_TIME.finding(
                    file.name, line,
                    f"group {group!r} took {seconds:.3g}s to evaluate in {self.where}, longer than its "
                    f"{interval:g}s interval: Prometheus skips evaluations, so alerts fire late. Split the "
                    "group, raise its interval, or make its expressions cheaper (recording rules).")


def live_findings(url: str, ctx: LintContext, off: Collection[str]) -> list[tuple[Finding, RuleFile]]:
    """Findings of the live checks; PrometheusError when the server cannot be asked."""
    return list(_Live(fetch(url), ctx, off).findings())
