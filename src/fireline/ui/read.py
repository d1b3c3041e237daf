"""What the pages show, read from the services that own it; no decisions are made here.

- SLOs, objectives and tiers: the specs named by `specs:` in fireline.yaml (as the policy engine
  loads them), thresholds from fireline.slo.tiers.
- Budget remaining with exclusions, policy tier, frozen change classes, exclusions, audit log: the
  policy engine's stored state (its tables), when the engine runs; otherwise the recorded
  recorded budget remaining from Prometheus (labelled as such: it has no exclusions).
- Burn rates and firing alerts: instant queries of the recorded series (the rule plan names them) and `ALERTS`.
- Incidents, timelines, notifications: the incidents module's tables.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.clients.prometheus import PrometheusError, PrometheusUnavailable
from fireline.incidents.models import Incident, Status
from fireline.rules.plan import (
    budget_remaining_over_query,
    budget_remaining_query,
    burn_rate_query,
    runbook_file,
    window_of_ratio_series,
    window_ratios_query,
)
from fireline.server.context import ServerContext
from fireline.slo.durations import Duration
from fireline.slo.tiers import Tier, decimal_text
from fireline.spec.loader import LoadedService
from fireline.spec.models import ServiceSpec, SLOSpec
from fireline.ui.prometheus import RangeClient

log = logging.getLogger("fireline.ui")
PROMETHEUS_TIMEOUT = 4.0


@dataclass(frozen=True)
class CatalogEntry:
    service: ServiceSpec
    slo: SLOSpec

    @property
    def key(self) -> tuple[str, str]:
        return self.service.name, self.slo.name

    @property
    def team(self) -> str:
        return self.service.spec.team


@dataclass
class Catalog:
    """The SLOs of the specs fireline.yaml names, loaded once at start-up like the policy engine does."""

    entries: list[CatalogEntry] = field(default_factory=list)
    services: list[LoadedService] = field(default_factory=list)
    error: str | None = None

    def find(self, service: str, slo: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.key == (service, slo)), None)


def load_catalog(ctx: ServerContext) -> Catalog:
    from fireline.policy.server import spec_paths
    from fireline.spec.errors import SpecError
    from fireline.spec.loader import load_services

    if not ctx.config.specs:
        return Catalog(error="fireline.yaml names no specs (specs:), so there are no SLOs to show")
    try:
        services = load_services(spec_paths(ctx.config))
    except SpecError as exc:
        return Catalog(error=f"the specs could not be loaded: {exc}")
    entries = [CatalogEntry(s.spec, slo) for s in services for slo in s.spec.spec.slos]
    return Catalog(entries, services)


@dataclass(frozen=True)
class TierBurn:
    """One alerting tier of an SLO: burn rates over its windows against its threshold."""

    tier: Tier
    threshold: float
    long_rate: float | None
    short_rate: float | None

    @property
    def key(self) -> str:
        return self.tier.key

    @property
    def severity(self) -> str:
        return self.tier.severity.value

    @property
    def firing(self) -> bool:
        """Both windows above the threshold: the condition the generated alert fires on."""
        return (self.long_rate is not None and self.short_rate is not None
                and self.long_rate > self.threshold and self.short_rate > self.threshold)

    @property
    def share(self) -> float | None:
        """Long-window burn rate as a share of the threshold (1 = at the threshold)."""
        return None if self.long_rate is None else self.long_rate / self.threshold


@dataclass(frozen=True)
class OpenIncident:
    id: int
    severity: str
    status: str
    title: str


@dataclass
class SLOView:
    entry: CatalogEntry
    remaining: float | None = None
    remaining_source: str | None = None  # "policy" (exclusions applied) or "prometheus" (recorded series)
    measured_at: datetime | None = None
    unknown_reason: str | None = None
    tier: str | None = None
    tier_index: int | None = None
    frozen: list[str] = field(default_factory=list)
    burns: list[TierBurn] = field(default_factory=list)
    incidents: list[OpenIncident] = field(default_factory=list)
    exclusions: int = 0
    firing_alerts: int = 0

    @property
    def service(self) -> str:
        return self.entry.service.name

    @property
    def slo(self) -> str:
        return self.entry.slo.name

    @property
    def team(self) -> str:
        return self.entry.team

    @property
    def objective(self) -> str:
        return decimal_text(self.entry.slo.objective) + "%"

    @property
    def window(self) -> str:
        return str(self.entry.slo.window)

    @property
    def worst_share(self) -> float:
        shares = [b.share for b in self.burns if b.share is not None]
        return max(shares, default=0.0)

    def sort_key(self) -> tuple[bool, float, float, str, str]:
        """Worst first: least budget left; unknown budgets after known ones; then the hottest burn."""
        remaining = self.remaining if self.remaining is not None and math.isfinite(self.remaining) else math.inf
        return (self.remaining is None, remaining, -self.worst_share, self.service, self.slo)


@dataclass
class PrometheusReadings:
    ratios: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (service, slo, window) -> ratio
    remaining: dict[tuple[str, str], float] = field(default_factory=dict)
    alerts: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


def policy_enabled(ctx: ServerContext) -> bool:
    """The policy engine's tables exist only when its extension is installed and configured."""
    return ctx.config.policy is not None and any(ext.name == "policy" for ext in ctx.extensions)


