"""The policy engine inside `fireline serve`: its ServerExtension (router, migrations, jobs, metrics).

The engine is built at startup from fireline.yaml: `specs:` names the SLO specs, `prometheus.url`
where budgets are read, `policy:` the tiers and actions. Without a `policy:` section the routes
answer 404 and no job runs, so incidents-only deployments are unaffected.
"""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from fireline.clients.prometheus import PrometheusClient, PrometheusUnavailable
from fireline.policy.engine import (
    IncidentRequest,
    PolicyEngine,
    prometheus_query,
    prometheus_vector_query,
    watched_slos,
)
from fireline.policy.notices import outbox_notifier
from fireline.policy.settings import ChangeClass
from fireline.server.context import Job, ServerContext, ServerExtension
from fireline.spec.config import Config
from fireline.spec.loader import load_services

log = logging.getLogger("fireline.policy")
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"
ACTIONS_INTERVAL_SECONDS = 5.0


def spec_paths(config: Config) -> list[Path]:
    """`specs:` entries: files, directories, or globs (expanded here; the loader takes paths)."""
    paths: list[Path] = []
    for entry in config.specs:
        if any(ch in entry for ch in "*?["):
            paths.extend(Path(p) for p in sorted(glob.glob(entry, recursive=True)))
        else:
            paths.append(Path(entry))
    return paths


def incident_opener(config: Config) -> Any:
    """Declare an incident through the incidents module's intake, as if Alertmanager had sent it.

    The severity label is the one `server.severity.map` turns into the requested severity, so the
    incident gets that team's escalation chain like any other page.
    """
    from fireline.incidents.intake import AlertmanagerNotification
    from fireline.incidents.service import ingest

    def open_incident(session: Session, request: IncidentRequest, now: datetime) -> dict[str, Any]:
        label = next((k for k, v in config.server.severity.map.items() if v == request.severity), "critical")
        labels = {"alertname": "ErrorBudgetPolicy", "service": request.service, "slo": request.slo,
                  "team": request.team, "severity": label, "fireline_severity": "page"}
        fingerprint = hashlib.sha256(request.key.encode()).hexdigest()[:16]
        notification = AlertmanagerNotification.model_validate({
            "version": "4", "groupKey": f"fireline-policy:{request.key}"[:1024], "status": "firing",
            "receiver": "fireline-policy", "groupLabels": {"alertname": "ErrorBudgetPolicy"},
            "commonLabels": labels, "commonAnnotations": {"summary": request.title, "description": request.message},
            "alerts": [{"status": "firing", "labels": labels,
                        "annotations": {"summary": request.title, "description": request.message},
                        "startsAt": now.isoformat(), "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": fingerprint}],
        })
        result = ingest(session, config, notification, now)
        return {"incident_id": result.incident_id, "severity": request.severity}

    return open_incident


class PolicyRuntime:
    """What the routes and jobs of one app share; filled at startup."""

    def __init__(self) -> None:
        self.engine: PolicyEngine | None = None
        self.client: PrometheusClient | None = None
        self.last_cycle: datetime | None = None

    def start(self, ctx: ServerContext) -> None:
        config = ctx.config
        if config.policy is None:
            log.info("no policy: section in fireline.yaml; the error-budget policy engine is off")
            return
        from fireline.policy.references import check_policy_references

        problems = check_policy_references(config)
        if problems:
            raise ValueError("error-budget policy: " + "; ".join(problems))
        services = load_services(spec_paths(config)) if config.specs else []
        query = None
        if config.prometheus.url is not None:
            try:
                self.client = PrometheusClient.from_settings(config.prometheus)
            except PrometheusUnavailable as exc:
                raise ValueError(f"error-budget policy: {exc}") from None
            query = prometheus_query(self.client)
        self.engine = PolicyEngine(config, config.policy, watched_slos(services), ctx.db, query,
                                   notifier=outbox_notifier(config), open_incident=incident_opener(config),
                                   clock=ctx.clock,
                                   vector_query=prometheus_vector_query(self.client) if self.client else None)
        ctx.metrics.registry.register(PolicyCollector(self))

    def cycle(self, _ctx: ServerContext, now: datetime) -> None:
        if self.engine is not None:
            self.engine.run_cycle(now)
            self.engine.dispatch_due(now)

    def deliver(self, _ctx: ServerContext, now: datetime) -> None:
        if self.engine is not None:
            self.engine.dispatch_due(now)


