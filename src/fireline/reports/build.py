"""What a report says, gathered from Prometheus (compliance, budget, burn-down) and from the
database of `fireline serve` (incidents, policy tiers, exclusions).

Either source may be missing: a report without Prometheus has no figures and says why; without the
database it has no incidents, tiers or exclusions and says why. Nothing is guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fireline.policy.budget import BudgetReading, QueryFn, measure_budget
from fireline.policy.windows import BudgetWindow, Interval, clip_and_merge
from fireline.reports.period import Period
from fireline.rules.sli import BASE_WINDOW, SLIQueries
from fireline.slo.durations import Duration
from fireline.slo.tiers import decimal_text
from fireline.spec.models import ServiceSpec, SLOSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from fireline.clients.prometheus import PrometheusClient
    from fireline.spec.policy_settings import PolicySettings

BURNDOWN_POINTS = 60


@dataclass(frozen=True)
class IncidentRow:
    id: int
    title: str
    severity: str
    kind: str
    slo: str | None
    opened_at: datetime
    acknowledge_seconds: float | None
    resolve_seconds: float | None


@dataclass(frozen=True)
class ExclusionRow:
    id: int
    slo: str | None
    start: datetime
    end: datetime
    reason: str
    approved_by: str
    note: str


@dataclass
class SLOReport:
    service: str
    slo: SLOSpec
    compliance: float | None = None  # share of good events (time for ratio SLIs) in the period
    budget_consumed: float | None = None  # of the period's error budget; above 1 = overspent
    events: float | None = None
    errors: float | None = None
    source: str | None = None
    unknown: str | None = None  # why there are no figures
    burndown: list[tuple[float, float]] = field(default_factory=list)  # (unix time, budget remaining)
    tiers: list[tuple[str, float]] = field(default_factory=list)  # (tier, seconds in it during the period)
    tiers_note: str | None = None
    exclusions: list[ExclusionRow] = field(default_factory=list)

    @property
    def objective(self) -> str:
        return f"{decimal_text(self.slo.objective)}%"

    @property
    def met(self) -> bool | None:
        if self.compliance is None:
            return None
        return self.compliance * 100 >= float(self.slo.objective)


@dataclass
class ServiceReport:
    name: str
    team: str
    slos: list[SLOReport]
    incidents: list[IncidentRow] = field(default_factory=list)
    pages_per_week: list[tuple[str, int, int]] = field(default_factory=list)  # (ISO week, pages, tickets)


@dataclass
class Report:
    period: Period
    generated_at: datetime
    services: list[ServiceReport]
    notes: list[str] = field(default_factory=list)  # what the report could not include, and why
    boundaries: list[tuple[float, str]] = field(default_factory=list)  # policy tier edges for the charts


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def _range(seconds: int) -> Duration:
    return Duration(seconds * 1000)


def measure(query: QueryFn, service: str, slo: SLOSpec, period: Period, excluded: list[Interval],
            report: SLOReport) -> None:
    """Compliance and budget over the period (exclusions removed), as the policy engine would read them."""
    window = BudgetWindow(period.start, period.end)
    # Any data in the period will do: a report is about the period, not about whether it is fresh now.
    reading = measure_budget(query, service, slo, window, clip_and_merge(excluded, window),
                             _range(max(period.seconds, 1)))
    if not isinstance(reading, BudgetReading):
        report.unknown = reading.reason
        return
    report.source = reading.source
    report.errors, report.events = reading.errors, reading.events
    report.compliance = 1 - reading.error_ratio
    report.budget_consumed = reading.error_ratio / reading.error_budget


def burndown(client: PrometheusClient, slo: SLOSpec, period: Period,
             points: int = BURNDOWN_POINTS) -> list[tuple[float, float]]:
    """Budget remaining from the period's start to each point, against the whole period's budget.

    Errors per slice from the SLI's own queries at the slice's length (event SLIs), or the slice's
    mean 5m error ratio times its length (ratio SLIs); summed up to each point. Every error counts
    here: the figures above the chart remove excluded intervals, the chart shades them.
    """
    sli = SLIQueries(slo)
    step = max(int(BASE_WINDOW.seconds), period.seconds // points)
    count = period.seconds // step
    if count < 1:
        return []
    first = period.start + timedelta(seconds=step)
    last = period.start + timedelta(seconds=step * count)
    span = _range(step)
    budget = float(slo.error_budget)

    def slices(promql: str) -> dict[float, float]:
        found = client.query_range(promql, first, last, step)
        if not found:
            return {}
        return {t: v for t, v in found[0].points if _finite(v) is not None}

    if sli.event_based:
        errors = slices(f"({sli.errors(span).text()}) * {step}")
        events = slices(f"({sli.total(span).text()}) * {step}")
        whole = sum(events.values())
        if whole <= 0:
            return []
        spent, out = 0.0, []
        for t in sorted(events):
            spent += errors.get(t, 0.0)
            out.append((t, 1 - spent / (whole * budget)))
        return out
    ratios = slices(f"avg_over_time(({sli.ratio(BASE_WINDOW).text()})[{span}:{BASE_WINDOW}])")
    spent, out = 0.0, []
    for t in sorted(ratios):
        spent += ratios[t] * step
        out.append((t, 1 - spent / (period.seconds * budget)))
    return out


def tier_time(transitions: Sequence[Any], period: Period) -> list[tuple[str, float]]:
    """Seconds spent in each tier during the period, from the engine's transitions (ordered by time)."""
    current: str | None = None
    since = period.start
    spent: dict[str, float] = {}
    for t in transitions:
        at = t.at.astimezone(UTC)
        if at <= period.start:
            current = t.to_tier
            continue
        if at >= period.end:
            break
        if current is not None:
            spent[current] = spent.get(current, 0.0) + (at - since).total_seconds()
        current, since = t.to_tier, at
    if current is not None:
        spent[current] = spent.get(current, 0.0) + (period.end - since).total_seconds()
    return sorted(spent.items(), key=lambda item: -item[1])