def read_prometheus(ctx: ServerContext, at: datetime) -> PrometheusReadings:
    """Every SLO's window ratios, recorded budget and firing alerts, in three queries at one instant."""
    readings = PrometheusReadings()
    url = ctx.prometheus.url
    if url is None:
        readings.error = "prometheus.url is not set in fireline.yaml: burn rates and charts are not available"
        return readings
    try:
        with RangeClient.from_settings(ctx.prometheus, timeout=PROMETHEUS_TIMEOUT) as client:
            for sample in client.query(window_ratios_query(), at):
                window = window_of_ratio_series(sample.labels.get("__name__", ""))
                if window is None:
                    continue
                key = (sample.labels.get("service", ""), sample.labels.get("slo", ""), str(window))
                readings.ratios[key] = sample.value
            for sample in client.query(budget_remaining_query(), at):
                slo_key = (sample.labels.get("service", ""), sample.labels.get("slo", ""))
                # A grouped SLO has one budget per group: the overview shows its worst group.
                readings.remaining[slo_key] = min(sample.value, readings.remaining.get(slo_key, sample.value))
            readings.alerts = [s.labels for s in client.query('ALERTS{alertstate="firing"}', at)]
    except PrometheusUnavailable as exc:
        readings.error = f"Prometheus is unreachable: {exc}"
    except PrometheusError as exc:
        readings.error = f"Prometheus rejected a query: {exc}"
    return readings


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def tier_burns(entry: CatalogEntry, ratios: dict[tuple[str, str, str], float]) -> list[TierBurn]:
    slo = entry.slo
    budget = float(slo.error_budget)

    def burn(window: str) -> float | None:
        ratio = _finite(ratios.get((entry.service.name, slo.name, window)))
        return None if ratio is None else ratio / budget

    return [TierBurn(tier, float(tier.burn_rate_threshold(slo.window)), burn(str(tier.long_window)),
                     burn(str(tier.short_window))) for tier in slo.tiers()]


def open_incidents(session: Session) -> dict[tuple[str | None, str | None], list[OpenIncident]]:
    found: dict[tuple[str | None, str | None], list[OpenIncident]] = defaultdict(list)
    rows = session.scalars(select(Incident).where(Incident.status != Status.RESOLVED.value).order_by(Incident.id))
    for row in rows:
        found[(row.service, row.slo)].append(OpenIncident(row.id, row.severity, row.status, row.title))
    return found


