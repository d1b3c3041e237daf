"""Fixtures for the policy engine: a real Prometheus backfilled with a known history, a capture server.

The history is written as OpenMetrics and turned into TSDB blocks by `promtool tsdb
create-blocks-from openmetrics`; the test knows every sample it wrote, so it can work out the
exact budget at any time and compare it with what the engine reads back from Prometheus.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

STEP = timedelta(minutes=5)
RATE = 10.0  # requests per second, constant
START = datetime(2026, 8, 20, tzinfo=UTC)
END = datetime(2026, 10, 5, tzinfo=UTC)
OBJECTIVE = 99.0  # budget: 1% of events
WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Burst:
    start: datetime
    end: datetime
    errors: float  # total bad requests, spread evenly over the burst's samples (never more than served)

    def per_step(self) -> float:
        return self.errors / ((self.end - self.start) / STEP)


WEEK_EVENTS = RATE * WINDOW.total_seconds()
WEEK_BUDGET = WEEK_EVENTS * (100 - OBJECTIVE) / 100
# Four bursts walk a 7d budget down through every tier (left: 70, 45, 20, 5 percent); B2 is spread
# over 12 hours so that, when it leaves the window, the budget climbs slowly across a boundary.
BURSTS = [
    Burst(datetime(2026, 9, 10, 10, tzinfo=UTC), datetime(2026, 9, 10, 11, tzinfo=UTC), 0.30 * WEEK_BUDGET),
    Burst(datetime(2026, 9, 11, 0, tzinfo=UTC), datetime(2026, 9, 11, 12, tzinfo=UTC), 0.25 * WEEK_BUDGET),
    Burst(datetime(2026, 9, 12, 10, tzinfo=UTC), datetime(2026, 9, 12, 11, tzinfo=UTC), 0.25 * WEEK_BUDGET),
    Burst(datetime(2026, 9, 13, 10, tzinfo=UTC), datetime(2026, 9, 13, 11, tzinfo=UTC), 0.15 * WEEK_BUDGET),
    # Late in September, 10 hours at 90% errors: more than the calendar month's whole budget.
    Burst(datetime(2026, 9, 28, 0, tzinfo=UTC), datetime(2026, 9, 28, 10, tzinfo=UTC), 120 * 2700.0),
]


@dataclass
class History:
    """Cumulative counters at every sample time, as written to Prometheus."""

    times: list[datetime] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)

    def increase(self, series: list[float], start: datetime, end: datetime) -> float:
        """Counter increase over samples in (start, end]: what Prometheus' rate x range approximates."""
        first = max(0, int((start - START) / STEP))
        last = int((end - START) / STEP)
        return series[min(last, len(series) - 1)] - series[min(first, len(series) - 1)]

    def remaining(self, start: datetime, end: datetime, excluded: list[tuple[datetime, datetime]] = ()) -> float:
        events = self.increase(self.total, start, end)
        errors = self.increase(self.errors, start, end)
        for a, b in excluded:
            events -= self.increase(self.total, a, b)
            errors -= self.increase(self.errors, a, b)
        return 1 - (errors / events) / ((100 - OBJECTIVE) / 100)


def build_history() -> History:
    history = History()
    total = errors = 0.0
    at = START
    while at <= END:
        history.times.append(at)
        history.total.append(total)
        history.errors.append(errors)
        at += STEP
        total += RATE * STEP.total_seconds()
        for burst in BURSTS:
            if burst.start < at <= burst.end:
                errors += burst.per_step()
    return history


def openmetrics(history: History) -> str:
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served by checkout."]
    for code, series in (("200", None), ("500", history.errors)):
        for i, at in enumerate(history.times):
            value = history.total[i] - history.errors[i] if series is None else series[i]
            lines.append(f'http_requests_total{{job="checkout",code="{code}"}} {value:.3f} {at.timestamp():.0f}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    data: Path
    port: int

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_prometheus(data: Path, tmp: Path, port: int | None = None) -> PrometheusServer:
    port = port or free_port()
    config = tmp / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\n", encoding="utf-8")
    log = (tmp / f"prometheus-{port}.log").open("wb")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(tmp / f'prometheus-{port}.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return PrometheusServer(url, process, data, port)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("prometheus did not become ready in 60s")


@pytest.fixture(scope="session")
def history() -> History:
    return build_history()


def serve_openmetrics(tmp: Path, text: str) -> Iterator[PrometheusServer]:
    """A real Prometheus over the given OpenMetrics history (backfilled with promtool), stopped afterwards."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.skip("prometheus and promtool are needed (Debian package prometheus)")
    source = tmp / "history.om"
    source.write_text(text, encoding="utf-8")
    data = tmp / "data"
    # Blocks of up to 24h keep the block count (and Prometheus' start-up) small.
    done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h",
                           str(source), str(data)], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    server = start_prometheus(data, tmp)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory, history: History) -> Iterator[PrometheusServer]:
    yield from serve_openmetrics(tmp_path_factory.mktemp("prometheus"), openmetrics(history))


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: Any


class CaptureServer:
    """Records every POST (Slack, PagerDuty, webhooks, ticket APIs) and answers 201 with a ticket URL."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.fail_next = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                with lock:
                    if outer.fail_next > 0:
                        outer.fail_next -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    body = json.loads(raw) if raw else None
                    outer.requests.append(Captured(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                   body))
                    number = len(outer.requests)
                answer = json.dumps({"number": number, "html_url": f"http://tracker/issues/{number}"}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[Captured]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    try:
        yield server
    finally:
        server.close()


def hours(start: datetime, end: datetime, step: timedelta = timedelta(hours=1)) -> Iterator[datetime]:
    at = start
    while at <= end:
        yield at
        at += step
