"""Building a policy engine the way `fireline serve` does, on a SQLite file, for the integration tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fireline.clients.prometheus import PrometheusClient
from fireline.notify.endpoints import HttpTransport, resolver
from fireline.notify.outbox import OutboxWorker
from fireline.policy.engine import PolicyEngine, prometheus_query, watched_slos
from fireline.policy.notices import outbox_notifier
from fireline.policy.server import MIGRATIONS, incident_opener
from fireline.server.db import Database, migrate, register_migrations
from fireline.spec.config import Config
from fireline.spec.loader import load_services

SPEC = """\
apiVersion: fireline/v1
kind: Service
metadata: {name: checkout}
spec:
  team: payments
  slos:
    - name: availability
      objective: 99
      window: 7d
      sli:
        events:
          errors: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
          total: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
"""


def config_for(capture_url: str, prometheus_url: str, key_file: Path, **policy: Any) -> Config:
    return Config.model_validate({
        "apiVersion": "fireline/v1", "kind": "Config",
        "default_receiver": "payments-chat",
        "receivers": {
            "payments-chat": {"webhook": {"url": f"{capture_url}/team"}},
            "leadership": {"webhook": {"url": f"{capture_url}/leadership"}},
            "sre-lead": {"pagerduty": {"routing_key_file": str(key_file), "url": f"{capture_url}/pd-lead"}},
            "eng-director": {"pagerduty": {"routing_key_file": str(key_file), "url": f"{capture_url}/pd-director"}},
        },
        "teams": {"payments": {"page": ["payments-chat"], "ticket": ["payments-chat"]}},
        "prometheus": {"url": prometheus_url},
        "policy": {"hysteresis": {"margin": 2, "cycles": 2},
                   "trackers": {"reliability": {"type": "webhook", "url": f"{capture_url}/tickets"}},
                   **policy},
    })


@dataclass
class Harness:
    engine: PolicyEngine
    db: Database
    client: PrometheusClient
    outbox: OutboxWorker

    def cycle(self, at: datetime) -> None:
        self.engine.run_cycle(at)

    def deliver(self, at: datetime) -> None:
        self.engine.dispatch_due(at)
        self.outbox.deliver_due(at + timedelta(seconds=1))

    def close(self) -> None:
        self.client.close()
        self.db.dispose()


def build(tmp: Path, config: Config, database: str | None = None) -> Harness:
    spec = tmp / "checkout.yaml"
    if not spec.exists():
        spec.write_text(SPEC, encoding="utf-8")
    url = database or f"sqlite:///{tmp / 'fireline.db'}"
    register_migrations(MIGRATIONS)
    migrate(url)
    db = Database(url)
    assert config.prometheus.url is not None and config.policy is not None
    client = PrometheusClient(config.prometheus.url, timeout=5)
    engine = PolicyEngine(config, config.policy, watched_slos(load_services([spec])), db, prometheus_query(client),
                          notifier=outbox_notifier(config), open_incident=incident_opener(config),
                          clock=lambda: datetime.now(UTC))
    outbox = OutboxWorker(db, HttpTransport(5), resolver(config), max_attempts=3,
                          base_backoff=timedelta(seconds=1), max_backoff=timedelta(seconds=2),
                          lease=timedelta(seconds=30), clock=lambda: datetime.now(UTC))
    return Harness(engine, db, client, outbox)
