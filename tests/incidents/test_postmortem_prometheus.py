"""Postmortem budget from Prometheus' HTTP API (a local stand-in answering /api/v1/query)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from fireline.notify.capture import CaptureServer
from tests.server.harness import Harness
from tests.server.support import AUTH, alert, config_dict, notification

OPENED = 1795953600.0  # 2026-11-29T12:00:00Z, the harness clock's start


class _Prometheus(BaseHTTPRequestHandler):
    queries: list[dict[str, list[str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        params = parse_qs(urlsplit(self.path).query)
        type(self).queries.append(params)
        at = float(params["time"][0])
        remaining = "0.8" if at <= OPENED else "0.62"  # 18% of the budget burned during the incident
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"service": "checkout", "slo": "availability"}, "value": [at, remaining]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_postmortem_reads_budget_consumed_from_prometheus(database_url: str, capture: CaptureServer,
                                                          tmp_path: Path, prometheus: str) -> None:
    from fireline.spec.config import Config

    config = Config.model_validate({**config_dict(tmp_path, capture.url), "prometheus": {"url": prometheus}})
    with Harness.start(database_url, capture, tmp_path, config=config) as h:
        incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
        h.clock.advance(minutes=40)
        assert h.post(f"/api/v1/incidents/{incident_id}/resolve").status_code == 200
        text = h.client.get(f"/api/v1/incidents/{incident_id}/postmortem", headers=AUTH).text
    assert "- Error budget consumed during the incident: 18.0% (remaining 80.0% → 62.0%)" in text
    asked = _Prometheus.queries[-2:]
    expr = 'slo:error_budget_remaining:ratio{service="checkout",slo="availability"}'
    assert [q["query"][0] for q in asked] == [expr, expr]
    assert [float(q["time"][0]) for q in asked] == [OPENED, OPENED + 2400]


def test_postmortem_says_why_when_prometheus_is_down(harness: Harness, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from fireline.incidents.models import Incident
    from fireline.incidents.postmortem import prometheus_budget

    incident = Incident(id=1, service="checkout", slo="availability", opened_at=datetime(2026, 11, 29, tzinfo=UTC))
    reason = prometheus_budget(harness.capture.url, incident, datetime(2026, 11, 29, 1, tzinfo=UTC))
    assert reason == "Prometheus could not answer (PrometheusQueryError)"
    harness.capture.stop()
    reason = prometheus_budget(harness.capture.url, incident, datetime(2026, 11, 29, 1, tzinfo=UTC))
    assert reason == "Prometheus could not answer (PrometheusUnavailable)"
