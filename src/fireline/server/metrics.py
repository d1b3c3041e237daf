"""Prometheus metrics of `fireline serve`, in a registry per app so tests can run several apps."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Intake latency is dominated by one database commit: milliseconds on SQLite, more under load.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StateCollector(Collector):
    """Gauges read from the database at scrape time (open incidents, outbox depth), so every
    replica reports the shared state; a scrape during a storage outage reports nothing for them."""

    def __init__(self, read: Callable[[], dict[str, dict[tuple[str, ...], float]]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            state = self._read()
        except Exception:  # a scrape must never fail because the database is down
            return
        open_incidents = GaugeMetricFamily("fireline_open_incidents", "Incidents and tickets not resolved",
                                           labels=["kind", "severity", "status"])
        for key, value in state.get("open_incidents", {}).items():
            open_incidents.add_metric(list(key), value)
        yield open_incidents
        depth = GaugeMetricFamily("fireline_outbox_depth", "Outbox notifications by status",
                                  labels=["status"])
        for key, value in state.get("outbox", {}).items():
            depth.add_metric(list(key), value)
        yield depth


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.intake_notifications = Counter(
            "fireline_intake_notifications", "Alertmanager notifications received, by outcome",
            ["outcome"], registry=self.registry)
        self.intake_alerts = Counter("fireline_intake_alerts", "Alerts received in notifications",
                                     registry=self.registry)
        self.intake_latency = Histogram(
            "fireline_intake_duration_seconds", "Time to validate and commit one notification",
            buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.notifications = Counter(
            "fireline_notifications", "Outbound notification attempts, by integration and outcome",
            ["integration", "outcome"], registry=self.registry)
        self.escalation_lag = Histogram(
            "fireline_escalation_lag_seconds", "Delay between an escalation step being due and it firing",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=self.registry)
        self.scheduler_leader = Gauge("fireline_scheduler_leader", "1 on the replica running the scheduler",
                                      registry=self.registry)

    def watch_state(self, read: Callable[[], dict[str, dict[tuple[str, ...], float]]]) -> None:
        self.registry.register(_StateCollector(read))
