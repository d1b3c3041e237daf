"""`fireline demo-service`: a small HTTP service with real request metrics and fault injection.

It stands in for the three example services (examples/), each instrumented with prometheus-client
as most services are, each on its own metrics path so that Prometheus scrapes it as its own job:

    checkout   GET /api/checkout   /metrics            http_requests_total{code}, histogram
                                                       http_request_duration_seconds
    search     GET /api/search     /metrics/search     search_requests_total, search_requests_failed_total
    myservice  GET /api/myservice  /metrics/myservice  histogram http_request_duration_seconds{code}

A background client sends them steady traffic over real HTTP (checkout at --rps, the other two at
half of it), so every sample Prometheus scrapes comes from a request that happened. `POST /control`
injects an error rate and added latency (checkout's unless the body names `"service"`), so a drill
can start an incident on demand and measure how long the page takes. stack/history.py writes the
same series for the 30 days before the stack started (`fireline stack up --history 30d`).
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Buckets around the example latency SLO's 0.5s threshold.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MYSERVICE_BUCKETS = (0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class DemoApp:
    """One example service the demo serves: its scrape job (the examples' selectors name it), the
    path one request takes, where its metrics are, and its share of the traffic rate."""

    job: str
    api_path: str
    metrics_path: str
    traffic_share: float


CHECKOUT = DemoApp("checkout", "/api/checkout", "/metrics", 1.0)
SEARCH = DemoApp("search", "/api/search", "/metrics/search", 0.5)
MYSERVICE = DemoApp("myservice", "/api/myservice", "/metrics/myservice", 0.5)
DEMO_APPS = (CHECKOUT, SEARCH, MYSERVICE)


@dataclass
class Faults:
    error_rate: float = 0.0  # share of requests answered 500
    latency_seconds: float = 0.0  # added to every request

    def validate(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not 0.0 <= self.latency_seconds <= 10.0:
            raise ValueError("latency_seconds must be between 0 and 10")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-reply (the traffic thread stopping, a drill's short timeout) is
        # normal here; the stdlib default prints a traceback for it.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        print(f"demo service: error serving {client_address}: {error!r}", file=sys.stderr)


class DemoService:
    def __init__(self, *, rps: float = 10.0, seed: int | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests served.", ["code"], registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "HTTP request latency.",
                                  buckets=LATENCY_BUCKETS, registry=self.registry)
        # Every code exists from the start, so error-ratio queries see 0 errors rather than no data.
        self.requests.labels(code="200")
        self.requests.labels(code="500")
        self.search_registry = CollectorRegistry()
        self.searches = Counter("search_requests", "Search queries answered.", registry=self.search_registry)
        self.searches_failed = Counter("search_requests_failed", "Search queries that failed.",
                                       registry=self.search_registry)
        self.myservice_registry = CollectorRegistry()
        self.myservice_duration = Histogram("http_request_duration_seconds", "HTTP request latency.", ["code"],
                                            buckets=MYSERVICE_BUCKETS, registry=self.myservice_registry)
        for code in ("200", "429", "500"):
            self.myservice_duration.labels(code=code)
        self.app_faults = {app.job: Faults() for app in DEMO_APPS}
        self.registries = {CHECKOUT.metrics_path: self.registry, SEARCH.metrics_path: self.search_registry,
                           MYSERVICE.metrics_path: self.myservice_registry}
        self.rps = rps
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- request handling --------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """checkout's faults (the drill's target)."""
        return self.app_faults[CHECKOUT.job]

    def _serve_one(self, app: DemoApp) -> tuple[bool, float]:
        """Decide one request's fate under the app's faults; returns (failed, seconds it took)."""
        started = time.monotonic()
        with self._lock:
            faults = Faults(**asdict(self.app_faults[app.job]))
            failed = self._random.random() < faults.error_rate
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        return failed, time.monotonic() - started

    def handle_checkout(self) -> int:
        failed, took = self._serve_one(CHECKOUT)
        code = 500 if failed else 200
        self.requests.labels(code=str(code)).inc()
        self.duration.observe(took)
        return code

    def handle_search(self) -> int:
        failed, _ = self._serve_one(SEARCH)
        self.searches.inc()
        if failed:
            self.searches_failed.inc()
        return 500 if failed else 200

    def handle_myservice(self) -> int:
        failed, took = self._serve_one(MYSERVICE)
        code = 500 if failed else 200
        self.myservice_duration.labels(code=str(code)).observe(took)
        return code

    def handle(self, path: str) -> int | None:
        """Serve one API request; None for a path that is no demo app's."""
        handlers = {CHECKOUT.api_path: self.handle_checkout, SEARCH.api_path: self.handle_search,
                    MYSERVICE.api_path: self.handle_myservice}
        handler = handlers.get(path)
        return None if handler is None else handler()

    def set_faults(self, body: dict[str, Any]) -> Faults:
        unknown = set(body) - {"error_rate", "latency_seconds", "service"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}; "
                             "expected error_rate, latency_seconds, service")
        job = body.get("service", CHECKOUT.job)
        if job not in self.app_faults:
            raise ValueError(f"service {job!r} is not served here; one of {', '.join(self.app_faults)}")
        with self._lock:
            merged = {**asdict(self.app_faults[job]), **{k: v for k, v in body.items() if k != "service"}}
            try:
                faults = Faults(
                    error_rate=float(merged["error_rate"]), latency_seconds=float(merged["latency_seconds"])
                )
            except (TypeError, ValueError):
                raise ValueError("error_rate and latency_seconds must be numbers") from None
            faults.validate()
            self.app_faults[job] = faults
            return faults

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0, *, traffic: bool = True) -> int:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # steady traffic would flood the log

            def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                registry = service.registries.get(path)
                if registry is not None:
                    self._reply(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/control":
                    job = parse_qs(query).get("service", [CHECKOUT.job])[0]
                    faults = service.app_faults.get(job)
                    if faults is None:
                        self._reply(404, json.dumps({"error": f"service {job!r} is not served here"}).encode())
                    else:
                        self._reply(200, json.dumps(asdict(faults)).encode())
                elif (code := service.handle(path)) is not None:
                    self._reply(code, json.dumps({"status": "ok" if code == 200 else "error"}).encode())
                elif self.path == "/healthz":
                    self._reply(200, b'{"status": "ok"}')
                else:
                    self._reply(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                if self.path != "/control":
                    self._reply(404, b'{"error": "not found"}')
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                    if length > 4096:
                        raise ValueError("body too large")
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("expected a JSON object")
                    faults = service.set_faults(body)
                except (ValueError, json.JSONDecodeError) as exc:
                    self._reply(HTTPStatus.BAD_REQUEST, json.dumps({"error": str(exc)}).encode())
                    return
                self._reply(200, json.dumps(asdict(faults)).encode())

        self._server = _QuietServer((host, port), Handler)
        bound = int(self._server.server_address[1])
        serving = threading.Thread(target=self._server.serve_forever, name="demo-service-http", daemon=True)
        serving.start()
        self._threads.append(serving)
        if traffic and self.rps > 0:
            load = threading.Thread(target=self._traffic, args=(f"http://{host}:{bound}",), daemon=True,
                                    name="demo-service-traffic")
            load.start()
            self._threads.append(load)
        return bound

    def _traffic(self, base_url: str) -> None:
        # A fixed schedule, not "sleep after each request": injected latency must not slow the rate.
        # Each app's share of the ticks is exact: an app with share 0.5 gets every other tick.
        interval = 1.0 / self.rps
        next_at = time.monotonic()
        credit = {app.job: 0.0 for app in DEMO_APPS}
        with httpx.Client(base_url=base_url, timeout=15.0) as client:
            while not self._stop.is_set():
                next_at += interval
                for app in DEMO_APPS:
                    credit[app.job] += app.traffic_share
                    if credit[app.job] >= 1.0:
                        credit[app.job] -= 1.0
                        threading.Thread(target=self._one_request, args=(client, app.api_path),
                                         daemon=True).start()
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    @staticmethod
    def _one_request(client: httpx.Client, path: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the service is stopping
            client.get(path)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
