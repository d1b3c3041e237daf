"""prometheus.tenant and prometheus.headers reach the wire from every Prometheus client: checked on a
local HTTP server that records each request's headers and answers like Prometheus."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.clients.prometheus import PrometheusClient, PrometheusUnavailable
from fireline.incidents.models import Incident
from fireline.incidents.postmortem import prometheus_budget
from fireline.server.settings import PrometheusSettings
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config
from fireline.stack.drill import Drill, DrillOptions, DrillTarget
from fireline.ui import read as ui_read
from tests.conftest import EXAMPLES

SECRET = "s3cr3t-bearer-value"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


class Recorder:
    """Prometheus-shaped answers; every request's path and headers kept for the assertions."""

    def __init__(self, status: int = 200) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.status = status
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                recorder.seen.append((path, {k.lower(): v for k, v in self.headers.items()}))
                body = json.dumps(recorder.answer(path)).encode()
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> dict[str, Any]:
        if self.status >= 500:
            return {"status": "error", "error": "tenant overloaded"}
        if path == "/api/v1/query":
            return {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"service": "checkout"}, "value": [NOW.timestamp(), "0.5"]}]}}
        if path == "/api/v1/query_range":
            start = NOW.timestamp() - 3600
            return {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {}, "values": [[start + 60 * i, "1"] for i in range(61)]}]}}
        if path == "/api/v1/rules":
            return {"status": "success", "data": {"groups": [{"name": "g", "rules": [
                {"type": "alerting", "name": "CheckoutAvailabilityBurn", "query": "vector(1)", "labels": {},
                 "annotations": {}}]}]}}
        return {"status": "error", "error": f"no {path}"}

    def paths_with(self, name: str, value: str) -> set[str]:
        return {path for path, headers in self.seen if headers.get(name.lower()) == value}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    thread = threading.Thread(target=rec.server.serve_forever, daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def config(tmp_path: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Path:
    token = tmp_path / "prometheus.token"
    token.write_text(f"Bearer {SECRET}\n", encoding="utf-8")
    (tmp_path / "tenant").write_text("team-a\n", encoding="utf-8")
    monkeypatch.setenv("FIRELINE_TEST_REGION", "eu-1")
    text = (EXAMPLES / "fireline.yaml").read_text(encoding="utf-8") + (
        f"prometheus:\n  url: {recorder.url}\n  tenant: {{file: {tmp_path / 'tenant'}}}\n"
        f"  headers:\n    Authorization: {{file: {token}}}\n    X-Region: {{env: FIRELINE_TEST_REGION}}\n")
    path = tmp_path / "fireline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _settings(config: Path) -> PrometheusSettings:
    return load_config(config).prometheus


def _every_request_carried_them(recorder: Recorder, paths: set[str]) -> None:
    assert {path for path, _ in recorder.seen} == paths
    for name, value in (("X-Scope-OrgID", "team-a"), ("Authorization", f"Bearer {SECRET}"), ("X-Region", "eu-1")):
        assert recorder.paths_with(name, value) == paths, (name, recorder.seen)


def test_the_shared_client_sends_tenant_and_headers_on_every_call(recorder: Recorder, config: Path) -> None:
    with PrometheusClient.from_settings(_settings(config)) as client:
        assert client.query_value('sum(up{service="checkout"})', NOW) == 0.5
        assert len(client.query_range("up", NOW - timedelta(hours=1), NOW, 60)[0].points) == 61
        assert [r["name"] for r in client.alerting_rules()] == ["CheckoutAvailabilityBurn"]
    _every_request_carried_them(recorder, {"/api/v1/query", "/api/v1/query_range", "/api/v1/rules"})


def test_postmortem_ui_simulate_and_drill_send_them(recorder: Recorder, config: Path) -> None:
    settings = _settings(config)
    incident = Incident(service="checkout", slo="availability", opened_at=NOW - timedelta(hours=1),
                        resolved_at=NOW)
    impact = prometheus_budget(settings, incident, NOW)
    assert not isinstance(impact, str) and impact.remaining_before == 0.5
    # the UI's charts read through the same client, given the server's prometheus section
    ctx: Any = SimpleNamespace(prometheus=settings)
    window = ui_read.ChartRange(NOW - timedelta(hours=1), NOW, 60.0)
    assert len(ui_read.range_series(ctx, "up", window)) == 61
    result = CliRunner().invoke(app, ["simulate", str(EXAMPLES / "checkout.yaml"), "--slo", "availability",
                                      "--prometheus", recorder.url, "--since", "1h", "-c", str(config)])
    assert result.exit_code == 0, result.output
    drill = Drill(DrillTarget(alertmanagers=[], expected=[], prometheus=recorder.url,
                              prometheus_headers=settings.request_headers()), DrillOptions())
    assert [r["alert"] for r in drill._alert_rules()] == ["CheckoutAvailabilityBurn"]
    _every_request_carried_them(recorder, {"/api/v1/query", "/api/v1/query_range", "/api/v1/rules"})


def test_values_never_appear_in_errors(recorder: Recorder, config: Path, tmp_path: Path) -> None:
    recorder.status = 503
    with PrometheusClient.from_settings(_settings(config)) as client, \
            pytest.raises(PrometheusUnavailable) as caught:
        client.query("up", NOW)
    assert SECRET not in str(caught.value) and "team-a" not in str(caught.value)
    missing = PrometheusSettings.model_validate(
        {"url": recorder.url, "headers": {"Authorization": {"file": str(tmp_path / "gone")}}})
    with pytest.raises(PrometheusUnavailable, match=r"prometheus.headers.Authorization: cannot read .*gone"):
        PrometheusClient.from_settings(missing)


def test_inline_header_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "fireline.yaml"
    path.write_text("apiVersion: fireline/v1\nkind: Config\nprometheus:\n  url: http://127.0.0.1:9\n"
                    "  headers:\n    Authorization: Bearer abc\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_config(path)
    assert "prometheus.headers.Authorization" in str(caught.value.problems[0])
    assert "abc" not in str(caught.value.problems[0])
