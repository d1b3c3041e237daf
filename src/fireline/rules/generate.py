"""Prometheus recording and multi-window multi-burn-rate alert rules for a service spec.

Generation is a short ordered chain per SLO (after Sloth): SLI rate recordings -> window ratios ->
metadata and budget -> alerts. The output is plain dicts in Prometheus' rule-file shape, so the
same data becomes a rule file, a PrometheusRule manifest, or input to lint and the simulator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fireline.rules.sli import BASE_WINDOW, RAW_WINDOW_MAX, SLIQueries
from fireline.slo.durations import Duration
from fireline.slo.tiers import Severity, Tier, decimal_text
from fireline.spec.models import ServiceSpec, SLOSpec
from fireline.yamlout import dump_yaml

ERRORS_5M = "slo:sli_errors:rate5m"
TOTAL_5M = "slo:sli_total:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
WINDOW_SECONDS = "slo:window:seconds"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
DEFAULT_RUNBOOK_BASE = "runbooks"


def ratio_series(window: Duration) -> str:
    return f"slo:sli_error:ratio_rate{window}"


# The SLO-window rules read days of recorded samples: evaluated every 30s they were most of the
# cost of a rule set (bench/RESULTS.md). Budget remaining moves slowly, so they get their own group.
BUDGET_GROUP_INTERVAL = Duration.parse("2m30s")


def group_name(service: str, slo: str) -> str:
    return f"fireline:{service}:{slo}"


def budget_group_name(service: str, slo: str) -> str:
    return f"fireline:{service}:{slo}:budget"


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def burn_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return slo.alerting.name or f"{_camel(service.name)}{_camel(slo.name)}ErrorBudgetBurn"


def budget_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return slo.alerting.budget.name or f"{_camel(service.name)}{_camel(slo.name)}ErrorBudgetLow"


def runbook_file(service: str, slo: str, kind: str) -> str:
    """File name of a generated runbook; kind is page, ticket, budget-warning or budget-critical."""
    return f"{service}-{slo}-{kind}.md"


@dataclass(frozen=True)
class GenerateOptions:
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE


def windows(slo: SLOSpec) -> list[Duration]:
    """Every window a ratio is recorded for: the 5m base, the tiers' windows, the SLO window."""
    found = {BASE_WINDOW, slo.window}
    for tier in slo.tiers():
        found.update((tier.long_window, tier.short_window))
    return sorted(found)


