"""The demo service counts real requests and injects faults on demand."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from fireline.stack.demo_service import DemoService


def _samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@pytest.fixture
def service() -> Iterator[DemoService]:
    svc = DemoService(rps=50, seed=7)
    yield svc
    svc.stop()


def test_traffic_errors_and_latency_show_in_metrics(service: DemoService) -> None:
    port = service.start()
    base = f"http://127.0.0.1:{port}"
    time.sleep(1.0)
    metrics = _samples(httpx.get(f"{base}/metrics").text, "http_requests_total")
    assert metrics['http_requests_total{code="200"}'] >= 20
    assert metrics['http_requests_total{code="500"}'] == 0
    assert httpx.post(f"{base}/control", json={"error_rate": 1.0}).json() == {
        "error_rate": 1.0, "latency_seconds": 0.0}
    assert httpx.get(f"{base}/api/checkout").status_code == 500
    time.sleep(0.5)
    after = _samples(httpx.get(f"{base}/metrics").text, "http_requests_total")
    assert after['http_requests_total{code="500"}'] >= 10
    httpx.post(f"{base}/control", json={"error_rate": 0, "latency_seconds": 0.6})
    started = time.monotonic()
    assert httpx.get(f"{base}/api/checkout", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.6
    slow = _samples(httpx.get(f"{base}/metrics").text, "http_request_duration_seconds_bucket")
    bucket = "http_request_duration_seconds_bucket"
    assert slow[bucket + '{le="+Inf"}'] > slow[bucket + '{le="0.5"}']


@pytest.mark.parametrize(
    ("body", "message"),
    [({"error_rate": 2}, "between 0 and 1"), ({"eror_rate": 1}, "unknown field"), ({"error_rate": "x"}, "numbers"),
     ([1], "JSON object")],
)
def test_bad_control_input_is_a_400_with_a_reason(service: DemoService, body: object, message: str) -> None:
    port = service.start(traffic=False)
    response = httpx.post(f"http://127.0.0.1:{port}/control", json=body)
    assert response.status_code == 400 and message in response.json()["error"]


def test_search_and_myservice_have_their_own_metrics_and_faults(service: DemoService) -> None:
    port = service.start()
    base = f"http://127.0.0.1:{port}"
    time.sleep(1.0)
    search = _samples(httpx.get(f"{base}/metrics/search").text, "search_requests")
    assert search["search_requests_total"] >= 10 and search["search_requests_failed_total"] == 0
    assert "http_requests_total" not in httpx.get(f"{base}/metrics/search").text
    assert httpx.post(f"{base}/control", json={"service": "search", "error_rate": 1.0}).status_code == 200
    assert httpx.get(f"{base}/api/search").status_code == 500
    assert httpx.get(f"{base}/api/checkout").status_code == 200  # checkout's faults are its own
    assert httpx.get(f"{base}/control?service=search").json()["error_rate"] == 1.0
    mine = _samples(httpx.get(f"{base}/metrics/myservice").text, "http_request_duration_seconds_count")
    assert mine['http_request_duration_seconds_count{code="200"}'] >= 10
    assert mine['http_request_duration_seconds_count{code="429"}'] == 0
    response = httpx.post(f"{base}/control", json={"service": "billing", "error_rate": 1.0})
    assert response.status_code == 400 and "billing" in response.json()["error"]
