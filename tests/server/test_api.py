"""The HTTP surface on bad input: 401, 413, 422 naming the field, 503 when storage is down; health, metrics."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from fireline.notify.capture import CaptureServer
from fireline.server.app import create_app
from fireline.server.context import make_context
from tests.server.harness import Harness
from tests.server.support import AUTH, TOKEN, alert, free_port, make_config, notification

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_intake_needs_the_bearer_token(harness: Harness) -> None:
    url = "/api/v1/alerts/alertmanager"
    body = notification(alert())
    assert harness.client.post(url, json=body).status_code == 401
    wrong = harness.client.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid bearer token"}
    assert harness.client.get("/api/v1/incidents").status_code == 401
    assert harness.get("/api/v1/incidents") == [], "nothing was recorded without the token"


@pytest.mark.parametrize("mutate,field", [
    (lambda b: b.update(version="3"), "version"),
    (lambda b: b.pop("alerts"), "alerts"),
    (lambda b: b.update(alerts=[]), "alerts"),
    (lambda b: b["alerts"][0].update(status="pending"), "alerts.0.status"),
    (lambda b: b["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
    (lambda b: b["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
    (lambda b: b["alerts"][0].update(labels=["not", "a", "map"]), "alerts.0.labels"),
])
def test_invalid_payload_is_422_naming_the_field(harness: Harness, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    body = notification(alert())
    mutate(body)
    response = harness.post_alerts(body)
    assert response.status_code == 422, response.text
    assert field in [problem["field"] for problem in response.json()["detail"]]
    assert harness.get("/api/v1/incidents") == []


def test_not_json_is_422(harness: Harness) -> None:
    response = harness.client.post("/api/v1/alerts/alertmanager", content=b"{nope",
                                   headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422


def test_body_over_the_size_cap_is_413(database_url: str, capture: CaptureServer, tmp_path: Path) -> None:
    with Harness.start(database_url, capture, tmp_path, server={"max_body_bytes": 4096}) as h:
        big = notification(*[alert(fingerprint=f"fp{i}") for i in range(20)])
        response = h.post_alerts(big)
        assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"]
        # Streamed without Content-Length: counted as it arrives.
        chunks = iter([b"{" + b" " * 3000, b" " * 3000 + b"}"])
        streamed = h.client.post("/api/v1/alerts/alertmanager", content=chunks,
                                 headers={**AUTH, "Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert h.post_alerts(notification(alert())).status_code == 200


def test_firing_alerts_with_year_one_end_and_nanoseconds_are_accepted(harness: Harness) -> None:
    result = harness.post_alerts(notification(alert(starts="2026-11-29T05:42:36.991650835Z"))).json()
    [stored] = harness.incident(result["incident_id"])["alerts"]
    assert stored["ends_at"] is None and stored["starts_at"].startswith("2026-11-29T05:42:36.99165")


def test_unknown_fields_from_newer_alertmanagers_are_ignored(harness: Harness) -> None:
    body = notification(alert())
    body["notification_reason"] = "repeat"
    body["alerts"][0]["somethingNew"] = 1
    assert harness.post_alerts(body).status_code == 200


def test_storage_down_is_503_so_alertmanager_retries(tmp_path: Path) -> None:
    # A PostgreSQL URL on a port where nothing listens: every request fails to connect.
    config = make_config(tmp_path, "http://127.0.0.1:9")
    ctx = make_context(config, database=f"postgresql://postgres@127.0.0.1:{free_port()}/none", token=TOKEN)
    app = create_app(ctx, extensions=[], run_scheduler=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/alerts/alertmanager", json=notification(alert()), headers=AUTH)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        assert "postgres" not in response.text, "no connection details in the answer"
        assert client.get("/api/v1/incidents", headers=AUTH).status_code == 503
        assert client.get("/healthz").status_code == 200, "liveness: the process serves"
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["reachable"] != "ok"
        assert client.get("/metrics").status_code == 200


def test_healthz_and_metrics(harness: Harness) -> None:
    health = harness.client.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] in ("sqlite", "postgresql")
    harness.post_alerts(notification(alert()))
    harness.post_alerts(notification(alert()))  # duplicate
    harness.tick()
    text = harness.client.get("/metrics").text
    assert 'fireline_intake_notifications_total{outcome="accepted"} 1.0' in text
    assert 'fireline_intake_notifications_total{outcome="duplicate"} 1.0' in text
    assert "fireline_intake_alerts_total 2.0" in text
    assert "fireline_intake_duration_seconds_count 2.0" in text
    assert 'fireline_open_incidents{kind="incident",severity="SEV1",status="triggered"} 1.0' in text
    assert 'fireline_outbox_depth{status="delivered"} 2.0' in text
    assert 'fireline_notifications_total{integration="pagerduty",outcome="delivered"} 1.0' in text
    assert "fireline_scheduler_leader 1.0" in text
    harness.clock.advance(minutes=15, seconds=3)
    harness.tick()
    text = harness.client.get("/metrics").text
    assert "fireline_escalation_lag_seconds_count 1.0" in text
    assert "fireline_escalation_lag_seconds_sum 3.0" in text


def test_openapi_has_an_example_for_every_endpoint(harness: Harness) -> None:
    spec = harness.client.get("/openapi.json").json()
    components = spec["components"]["schemas"]

    def has_example(schema: dict[str, Any]) -> bool:
        if "$ref" in schema:
            return bool(components[schema["$ref"].rsplit("/", 1)[-1]].get("examples"))
        if "items" in schema:
            return has_example(schema["items"])
        if "anyOf" in schema:
            return any(has_example(option) for option in schema["anyOf"])
        return "example" in schema or "examples" in schema

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") or operation.get("description"), (method, path)
            ok = next(r for code, r in operation["responses"].items() if code.startswith("2"))
            assert any("example" in c or has_example(c.get("schema", {})) for c in ok.get("content", {}).values()), (
                f"{method} {path}: no response example")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            assert body is None or has_example(body["schema"]), f"{method} {path}: no request example"
    assert components["AlertmanagerNotification"]["examples"][0]["version"] == "4"


def test_secrets_are_not_logged(harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    harness.capture.respond("/v2/enqueue", [500])
    harness.post_alerts(notification(alert()))
    harness.tick()
    logged = caplog.text
    assert "failed" in logged
    for secret in (TOKEN, (tmp_path / "secrets" / "pd.key").read_text().strip()):
        assert secret not in logged
