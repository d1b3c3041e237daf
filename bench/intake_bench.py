"""Intake throughput beside its floor, and intake-to-delivery latency under sustained load, of `fireline serve`.

Real processes on loopback: `fireline serve` (uvicorn, one worker per replica) with its scheduler delivering
to a local capture server, and the floor: the same app (same middlewares, same bearer-token check, same
Alertmanager payload validation) whose intake stores nothing. One run prints, per database:

1. intake throughput, 20 concurrent senders, one alert per notification: new groups (each opens an
   incident, snapshots its escalation, enqueues PagerDuty + Slack) and updates to open groups, fireline
   and floor side by side with the ratio;
2. sustained load: RATE alerts/s for DURATION s (one alert per notification, each a new group), paced;
   intake-to-delivery of the PagerDuty trigger at the capture server, p50/p99, and whether every page
   arrived exactly once. SQLite with one replica at 200/s, PostgreSQL with two replicas at 400/s.

    .venv/bin/python bench/intake_bench.py                 # both databases (PostgreSQL at 127.0.0.1:5432)
    .venv/bin/python bench/intake_bench.py --db sqlite     # one of them
    .venv/bin/python bench/intake_bench.py --quick         # smaller counts, 10 s of load: a smoke run

A benchmark, not a test: it prints Markdown tables and exits 1 only if a page was lost or repeated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from fireline.incidents.intake import AlertmanagerNotification
from fireline.notify.capture import CaptureServer
from fireline.server.app import Actor

TOKEN = "bench-token"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"fireline_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**PG, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with psycopg.connect(**PG, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(workdir: Path, capture: str) -> Path:
    (workdir / "pd.key").write_text("BENCHROUTINGKEY00000000000000032")
    (workdir / "slack.url").write_text(f"{capture}/slack")
    (workdir / "token").write_text(TOKEN)
    config = {
        "apiVersion": "fireline/v1", "kind": "Config", "default_receiver": "team-slack",
        "receivers": {
            "team-pager": {"pagerduty": {"routing_key_file": str(workdir / "pd.key"), "url": f"{capture}/v2/enqueue"}},
            "team-slack": {"slack": {"channel": "#bench", "api_url_file": str(workdir / "slack.url")}},
        },
        "teams": {"bench": {"page": ["team-pager", "team-slack"],
                            "escalation": [{"after": "0s", "notify": ["team-pager", "team-slack"]},
                                           {"after": "1h", "notify": ["team-slack"]}]}},
        "server": {"token_file": str(workdir / "token"), "max_body_bytes": 8_388_608, "scheduler_interval": "200ms"},
    }
    path = workdir / "fireline.yaml"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def serve(config: Path, url: str, log: Path, *, floor: bool = False) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "FIRELINE_TOKEN"}
    command = ([sys.executable, __file__, "--serve-floor", str(config), "--port", str(port)] if floor else
               [sys.executable, "-c", "from fireline.cli import main; main()", "serve", "--config", str(config),
                "--database", url, "--port", str(port), "--log-level", "warning"])
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"fireline serve exited:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"fireline serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def payload(group: str, alerts: int, first: int) -> dict[str, Any]:
    items = []
    for i in range(first, first + alerts):
        items.append({
            "status": "firing",
            "labels": {"alertname": "BenchErrorBudgetBurn", "service": f"svc-{group}", "slo": "availability",
                       "team": "bench", "severity": "critical", "fireline_severity": "page", "instance": f"i{i}"},
            "annotations": {"summary": f"svc-{group} availability: error budget burning 15x",
                            "description": "Burn rate over 1h: 15.20. Error budget left over 30d: 80%.",
                            "runbook_url": "https://runbooks.example.com/bench.md"},
            "startsAt": "2026-11-29T12:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{i:016x}",
        })
    return {"version": "4", "groupKey": f"{{}}:{{group=\"{group}\"}}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "fireline", "groupLabels": {"group": group}, "commonLabels": {"team": "bench"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": items}


def serve_floor(config: Path, port: int) -> None:
    """The floor: create_app's middlewares, token check and payload validation; intake stores nothing."""
    import uvicorn

    from fireline.server.app import create_app
    from fireline.server.context import make_context
    from fireline.spec.loader import load_config

    ctx = make_context(load_config(config), database="sqlite://")
    app = create_app(ctx, extensions=[], run_scheduler=False)

    @app.post("/api/v1/alerts/alertmanager")
    def floor_intake(notification: AlertmanagerNotification, _actor: Actor) -> dict[str, Any]:
        return {"duplicate": False, "incident_id": None, "opened": False, "alerts": len(notification.alerts),
                "note": "floor: validated, not stored"}

    # First match wins: the floor's intake goes before the incidents router's.
    app.router.routes.insert(0, app.router.routes.pop())

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def post(client: httpx.Client, base: str, body: dict[str, Any]) -> tuple[httpx.Response, int]:
    """Send like Alertmanager: retry 5xx and connection errors (with a short pause), never 4xx."""
    retries = 0
    last = ""
    while True:
        try:
            response = client.post(f"{base}/api/v1/alerts/alertmanager", json=body)
            last = f"{response.status_code} {response.text[:200]}"
            if response.status_code < 500:
                if response.status_code != 200:
                    raise RuntimeError(f"intake refused a valid notification: {response.status_code} {response.text}")
                return response, retries
        except httpx.TransportError as exc:
            last = type(exc).__name__
        retries += 1
        if retries > 50:
            raise RuntimeError(f"a notification kept failing: {last}")
        time.sleep(0.2)