class PolicyCollector(Collector):
    """Per SLO: budget remaining (exclusions applied), tier, whether it is known, frozen change classes."""

    def __init__(self, runtime: PolicyRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[GaugeMetricFamily]:
        engine = self.runtime.engine
        if engine is None:
            return
        try:
            states = engine.states()
        except Exception:  # a scrape must never fail because the database is down
            return
        names = [t.name for t in engine.policy.tiers]
        remaining = GaugeMetricFamily("fireline_policy_budget_remaining_ratio",
                                      "Error budget remaining (1 untouched, 0 spent), exclusions applied; "
                                      "the last measured value", labels=["service", "slo"])
        tier = GaugeMetricFamily("fireline_policy_tier", "1 for the policy tier in force (unknown: never measured)",
                                 labels=["service", "slo", "tier"])
        tier_index = GaugeMetricFamily("fireline_policy_tier_index",
                                       "Position of the tier in force, 0 = best; -1 never measured",
                                       labels=["service", "slo"])
        known = GaugeMetricFamily("fireline_policy_budget_known",
                                  "0 while the budget cannot be measured (Prometheus down, series absent or stale)",
                                  labels=["service", "slo"])
        unknown_seconds = GaugeMetricFamily("fireline_policy_budget_unknown_seconds",
                                            "How long the budget has been unknown", labels=["service", "slo"])
        frozen = GaugeMetricFamily("fireline_policy_frozen", "1 when the gate refuses this change class",
                                   labels=["service", "slo", "change"])
        now = engine.clock()
        for state in states:
            labels = [state.service, state.slo]
            if state.remaining is not None:
                remaining.add_metric(labels, state.remaining)
            for name in [*names, "unknown"]:
                tier.add_metric([*labels, name], 1.0 if (state.tier or "unknown") == name else 0.0)
            tier_index.add_metric(labels, float(names.index(state.tier)) if state.tier in names else -1.0)
            known.add_metric(labels, 1.0 if state.known else 0.0)
            unknown_seconds.add_metric(labels, (now - state.unknown_since).total_seconds()
                                       if state.unknown_since else 0.0)
            freezes = engine.policy.tier(state.tier).freeze if state.tier in names and state.tier else []
            for change in ChangeClass:
                frozen.add_metric([*labels, str(change)], 1.0 if change in freezes else 0.0)
        yield from (remaining, tier, tier_index, known, unknown_seconds, frozen)


def extension(runtime: PolicyRuntime | None = None) -> ServerExtension:
    """The `fireline.server` entry point of the policy engine (tests pass a runtime to reach the engine)."""
    from fireline.policy.api import build_router

    runtime = runtime or PolicyRuntime()

    def on_startup(ctx: ServerContext) -> None:
        runtime.start(ctx)

    def cycle(ctx: ServerContext, now: datetime) -> None:
        # The interval comes from fireline.yaml, known only at startup: skip ticks until it is due.
        engine = runtime.engine
        if engine is None:
            return
        last = runtime.last_cycle
        if last is not None and (now - last).total_seconds() < engine.policy.interval.seconds - 0.5:
            return
        runtime.last_cycle = now
        runtime.cycle(ctx, now)

    return ServerExtension(
        name="policy",
        routers=[build_router(runtime)],
        migrations=MIGRATIONS,
        jobs=[Job("policy-cycle", 1.0, cycle), Job("policy-actions", ACTIONS_INTERVAL_SECONDS, runtime.deliver)],
        setup=on_startup,
    )
