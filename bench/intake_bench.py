"""Alertmanager-webhook intake throughput and latency of `fireline serve`, on SQLite and PostgreSQL.

A real `fireline serve` process (uvicorn, one worker) with its scheduler delivering notifications to a
local capture server; the bench sends Alertmanager v4 payloads over HTTP on loopback:

1. sequentially, 1, 10 and 100 alerts per notification (each notification a new alert group, so each
   opens an incident, snapshots its escalation and enqueues PagerDuty + Slack notifications): requests
   and alerts per second, p50/p99 latency of one notification;
2. a burst of 10,000 alerts from 20 concurrent senders (1 alert per notification, 100 groups), retrying
   a 5xx as Alertmanager does; afterwards every alert must be in the database: none lost.

    .venv/bin/python bench/intake_bench.py                 # both databases (PostgreSQL at 127.0.0.1:5432)
    .venv/bin/python bench/intake_bench.py --db sqlite     # one of them
    .venv/bin/python bench/intake_bench.py --quick         # smaller counts, a smoke run

A benchmark, not a test: it prints a table (Markdown) and exits 1 only if alerts were lost.
"""

from __future__ import annotations

import argparse
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
from sqlalchemy import create_engine, func, select

from fireline.incidents.models import IncidentAlert
from fireline.notify.capture import CaptureServer

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
        "server": {"token_file": str(workdir / "token"), "max_body_bytes": 8_388_608},
    }
    path = workdir / "fireline.yaml"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def serve(config: Path, url: str, log: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "FIRELINE_TOKEN"}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from fireline.cli import main; main()", "serve", "--config",
                                 str(config), "--database", url, "--port", str(port), "--log-level", "warning"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
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


@dataclass
class Row:
    database: str
    scenario: str
    notifications: int
    alerts: int
    seconds: float
    latencies: list[float]
    retries: int = 0
    stored: int | None = None

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def post(client: httpx.Client, base: str, body: dict[str, Any]) -> tuple[float, int]:
    """Send like Alertmanager: retry 5xx and connection errors (with a short pause), never 4xx."""
    retries = 0
    started = time.perf_counter()
    while True:
        try:
            response = client.post(f"{base}/api/v1/alerts/alertmanager", json=body)
            if response.status_code < 500:
                if response.status_code != 200:
                    raise RuntimeError(f"intake refused a valid notification: {response.status_code} {response.text}")
                return time.perf_counter() - started, retries
        except httpx.TransportError:
            pass
        retries += 1
        if retries > 50:
            raise RuntimeError("a notification kept failing")
        time.sleep(0.2)


def client() -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)


def sequential(kind: str, base: str, per_notification: int, notifications: int, prefix: str) -> Row:
    latencies: list[float] = []
    retries = 0
    with client() as http:
        post(http, base, payload(f"{prefix}-warmup", per_notification, 10_000_000))
        started = time.perf_counter()
        for n in range(notifications):
            latency, r = post(http, base, payload(f"{prefix}-{n}", per_notification, n * per_notification))
            latencies.append(latency)
            retries += r
        seconds = time.perf_counter() - started
    return Row(kind, f"{per_notification} alert(s)/notification", notifications, notifications * per_notification,
               seconds, latencies, retries)


def burst(kind: str, base: str, url: str, total: int, senders: int, groups: int) -> Row:
    per_sender = total // senders
    latencies: list[float] = []
    lock = threading.Lock()
    retries = 0

    def sender(index: int) -> None:
        nonlocal retries
        with client() as http:
            for k in range(per_sender):
                alert_id = 20_000_000 + index * per_sender + k
                latency, r = post(http, base, payload(f"burst-{alert_id % groups}", 1, alert_id))
                with lock:
                    latencies.append(latency)
                    retries += r

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(sender, range(senders)))
    seconds = time.perf_counter() - started
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count(func.distinct(IncidentAlert.fingerprint))).where(
            IncidentAlert.fingerprint >= f"{20_000_000:016x}",
            IncidentAlert.fingerprint < f"{20_000_000 + total:016x}")).scalar_one()
    engine.dispose()
    return Row(kind, f"burst: {senders} senders", per_sender * senders, per_sender * senders, seconds, latencies,
               retries, stored)


def table(rows: list[Row]) -> str:
    lines = ["| database | scenario | notifications | alerts | notifications/s | alerts/s | p50 ms | p99 ms | "
             "5xx retried | alerts stored |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        stored = "" if r.stored is None else f"{r.stored}/{r.alerts}"
        lines.append(f"| {r.database} | {r.scenario} | {r.notifications} | {r.alerts} | "
                     f"{r.notifications / r.seconds:.0f} | {r.alerts / r.seconds:.0f} | {r.percentile(0.5):.1f} | "
                     f"{r.percentile(0.99):.1f} | {r.retries} | {stored} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="smaller counts (smoke run)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    counts = {1: 300, 10: 150, 100: 40} if not args.quick else {1: 30, 10: 15, 100: 5}
    total, senders = (10_000, 20) if not args.quick else (1_000, 20)
    rows: list[Row] = []
    lost = False
    with CaptureServer() as capture:
        for kind in kinds:
            with tempfile.TemporaryDirectory(prefix="fireline-bench-") as tmp, database(kind, Path(tmp)) as url:
                work = Path(tmp)
                config = write_config(work, capture.url)
                with serve(config, url, work / "serve.log") as base:
                    for per, n in counts.items():
                        rows.append(sequential(kind, base, per, n, f"seq{per}"))
                        print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
                    row = burst(kind, base, url, total, senders, groups=100)
                    rows.append(row)
                    print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
                    lost = lost or row.stored != row.alerts
    print(f"fireline serve intake, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, one uvicorn worker; loopback HTTP; latency = one notification, committed")
    print()
    print(table(rows))
    print()
    print("ALERTS LOST" if lost else "no alert lost")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