def from_database(session: Session, services: list[ServiceReport], period: Period, policy: bool) -> None:
    """Incidents, pages per week, and (with the policy engine) tiers and exclusions, from serve's tables."""
    from sqlalchemy import select

    from fireline.incidents.models import Incident

    for service in services:
        rows = session.scalars(select(Incident).where(
            Incident.service == service.name, Incident.opened_at >= period.start, Incident.opened_at < period.rows_end)
            .order_by(Incident.opened_at))
        weeks: dict[str, list[int]] = {}
        for incident in rows:
            opened = incident.opened_at
            service.incidents.append(IncidentRow(
                incident.id, incident.title, incident.severity, incident.kind, incident.slo, opened,
                (incident.acknowledged_at - opened).total_seconds() if incident.acknowledged_at else None,
                (incident.resolved_at - opened).total_seconds() if incident.resolved_at else None))
            year, week, _ = opened.isocalendar()
            counts = weeks.setdefault(f"{year}-W{week:02d}", [0, 0])
            counts[0 if incident.kind == "incident" else 1] += 1
        service.pages_per_week = [(week, pages, tickets) for week, (pages, tickets) in sorted(weeks.items())]
        if not policy:
            continue
        from fireline.policy.tables import BudgetExclusion, PolicyTransition

        for slo in service.slos:
            moves = list(session.scalars(select(PolicyTransition).where(
                PolicyTransition.service == service.name, PolicyTransition.slo == slo.slo.name)
                .order_by(PolicyTransition.at, PolicyTransition.seq)))
            slo.tiers = tier_time(moves, period)
            if not slo.tiers:
                slo.tiers_note = "the policy engine has no tier on record for this SLO in the period"
            for row in session.scalars(select(BudgetExclusion).where(
                    BudgetExclusion.service == service.name, BudgetExclusion.revoked_at.is_(None),
                    BudgetExclusion.start < period.rows_end, BudgetExclusion.end > period.start)
                    .order_by(BudgetExclusion.start)):
                if row.slo in (None, slo.slo.name):
                    slo.exclusions.append(ExclusionRow(row.id, row.slo, row.start, row.end, row.reason,
                                                       row.approved_by, row.note))


def build_report(services: Sequence[ServiceSpec], period: Period, *, client: PrometheusClient | None,
                 session: Session | None, policy: PolicySettings | None, database_note: str | None = None,
                 now: datetime | None = None) -> Report:
    from fireline.clients.prometheus import PrometheusQueryError, PrometheusUnavailable
    from fireline.policy.budget import MeasurementUnavailable
    from fireline.policy.engine import prometheus_query

    report = Report(period, (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
                    [ServiceReport(s.name, s.spec.team, [SLOReport(s.name, slo) for slo in s.spec.slos])
                     for s in services])
    if policy is not None:
        report.boundaries = policy.boundaries()
    if session is not None:
        from_database(session, report.services, period, policy is not None)
    elif database_note:
        report.notes.append(database_note)
    if client is None:
        report.notes.append("no compliance figures: prometheus.url is not set in fireline.yaml (or --prometheus)")
        for service in report.services:
            for slo in service.slos:
                slo.unknown = "no Prometheus to read"
        return report
    query = prometheus_query(client)
    for service in report.services:
        for slo in service.slos:
            excluded = [Interval(e.start, e.end) for e in slo.exclusions]
            try:
                measure(query, service.name, slo.slo, period, excluded, slo)
                if slo.unknown is None:
                    slo.burndown = burndown(client, slo.slo, period)
            except (MeasurementUnavailable, PrometheusUnavailable) as exc:
                slo.unknown = f"Prometheus unreachable: {exc}"
            except PrometheusQueryError as exc:
                slo.unknown = f"Prometheus rejected the SLI query: {exc}"
    return report
