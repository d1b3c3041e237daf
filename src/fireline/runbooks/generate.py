"""Runbooks per alert and the error-budget policy document.

Every runbook has the six sections BRIEF.md prescribes (and `fireline lint` checks:
runbooks/missing-section), filled with what the spec knows: the SLI queries, the burn-rate
series and thresholds of each tier (from fireline.slo.tiers), the dashboard, the operations
snippets verbatim, the escalation path and the receivers the team's alerts reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from fireline.rules.plan import RulePlan, budget_alert_name, budget_remaining_query, burn_alert_name, runbook_file
from fireline.rules.sli import BASE_WINDOW, SLIQueries
from fireline.slo.durations import human_seconds
from fireline.slo.tiers import (
    Severity,
    Tier,
    budget_consumed_at_detection,
    decimal_text,
    detection_seconds,
    time_to_exhaustion_seconds,
)
from fireline.spec.config import Config
from fireline.spec.models import CauseWarning, ServiceSpec, SLOSpec, render_window

# The headings lint requires, in order; templates must produce exactly these.
REQUIRED_SECTIONS = (
    "Immediate triage",
    "Error investigation",
    "Mitigation",
    "Verification",
    "Communication",
    "Post-incident",
)
CRITICAL_RESPONSE = "15 minutes"
POLICY_DOC = "docs/error-budget-policy.md"
# From OUT/runbooks/ to OUT/docs/.
POLICY_LINK = "../" + POLICY_DOC


@dataclass(frozen=True)
class PolicyLevel:
    """One band of budget remaining and what the policy does in it."""

    name: str
    lower_percent: int  # budget remaining at or above this (and below the previous level's bound)
    upper_percent: int
    stance: str
    actions: tuple[str, ...]


# BRIEF.md's five levels; a later `policy:` section in fireline.yaml will be able to replace them.
DEFAULT_POLICY: tuple[PolicyLevel, ...] = (
    PolicyLevel("normal", 75, 100, "Ship features at the usual pace.", ()),
    PolicyLevel("caution", 50, 75, "Review reliability trends weekly and slow down risky launches.",
                ("Review the burn-rate trend in the weekly ops review.",)),
    PolicyLevel("alert", 25, 50, "Freeze non-critical launches; reliability work comes first.",
                ("Freeze non-critical launches.", "Put reliability items at the top of the backlog.")),
    PolicyLevel("critical", 10, 25, "Freeze all launches except critical fixes.", (
        "Post the budget status to the leadership channel.",
        "Pause CI/CD deploys except hotfixes (fireline's deploy gate).",
        "Open a high-priority reliability ticket.",
        "Schedule an SRE review of the service.",
    )),
    PolicyLevel("lockdown", 0, 10, "All hands on reliability; an incident is declared.", (
        "Page the SRE lead and the engineering director.",
        "Declare a P1 incident.",
        "Halt all non-emergency changes.",
    )),
)

CAUSE_TITLES = {
    "high-cpu": "High CPU usage",
    "high-memory": "High memory usage",
    "disk-filling": "Disk filling up",
    "pod-restarts": "Pods restarting",
    "certificate-expiry": "Certificate expiring",
    "dependency-down": "Dependency down",
    "database-connections": "Database connections exhausted",
    "queue-backlog": "Queue backlog growing",
}


@dataclass(frozen=True)
class TierRow:
    """A tier as a runbook reader needs it."""

    long_window: str
    short_window: str
    severity: str
    burn_rate_threshold: str
    error_ratio_threshold: str
    budget_at_detection: str
    exhaustion_at_threshold: str
    outage_detection: str
    outage_budget_spent: str
    for_: str
    long_query: str
    short_query: str


def _percent(value: float | Decimal) -> str:
    text = f"{float(value) * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _tier_row(tier: Tier, slo: SLOSpec, plan: RulePlan) -> TierRow:
    budget = slo.error_budget
    burn = tier.burn_rate_threshold(slo.window)
    outage = detection_seconds(tier, slo.window, budget, 1.0) + tier.for_.seconds
    return TierRow(
        long_window=str(tier.long_window),
        short_window=str(tier.short_window),
        severity=tier.severity.value,
        burn_rate_threshold=f"{float(burn):.4g}",  # 0.9333, not 0.9333333333333333
        error_ratio_threshold=_percent(tier.error_ratio_threshold(slo.window, budget)),
        budget_at_detection=_percent(tier.budget_fraction),
        exhaustion_at_threshold=human_seconds(time_to_exhaustion_seconds(slo.window, float(burn))),
        outage_detection=human_seconds(outage),
        outage_budget_spent=_percent(budget_consumed_at_detection(tier, slo.window, budget, 1.0)),
        for_=str(tier.for_) if tier.for_.milliseconds else "",
        long_query=plan.burn_rate_query(tier.long_window),
        short_query=plan.burn_rate_query(tier.short_window),
    )


def _sli_queries(slo: SLOSpec) -> dict[str, str]:
    queries = SLIQueries(slo)
    if slo.sli.ratio is not None:
        return {"error ratio": render_window(slo.sli.ratio, BASE_WINDOW).strip()}
    errors, total = queries.errors(BASE_WINDOW).text(), queries.total(BASE_WINDOW).text()
    return {"errors per second": errors, "requests per second": total,
            "error ratio": f"({errors})\n/\n({total})"}


def tidy_markdown(text: str) -> str:
    """Collapse runs of blank lines left by template blocks, except inside fenced code (verbatim snippets)."""
    out: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line.rstrip() if not in_fence else line)
    return "\n".join(out).rstrip("\n") + "\n"


def _sli_kind(slo: SLOSpec) -> str:
    if slo.sli.latency is not None:
        return "latency"
    return "events" if slo.sli.events is not None else "ratio"


class RunbookWriter:
    """Renders every runbook of a set of services with one Jinja2 environment."""

    def __init__(self, config: Config | None) -> None:
        self.config = config
        self.env = Environment(
            loader=PackageLoader("fireline.runbooks", "templates"),
            undefined=StrictUndefined,  # a typo in a template fails the tests, not silently blank text
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # Markdown, not HTML
        )

    def _render(self, template: str, **context: Any) -> str:
        return tidy_markdown(self.env.get_template(template).render(**context))

    def _team(self, service: ServiceSpec) -> dict[str, Any]:
        routing = self.config.teams.get(service.spec.team) if self.config else None
        # Severities a team has no receivers for fall back to the default receiver (docs/routing.md).
        default = self.config.default_receiver if self.config else None
        fallback = [default] if default else []
        return {
            "name": service.spec.team,
            "page_receivers": list(routing.page) if routing and routing.page else fallback,
            "ticket_receivers": list(routing.ticket) if routing and routing.ticket else fallback,
            "configured": routing is not None,
        }

    def _service_context(self, service: ServiceSpec) -> dict[str, Any]:
        return {
            "service": service.name,
            "team": self._team(service),
            "dashboard": service.spec.dashboard,
            "operations": service.spec.operations,
            "escalation": service.spec.escalation,
            "policy_link": POLICY_LINK,
            "critical_response": CRITICAL_RESPONSE,
            "sections": REQUIRED_SECTIONS,
        }

    def slo_context(self, service: ServiceSpec, slo: SLOSpec) -> dict[str, Any]:
        plan = RulePlan.build(service, slo)
        budget_text = decimal_text(slo.error_budget)
        return {
            **self._service_context(service),
            "slo": slo,
            "slo_name": slo.name,
            "objective": decimal_text(slo.objective),
            "window": str(slo.window),
            "error_budget": _percent(slo.error_budget),
            "error_budget_ratio": budget_text,
            "budget_minutes": human_seconds(float(slo.error_budget) * slo.window.seconds),
            "plan": plan,
            "selector": plan.selector,
            "sli_kind": _sli_kind(slo),
            "sli_queries": _sli_queries(slo),
            "burn_alert": burn_alert_name(service, slo),
            "budget_alert": budget_alert_name(service, slo),
            "budget_series": plan.budget_remaining_query(),
            "ratio_5m": plan.error_ratio_query(BASE_WINDOW),
            "ratio_window": plan.error_ratio_query(slo.window),
            "budget_levels": {"warning": decimal_text(slo.alerting.budget.warning),
                              "critical": decimal_text(slo.alerting.budget.critical)},
        }

    def burn_runbook(self, service: ServiceSpec, slo: SLOSpec, severity: Severity) -> str:
        context = self.slo_context(service, slo)
        plan = context["plan"]
        tiers = [_tier_row(t, slo, plan) for t in slo.tiers() if t.severity is severity]
        return self._render("burn.md.j2",
            **context, severity=severity.value, tiers=tiers,
            all_tiers=[_tier_row(t, slo, plan) for t in slo.tiers()],
        )

    def budget_runbook(self, service: ServiceSpec, slo: SLOSpec, level: str) -> str:
        context = self.slo_context(service, slo)
        budget = slo.alerting.budget
        severity = budget.critical_severity if level == "critical" else budget.warning_severity
        burn_runbooks = [sev.value for sev in (Severity.PAGE, Severity.TICKET)
                         if any(t.severity is sev for t in slo.tiers())]
        policy = [lv for lv in DEFAULT_POLICY
                  if lv.name in (("critical", "lockdown") if level == "critical" else ("alert", "critical"))]
        return self._render("budget.md.j2",
            **context, level=level, severity=severity.value,
            threshold=context["budget_levels"][level], policy_levels=policy, burn_runbooks=burn_runbooks,
            all_tiers=[_tier_row(t, slo, context["plan"]) for t in slo.tiers()],
        )

    def cause_runbook(self, service: ServiceSpec, warning: CauseWarning) -> str:
        return self._render(f"causes/{warning.runbook}.md.j2",
            **self._service_context(service), warning=warning, title=CAUSE_TITLES[warning.runbook],
        )

    def service_runbooks(self, service: ServiceSpec) -> dict[str, str]:
        """File name -> Markdown for every alert of the service (disabled severities have none)."""
        files: dict[str, str] = {}
        for slo in service.spec.slos:
            severities = {t.severity for t in slo.tiers()}
            for severity in (Severity.PAGE, Severity.TICKET):
                if severity in severities:
                    files[runbook_file(service.name, slo.name, severity.value)] = self.burn_runbook(
                        service, slo, severity)
            # One runbook per budget alert the plan has (none when alerting or its severity is off).
            for alert in RulePlan.build(service, slo).budget_alerts():
                level = alert.labels["budget_level"]
                files[runbook_file(service.name, slo.name, alert.runbook_kind)] = self.budget_runbook(
                    service, slo, level)
        for warning in service.spec.warnings:
            name = f"{service.name}-{warning.file_part}.md"
            if name in files:
                raise ValueError(f"service {service.name}: warning runbook {name} would overwrite an SLO "
                                 "runbook; give the warning another name")
            files[name] = self.cause_runbook(service, warning)
        return files

    def policy_document(self, services: Sequence[ServiceSpec]) -> str:
        rows = [
            {"service": s.name, "slo": slo.name, "team": s.spec.team,
             "objective": decimal_text(slo.objective), "window": str(slo.window),
             "error_budget": _percent(slo.error_budget),
             "budget_time": human_seconds(float(slo.error_budget) * slo.window.seconds),
             "budget_series": budget_remaining_query(s.name, slo.name)}
            for s in sorted(services, key=lambda s: s.name) for slo in s.spec.slos
        ]
        return self._render("error-budget-policy.md.j2", levels=DEFAULT_POLICY, slos=rows)


def render_runbooks(services: Iterable[ServiceSpec], config: Config | None) -> dict[str, str]:
    """Every runbook of every service: file name (under OUT/runbooks/) -> Markdown."""
    writer = RunbookWriter(config)
    files: dict[str, str] = {}
    for service in sorted(services, key=lambda s: s.name):
        files.update(writer.service_runbooks(service))
    return dict(sorted(files.items()))


def runbook_files(services: Sequence[ServiceSpec], config: Config | None) -> dict[str, str]:
    """Bundle-relative path -> Markdown: runbooks/*.md and docs/error-budget-policy.md."""
    files = {f"runbooks/{name}": text for name, text in render_runbooks(services, config).items()}
    files[POLICY_DOC] = RunbookWriter(config).policy_document(services)
    return files



