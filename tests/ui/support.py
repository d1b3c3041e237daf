"""Specs, fireline.yaml and an in-process server for the UI tests (the browser tests add real processes)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fireline.server.app import create_app
from fireline.server.context import ServerContext, make_context
from fireline.server.db import migrate
from fireline.spec.config import Config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "ui-test-token-5c1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass(frozen=True)
class ServiceSLO:
    service: str
    team: str
    objective: float
    error_ratio: float  # the constant error ratio the tests feed in

    @property
    def remaining(self) -> float:
        return 1 - self.error_ratio / ((100 - self.objective) / 100)


# Worst first is checkout (8% left), search (38%), catalog (95%): not the alphabetical order.
SLOS = (
    ServiceSLO("catalog", "discovery", 99.0, 0.0005),
    ServiceSLO("checkout", "payments", 99.9, 0.00092),
    ServiceSLO("search", "discovery", 99.5, 0.0031),
)


def spec_text(slo: ServiceSLO) -> str:
    return f"""\
apiVersion: fireline/v1
kind: Service
metadata: {{name: {slo.service}}}
spec:
  team: {slo.team}
  slos:
    - name: availability
      objective: {slo.objective:g}
      window: 7d
      description: {slo.service} requests that do not fail with a 5xx.
      sli:
        events:
          errors: sum(rate(http_requests_total{{job="{slo.service}",code=~"5.."}}[{{{{.window}}}}]))
          total: sum(rate(http_requests_total{{job="{slo.service}"}}[{{{{.window}}}}]))
"""


def write_specs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for slo in SLOS:
        (folder / f"{slo.service}.yaml").write_text(spec_text(slo), encoding="utf-8")
    return folder


def config_data(tmp: Path, capture_url: str, *, prometheus_url: str | None = None,
                policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every receiver posts to the capture server; the default policy tiers with quick cycles."""
    secrets = tmp / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    key = secrets / "pd.key"
    key.write_text("R0UTING-KEY\n", encoding="utf-8")
    slack_url = secrets / "slack.url"
    slack_url.write_text("https://hooks.slack.invalid/unused\n", encoding="utf-8")
    token_file = secrets / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")

    def slack(name: str, channel: str) -> dict[str, Any]:
        return {"slack": {"channel": channel, "api_url_file": str(slack_url), "url": f"{capture_url}/slack/{name}"}}

    def pager(name: str) -> dict[str, Any]:
        return {"pagerduty": {"routing_key_file": str(key), "url": f"{capture_url}/pagerduty/{name}/v2/enqueue"}}

    data: dict[str, Any] = {
        "apiVersion": "fireline/v1", "kind": "Config",
        "specs": [str(write_specs(tmp / "specs"))],
        "default_receiver": "sre-chat",
        "receivers": {
            "sre-chat": slack("sre", "#sre"), "payments-chat": slack("payments", "#payments"),
            "payments-pager": pager("payments"), "discovery-chat": slack("discovery", "#discovery"),
            "leadership": slack("leadership", "#eng-leadership"), "sre-lead": pager("sre-lead"),
            "eng-director": pager("eng-director"),
        },
        "teams": {
            "payments": {"page": ["payments-pager", "payments-chat"], "ticket": ["payments-chat"]},
            "discovery": {"page": ["discovery-chat"], "ticket": ["discovery-chat"]},
        },
        "server": {"token_file": str(token_file), "scheduler_interval": "200ms",
                   "outbox": {"backoff": "100ms", "max_backoff": "1s",
                              "slack_interval": "0s"}},
        "policy": {"interval": "2s", "hysteresis": {"margin": 2, "cycles": 1},
                   "trackers": {"reliability": {"type": "webhook", "url": f"{capture_url}/tickets"}},
                   **(policy or {})},
    }
    if prometheus_url is not None:
        data["prometheus"] = {"url": prometheus_url}
    return data


def fake_prometheus(promql: str, _at: datetime) -> float | None:
    """Stands in for Prometheus in the in-process tests: 10 req/s per service at its constant error ratio."""
    job = re.search(r'job="([^"]+)"', promql)
    slo = next((s for s in SLOS if job is not None and s.service == job.group(1)), None)
    if slo is None:
        return None
    return 10.0 * slo.error_ratio if 'code=~"5.."' in promql else 10.0


@dataclass
class InProcess:
    client: TestClient
    ctx: ServerContext

    def alert(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/api/v1/alerts/alertmanager", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@contextmanager
def in_process(tmp: Path, *, capture_url: str = "http://127.0.0.1:9") -> Iterator[InProcess]:
    """The app with the policy engine and the UI (as `fireline serve` builds it), scheduler off."""
    from fireline.policy.server import extension as policy_extension
    from fireline.ui.routes import extension as ui_extension

    config = Config.model_validate(config_data(tmp, capture_url))
    ctx = make_context(config, database=f"sqlite:///{tmp / 'fireline.db'}", token=TOKEN)
    app = create_app(ctx, extensions=[policy_extension(), ui_extension()], run_scheduler=False)
    migrate(ctx.db.url)
    try:
        with TestClient(app, raise_server_exceptions=False, base_url="http://testserver") as client:
            yield InProcess(client, ctx)
    finally:
        ctx.db.dispose()


def run_policy_cycle(ctx: ServerContext, at: datetime) -> None:
    """One cycle of the real policy engine, reading budgets from fake_prometheus."""
    from fireline.policy.engine import PolicyEngine, watched_slos
    from fireline.policy.notices import outbox_notifier
    from fireline.policy.server import incident_opener, spec_paths
    from fireline.spec.loader import load_services

    config = ctx.config
    assert config.policy is not None
    engine = PolicyEngine(config, config.policy, watched_slos(load_services(spec_paths(config))), ctx.db,
                          fake_prometheus, notifier=outbox_notifier(config), open_incident=incident_opener(config),
                          clock=lambda: at)
    engine.run_cycle(at)


def alert(service: str, team: str, *, fingerprint: str, severity: str = "critical", summary: str = "",
          status: str = "firing") -> dict[str, Any]:
    name = f"{service.capitalize()}AvailabilityErrorBudgetBurn"
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "slo": "availability", "team": team,
                   "severity": severity, "fireline_severity": "page" if severity == "critical" else "ticket",
                   "long_window": "1h", "short_window": "5m"},
        "annotations": {"summary": summary or f"{service} availability: error budget burning 15.2x too fast",
                        "description": "Burn rate over 1h: 15.20 (threshold 14.4). Error budget left over 7d: 8.0%.",
                        "runbook_url": f"/runbooks/{service}-availability-page.md"},
        "startsAt": "2026-11-29T05:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-29T06:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph", "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], group_key: str) -> dict[str, Any]:
    first = alerts[0]
    return {"version": "4", "groupKey": group_key, "truncatedAlerts": 0,
            "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "receiver": "fireline", "groupLabels": {"alertname": first["labels"]["alertname"]},
            "commonLabels": dict(first["labels"]), "commonAnnotations": dict(first["annotations"]),
            "externalURL": "http://alertmanager.invalid", "alerts": list(alerts)}