class _SLORules:
    def __init__(self, service: ServiceSpec, slo: SLOSpec, options: GenerateOptions) -> None:
        self.service = service
        self.slo = slo
        self.options = options
        self.queries = SLIQueries(slo)
        self.budget = slo.error_budget
        self.selector = f'{{service="{service.name}",slo="{slo.name}"}}'
        # Labels on every rule: identity first, then the user's, sorted for stable output.
        self.labels = {
            "service": service.name,
            "slo": slo.name,
            **dict(sorted({**service.metadata.labels, **slo.labels}.items())),
        }

    def record(self, name: str, expr: str) -> dict[str, Any]:
        return {"record": name, "expr": expr, "labels": dict(self.labels)}

    def tier_windows(self) -> list[Duration]:
        """Windows the burn-rate alerts read; the SLO window only when a tier uses it too."""
        used = {BASE_WINDOW}
        for tier in self.slo.tiers():
            used.update((tier.long_window, tier.short_window))
        return sorted(used)

    def window_rule(self, window: Duration) -> dict[str, Any]:
        q = self.queries
        if window <= RAW_WINDOW_MAX:
            expr = q.ratio(window)
        elif q.event_based:
            expr = (f"sum_over_time({ERRORS_5M}{self.selector}[{window}])\n/\n"
                    f"sum_over_time({TOTAL_5M}{self.selector}[{window}])")
        else:
            expr = f"avg_over_time({ratio_series(BASE_WINDOW)}{self.selector}[{window}])"
        return self.record(ratio_series(window), expr)

    def sli_rules(self) -> list[dict[str, Any]]:
        q = self.queries
        rules: list[dict[str, Any]] = []
        if q.event_based:
            rules.append(self.record(ERRORS_5M, f"{q.errors(BASE_WINDOW)}\nor vector(0)"))
            rules.append(self.record(TOTAL_5M, q.total(BASE_WINDOW)))
            rules.append(self.record(ratio_series(BASE_WINDOW),
                                     f"{ERRORS_5M}{self.selector}\n/\n{TOTAL_5M}{self.selector}"))
        else:
            rules.append(self.record(ratio_series(BASE_WINDOW), q.ratio(BASE_WINDOW)))
        rules.extend(self.window_rule(w) for w in self.tier_windows() if w != BASE_WINDOW)
        return rules

    def metadata_rules(self) -> list[dict[str, Any]]:
        budget = decimal_text(self.budget)
        slo_window = [] if self.slo.window in self.tier_windows() else [self.window_rule(self.slo.window)]
        return [
            *slo_window,
            self.record(OBJECTIVE, f"vector({decimal_text(self.slo.objective / 100)})"),
            self.record(ERROR_BUDGET, f"vector({budget})"),
            self.record(WINDOW_SECONDS, f"vector({decimal_text(Decimal(self.slo.window.milliseconds) / 1000)})"),
            self.record(BUDGET_REMAINING, f"1 - {ratio_series(self.slo.window)}{self.selector} / {budget}"),
        ]

    def _runbook(self, kind: str) -> str:
        if self.slo.alerting.runbook:
            return self.slo.alerting.runbook
        base = self.options.runbook_base_url.rstrip("/")
        return f"{base}/{runbook_file(self.service.name, self.slo.name, kind)}"

    def _query(self, promql: str, fmt: str) -> str:
        # Prometheus templates have no arithmetic: the sum is done by PromQL through query.
        return f"{{{{ with query `{promql}` }}}}{{{{ . | first | value | {fmt} }}}}{{{{ else }}}}unknown{{{{ end }}}}"

    def _severity_labels(self, severity: Severity) -> dict[str, str]:
        cfg = self.slo.alerting.page if severity is Severity.PAGE else self.slo.alerting.ticket
        return {
            **self.labels,
            "team": self.service.spec.team,
            **self.slo.alerting.labels,
            **cfg.labels,
            "fireline_severity": severity.value,
        }

    def _annotations(self, severity: Severity, generated: dict[str, str]) -> dict[str, str]:
        cfg = self.slo.alerting.page if severity is Severity.PAGE else self.slo.alerting.ticket
        return {**generated, **self.slo.alerting.annotations, **cfg.annotations}

    def burn_alert(self, tier: Tier) -> dict[str, Any]:
        budget = decimal_text(self.budget)
        threshold = decimal_text(tier.burn_rate_threshold(self.slo.window))
        long_ratio = f"{ratio_series(tier.long_window)}{self.selector}"
        expr = (
            f"{long_ratio} / {budget} > {threshold}\n"
            "and\n"
            f"{ratio_series(tier.short_window)}{self.selector} / {budget} > {threshold}"
        )
        window_seconds = decimal_text(Decimal(self.slo.window.milliseconds) / 1000)
        exhaustion = (f"clamp_min({BUDGET_REMAINING}{self.selector}, 0) * {window_seconds} / "
                      f"({long_ratio} / {budget})")
        objective = decimal_text(self.slo.objective)
        error_ratio_threshold = float(tier.error_ratio_threshold(self.slo.window, self.budget))
        what = self.slo.description.rstrip(".") + ". " if self.slo.description else ""
        generated = {
            "summary": (f"{self.service.name} {self.slo.name}: error budget burning "
                        f"{{{{ $value | printf \"%.1f\" }}}}x faster than allowed "
                        f"({tier.long_window}/{tier.short_window} windows, {tier.severity.value})"),
            "description": (
                f"{what}Burn rate over {tier.long_window}: {{{{ $value | printf \"%.2f\" }}}} "
                f"(threshold {threshold}, also exceeded over {tier.short_window}). "
                f"Error ratio over {tier.long_window}: {self._query(long_ratio, 'humanizePercentage')} "
                f"(objective {objective}%, alert above {error_ratio_threshold:.4g}). "
                f"Error budget left over {self.slo.window}: "
                f"{self._query(BUDGET_REMAINING + self.selector, 'humanizePercentage')}. "
                f"At this rate the remaining budget is gone in {self._query(exhaustion, 'humanizeDuration')}."
            ),
            "runbook_url": self._runbook(tier.severity.value),
        }
        rule: dict[str, Any] = {"alert": burn_alert_name(self.service, self.slo), "expr": expr}
        if tier.for_.milliseconds:
            rule["for"] = str(tier.for_)
        rule["labels"] = {
            **self._severity_labels(tier.severity),
            "long_window": str(tier.long_window),
            "short_window": str(tier.short_window),
        }
        rule["annotations"] = self._annotations(tier.severity, generated)
        return rule

    def budget_alerts(self) -> list[dict[str, Any]]:
        budget_cfg = self.slo.alerting.budget
        if budget_cfg.disable:
            return []
        alerts = []
        for level, severity, kind in (
            (budget_cfg.warning, Severity.TICKET, "budget-warning"),
            (budget_cfg.critical, Severity.PAGE, "budget-critical"),
        ):
            fraction = decimal_text(level / 100)
            generated = {
                "summary": (f"{self.service.name} {self.slo.name}: {{{{ $value | humanizePercentage }}}} "
                            f"of the {self.slo.window} error budget left (below {decimal_text(level)}%)"),
                "description": (
                    f"Error ratio over {self.slo.window}: "
                    f"{self._query(ratio_series(self.slo.window) + self.selector, 'humanizePercentage')} "
                    f"against an objective of {decimal_text(self.slo.objective)}%. "
                    "Follow the error-budget policy for this level."
                ),
                "runbook_url": self._runbook(kind),
            }
            labels = self._severity_labels(severity)
            alerts.append({
                "alert": budget_alert_name(self.service, self.slo),
                "expr": f"{BUDGET_REMAINING}{self.selector} < {fraction}",
                "labels": labels,
                "annotations": self._annotations(severity, generated),
            })
        return alerts

    def groups(self) -> list[dict[str, Any]]:
        # Recording rules come first in each group, so the alerts after them read fresh values.
        burn = self.sli_rules() + [self.burn_alert(tier) for tier in self.slo.tiers()]
        budget = self.metadata_rules() + self.budget_alerts()
        return [
            {"name": group_name(self.service.name, self.slo.name), "rules": burn},
            {"name": budget_group_name(self.service.name, self.slo.name),
             "interval": str(BUDGET_GROUP_INTERVAL), "rules": budget},
        ]


def rule_groups(service: ServiceSpec, options: GenerateOptions | None = None) -> list[dict[str, Any]]:
    """Two groups per SLO: the burn-rate group at the global evaluation interval, and the budget group."""
    opts = options or GenerateOptions()
    return [group for slo in service.spec.slos for group in _SLORules(service, slo, opts).groups()]


def _header(source_name: str) -> str:
    return (f"Generated by fireline from {source_name}. Do not edit: change the spec and run "
            "`fireline generate` again.")


def render_rules_file(service: ServiceSpec, source_name: str, options: GenerateOptions | None = None) -> str:
    return dump_yaml({"groups": rule_groups(service, options)}, header=_header(source_name))


def render_prometheus_rule(service: ServiceSpec, source_name: str, options: GenerateOptions | None = None) -> str:
    """The same groups as a prometheus-operator PrometheusRule manifest."""
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"fireline-{service.name}".lower(),
            "labels": {
                "app.kubernetes.io/managed-by": "fireline",
                "fireline/service": service.name,
                **service.metadata.labels,
            },
        },
        "spec": {"groups": rule_groups(service, options)},
    }
    return dump_yaml(manifest, header=_header(source_name))