def client() -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


@dataclass
class Throughput:
    notifications: int
    seconds: float
    latencies: list[float]
    retries: int

    @property
    def rate(self) -> float:
        return self.notifications / self.seconds


def throughput(bases: list[str], bodies: list[dict[str, Any]], senders: int = 20) -> Throughput:
    latencies: list[float] = []
    retries = 0
    lock = threading.Lock()

    def sender(index: int) -> None:
        nonlocal retries
        with client() as http:
            for n, body in enumerate(bodies[index::senders]):
                started = time.perf_counter()
                _, r = post(http, bases[(index + n) % len(bases)], body)
                with lock:
                    latencies.append(time.perf_counter() - started)
                    retries += r

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(sender, range(senders)))
    return Throughput(len(bodies), time.perf_counter() - started, latencies, retries)


@dataclass
class Sustained:
    database: str
    replicas: int
    rate: float
    seconds: float
    sent: int
    achieved: float
    delivery: list[float]
    pages: int
    repeated: int
    slack: int


def sustained(kind: str, bases: list[str], capture: CaptureServer, rate: float, seconds: float,
              prefix: str) -> Sustained:
    """Paced senders at `rate` notifications/s (one alert each, each a new group) for `seconds`."""
    capture.clear()
    senders = 40
    answered: dict[int, float] = {}
    lock = threading.Lock()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.5
    epoch = time.time() - time.perf_counter()

    def sender(index: int) -> None:
        with client() as http:
            for n in range(index, total, senders):
                due = start + n / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                response, _ = post(http, bases[n % len(bases)], payload(f"{prefix}-{n}", 1, 40_000_000 + n))
                incident = response.json()["incident_id"]
                with lock:
                    answered[incident] = epoch + time.perf_counter()

    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(sender, range(senders)))
    achieved = total / (time.perf_counter() - start)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        keys = {r.json().get("dedup_key") for r in capture.requests("/v2/enqueue")}
        if all(f"fireline-{i}" in keys for i in answered):
            break
        time.sleep(0.5)
    time.sleep(2)  # repeats would arrive now
    first: dict[int, float] = {}
    counts: dict[int, int] = {}
    for request in capture.requests("/v2/enqueue"):
        body = request.json()
        if body.get("event_action") != "trigger":
            continue
        incident = int(str(body["dedup_key"]).removeprefix("fireline-"))
        counts[incident] = counts.get(incident, 0) + 1
        first.setdefault(incident, request.received_at)
    delivery = [first[i] - at for i, at in answered.items() if i in first]
    return Sustained(kind, len(bases), rate, seconds, total, achieved, delivery, len(first),
                     sum(1 for i in answered if counts.get(i, 0) > 1), len(capture.requests("/slack")))