def slo_views(ctx: ServerContext, catalog: Catalog, session: Session, readings: PrometheusReadings,
              *, team: str | None = None, service: str | None = None, at: datetime | None = None) -> list[SLOView]:
    """Every SLO (optionally one team's or one service's), worst first."""
    from fireline.policy.tables import BudgetExclusion, PolicySLOState

    entries = [e for e in catalog.entries
               if (team is None or e.team == team) and (service is None or e.service.name == service)]
    incidents = open_incidents(session)
    states: dict[tuple[str, str], PolicySLOState] = {}
    exclusions: list[BudgetExclusion] = []
    policy = ctx.config.policy if policy_enabled(ctx) else None
    if policy is not None:
        states = {(r.service, r.slo): r for r in session.scalars(select(PolicySLOState))}
        exclusions = list(session.scalars(select(BudgetExclusion).where(BudgetExclusion.revoked_at.is_(None))))
    firing: dict[tuple[str, str], int] = defaultdict(int)
    for labels in readings.alerts:
        firing[(labels.get("service", ""), labels.get("slo", ""))] += 1
    views = []
    for entry in entries:
        view = SLOView(entry, burns=tier_burns(entry, readings.ratios), incidents=incidents.get(entry.key, []),
                       firing_alerts=firing.get(entry.key, 0))
        state = states.get(entry.key)
        if policy is not None and state is not None:
            view.remaining = _finite(state.remaining)
            view.remaining_source = "policy" if view.remaining is not None else None
            view.measured_at = state.measured_at
            view.unknown_reason = state.unknown_reason
            view.tier = state.tier
            names = [t.name for t in policy.tiers]
            if state.tier in names:
                view.tier_index = names.index(state.tier)
                view.frozen = [str(c) for c in policy.tier(state.tier).freeze]
        if view.remaining is None and view.unknown_reason is None:
            recorded = _finite(readings.remaining.get(entry.key))
            if recorded is not None:
                view.remaining, view.remaining_source = recorded, "prometheus"
        # Only exclusions that overlap the budget window (rolling or calendar month) change the budget.
        now = at or ctx.clock()
        window_start = now - timedelta(milliseconds=entry.slo.window.milliseconds)
        if policy is not None:
            from fireline.policy.windows import budget_window

            window_start = budget_window(now, entry.slo.window,
                                         *policy.window_for(entry.service.name, entry.slo.name)).start
        view.exclusions = sum(1 for e in exclusions
                              if e.service == entry.service.name and e.slo in (None, entry.slo.name)
                              and e.end > window_start and e.start < now)
        views.append(view)
    return sorted(views, key=SLOView.sort_key)


def runbook_link(ctx: ServerContext, entry: CatalogEntry, kind: str = "page") -> str:
    """The runbook the generated alerts link to; relative bases are served by the UI itself."""
    if entry.slo.alerting.runbook:
        return entry.slo.alerting.runbook
    name = runbook_file(entry.service.name, entry.slo.name, kind)
    base = ctx.config.runbooks.base_url
    if base.startswith(("http://", "https://")):
        return f"{base}/{name}"
    return f"/runbooks/{name}"


# --------------------------------------------------------------------------------------------- charts

@dataclass(frozen=True)
class ChartRange:
    start: datetime
    end: datetime
    step: float


def chart_range(end: datetime, span: timedelta, points: int = 240) -> ChartRange:
    step = max(60.0, span.total_seconds() / points)
    return ChartRange(end - span, end, step)


def range_series(ctx: ServerContext, promql: str, window: ChartRange) -> list[tuple[float, float]]:
    """The single series of promql over the window; [] when it has none. Raises PrometheusError."""
    url = ctx.prometheus.url
    if url is None:
        return []
    with RangeClient.from_settings(ctx.prometheus, timeout=PROMETHEUS_TIMEOUT) as client:
        series = client.query_range(promql, window.start, window.end, window.step)
    return series[0].points if series else []


def budget_query(entry: CatalogEntry, step_seconds: float) -> str:
    """The burn-down chart's series: the last recorded budget within each step of the chart."""
    return budget_remaining_over_query(entry.service.name, entry.slo.name, Duration.of_seconds(step_seconds))


def burn_query(entry: CatalogEntry, window: str) -> str:
    return burn_rate_query(entry.service.name, entry.slo.name, Duration.parse(window), entry.slo.error_budget)


def long_windows(entry: CatalogEntry) -> list[str]:
    seen: list[str] = []
    for tier in sorted(entry.slo.tiers(), key=lambda t: t.long_window):
        if str(tier.long_window) not in seen:
            seen.append(str(tier.long_window))
    return seen


def tier_boundaries(ctx: ServerContext) -> list[tuple[float, str]]:
    """(ratio, label) for each policy tier's lower edge, e.g. (0.25, 'critical below 25%')."""
    policy = ctx.config.policy
    return [] if policy is None else policy.boundaries()


def firing_alerts_for(readings: PrometheusReadings, entry: CatalogEntry) -> list[dict[str, str]]:
    return sorted((a for a in readings.alerts if (a.get("service"), a.get("slo")) == entry.key),
                  key=lambda a: (a.get("alertname", ""), a.get("long_window", "")))


def percent(value: float | Decimal | None, digits: int = 1) -> str:
    if value is None:
        return "unknown"
    return f"{float(value) * 100:.{digits}f}%"


def describe_labels(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("__name__",))


def distinct(values: Sequence[str | None]) -> list[str]:
    return sorted({v for v in values if v})