def run_database(kind: str, capture: CaptureServer, quick: bool) -> tuple[list[str], Sustained]:
    per = 300 if quick else 1500
    replicas = 1 if kind == "sqlite" else 2
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as tmp, database(kind, Path(tmp)) as url:
        work = Path(tmp)
        config = write_config(work, capture.url)
        new = [payload(f"new-{n}", 1, n) for n in range(per)]
        update = [payload(f"upd-{n % 20}", 1, 1_000_000 + n) for n in range(per)]
        results: dict[str, dict[str, Throughput]] = {}
        with serve(config, url, work / "floor.log", floor=True) as floor:
            results["floor"] = {"new": throughput([floor], new), "update": throughput([floor], update)}
        with contextlib.ExitStack() as stack:
            bases = [stack.enter_context(serve(config, url, work / f"serve{i}.log")) for i in range(replicas)]
            results["fireline"] = {"new": throughput(bases, new)}
            # Updates go to the 20 groups opened by their first notification.
            for group in range(20):
                with client() as http:
                    post(http, bases[0], payload(f"upd-{group}", 1, 2_000_000 + group))
            results["fireline"]["update"] = throughput(bases, update)
            for scenario in ("new", "update"):
                f, s = results["floor"][scenario], results["fireline"][scenario]
                rows.append(f"| {kind} ×{replicas} | {'new group' if scenario == 'new' else 'update to open group'} | "
                            f"{f.rate:.0f} | {s.rate:.0f} | {s.rate / f.rate:.0%} | "
                            f"{percentile(f.latencies, 0.5) * 1000:.1f} / {percentile(f.latencies, 0.99) * 1000:.1f} | "
                            f"{percentile(s.latencies, 0.5) * 1000:.1f} / {percentile(s.latencies, 0.99) * 1000:.1f} | "
                            f"{s.retries} |")
                print(rows[-1], file=sys.stderr)
            rate = 200.0 if kind == "sqlite" else 400.0
            load = sustained(kind, bases, capture, rate, 10.0 if quick else 60.0, f"load-{kind}")
    return rows, load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller counts, 10 s of load (smoke run)")
    parser.add_argument("--serve-floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor is not None:
        serve_floor(args.serve_floor, args.port)
        return 0
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    intake_rows: list[str] = []
    loads: list[Sustained] = []
    with CaptureServer() as capture:
        for kind in kinds:
            rows, load = run_database(kind, capture, args.quick)
            intake_rows += rows
            loads.append(load)
    load_avg = os.getloadavg()
    print(f"fireline serve intake, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs (load average {load_avg[0]:.1f} at the end: other work shares them), "
          "one uvicorn worker per replica, loopback HTTP, 20 senders, 1 alert per notification")
    print()
    print("| database | notifications | floor /s | fireline /s | fireline/floor | floor p50/p99 ms | "
          "fireline p50/p99 ms | 5xx retried |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(intake_rows))
    print()
    print("| database | target alerts/s | seconds | sent | achieved /s | pages delivered | page repeated | "
          "intake→page p50 s | p99 s | Slack messages (1/s per receiver) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    bad = False
    for load in loads:
        print(f"| {load.database} ×{load.replicas} | {load.rate:.0f} | {load.seconds:.0f} | {load.sent} | "
              f"{load.achieved:.0f} | {load.pages}/{load.sent} | {load.repeated} | "
              f"{percentile(load.delivery, 0.5):.2f} | {percentile(load.delivery, 0.99):.2f} | {load.slack} |")
        bad = bad or load.pages != load.sent or load.repeated > 0
    print()
    print("PAGES LOST OR REPEATED" if bad else "every page delivered exactly once")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
