"""Storage faults: every database error in a request is a 503 with Retry-After, no request waits longer
than server.request_timeout, /readyz says whether the database is reachable, migrated and writable while
/healthz stays liveness, and SIGTERM drains and exits within 10 s."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from fireline.notify.capture import CaptureServer
from fireline.server.app import create_app
from fireline.server.context import make_context
from fireline.server.db import migrate
from tests.server.faults import SilentReceiver, TcpProxy
from tests.server.harness import Harness
from tests.server.process import ServeProcess, wait_until
from tests.server.support import AUTH, PG_HOST, PG_PORT, alert, database, make_config, notification, write_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TIMEOUT = 2.0
FAST = {"request_timeout": "2s"}
# Seen from the sender, an answer also waits for 50 senders' connections on a shared 2-core machine.
SLACK = 3.0


def _assert_503(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0


@pytest.fixture
def proxied_postgres(tmp_path: Path) -> Iterator[tuple[TcpProxy, str]]:
    with database("postgresql", tmp_path) as url, TcpProxy(PG_HOST, PG_PORT) as proxy:
        yield proxy, proxy.url(str(make_url(url).database))


@pytest.mark.slow
def test_a_blackholed_postgres_gets_every_request_a_503_in_time(proxied_postgres: tuple[TcpProxy, str],
                                                                capture: CaptureServer, tmp_path: Path) -> None:
    proxy, url = proxied_postgres
    config = write_config(tmp_path, capture.url, server=FAST)
    server = ServeProcess(config, url, tmp_path / "serve.log").start()
    try:
        assert server.post_alerts(notification(alert())).status_code == 200
        proxy.blackhole()

        def post(i: int) -> tuple[int, float, str | None]:
            started = time.monotonic()
            response = http.post("/api/v1/alerts/alertmanager", headers=AUTH,
                                 json=notification(alert(fingerprint=f"b{i}"), group_key=f"g{i}"))
            return response.status_code, time.monotonic() - started, response.headers.get("retry-after")

        limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
        with httpx.Client(base_url=server.url, timeout=30, limits=limits) as http, \
                ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(post, range(50)))
        assert {status for status, _, _ in answers} == {503}, answers
        assert all(retry for _, _, retry in answers)
        assert max(seconds for _, seconds, _ in answers) < TIMEOUT + SLACK, sorted(s for _, s, _ in answers)
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200, "still alive"
        started = time.monotonic()
        assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 503
        assert time.monotonic() - started < TIMEOUT + SLACK
        # The network comes back; the connections it broke are reset (as tcp_user_timeout does on a real one).
        proxy.cut()
        proxy.restore()
        wait_until(lambda: server.post_alerts(notification(alert(fingerprint="after"), group_key="after"))
                   .status_code == 200, 20, "intake to recover")
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        proxy.cut()
        server.stop()


def test_a_lost_connection_is_503_and_the_next_request_reconnects(proxied_postgres: tuple[TcpProxy, str],
                                                                  capture: CaptureServer, tmp_path: Path) -> None:
    proxy, url = proxied_postgres
    with Harness.start(url, capture, tmp_path, server=FAST) as h:
        assert h.post_alerts(notification(alert())).status_code == 200
        proxy.cut()
        _assert_503(h.post_alerts(notification(alert(fingerprint="x"))))
        _assert_503(h.client.get("/api/v1/incidents", headers=AUTH))
        proxy.restore()
        assert h.post_alerts(notification(alert(fingerprint="y"))).status_code == 200


def test_a_pool_timeout_is_503(capture: CaptureServer, tmp_path: Path) -> None:
    with database("postgresql", tmp_path) as url, Harness.start(url, capture, tmp_path, server=FAST) as h:
        held = [h.ctx.db.engine.connect() for _ in range(20)]  # pool_size 10 + max_overflow 10: none left
        try:
            started = time.monotonic()
            _assert_503(h.client.get("/api/v1/incidents", headers=AUTH))
            _assert_503(h.post_alerts(notification(alert())))
            assert time.monotonic() - started < 2 * TIMEOUT
        finally:
            for connection in held:
                connection.close()
        assert h.post_alerts(notification(alert())).status_code == 200


def test_statement_and_lock_timeouts_are_set_and_end_in_503(capture: CaptureServer, tmp_path: Path) -> None:
    with database("postgresql", tmp_path) as url, Harness.start(url, capture, tmp_path, server=FAST) as h:
        with h.ctx.db.engine.connect() as connection:
            settings = {name: connection.exec_driver_sql(f"SHOW {name}").scalar()
                        for name in ("statement_timeout", "lock_timeout")}
        assert settings == {"statement_timeout": "1600ms", "lock_timeout": "1600ms"}
        incident = h.post_alerts(notification(alert())).json()["incident_id"]
        parsed = make_url(url)
        with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                             dbname=parsed.database) as holder:
            holder.execute("SELECT id FROM incidents WHERE id = %s FOR UPDATE", (incident,))
            started = time.monotonic()
            _assert_503(h.post(f"/api/v1/incidents/{incident}/ack"))
            assert time.monotonic() - started < TIMEOUT + 1
        assert h.post(f"/api/v1/incidents/{incident}/ack").status_code == 200


def test_a_locked_sqlite_database_is_503_and_not_ready(capture: CaptureServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fireline.db'}"
    with Harness.start(url, capture, tmp_path, server=FAST) as h:
        assert h.client.get("/readyz").status_code == 200
        holder = sqlite3.connect(tmp_path / "fireline.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            _assert_503(h.post_alerts(notification(alert())))
            ready = h.client.get("/readyz")
            _assert_503(ready)
            # Every SQLite transaction takes the write lock first (BEGIN IMMEDIATE), so the first check says it.
            assert any("locked" in reason for reason in ready.json()["checks"].values()), ready.json()
            assert h.client.get("/healthz").status_code == 200
            assert time.monotonic() - started < 3 * TIMEOUT
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert h.post_alerts(notification(alert())).status_code == 200


def test_a_read_only_sqlite_file_is_not_ready_and_intake_is_503(capture: CaptureServer, tmp_path: Path) -> None:
    path = tmp_path / "fireline.db"
    migrate(f"sqlite:///{path}")
    config = make_config(tmp_path, capture.url, server=FAST)
    ctx = make_context(config, database=f"sqlite:///file:{path}?mode=ro&uri=true", token=None)
    app = create_app(ctx, extensions=[], run_scheduler=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/healthz").status_code == 200, "alive"
            ready = client.get("/readyz")
            _assert_503(ready)
            checks = ready.json()["checks"]
            assert checks["reachable"] == "ok" and checks["migrated"] == "ok"
            assert "readonly" in checks["writable"]
            _assert_503(client.post("/api/v1/alerts/alertmanager", json=notification(alert()), headers=AUTH))
    finally:
        ctx.db.dispose()


def test_missing_postgres_tables_are_not_ready_and_intake_is_503(capture: CaptureServer, tmp_path: Path) -> None:
    with database("postgresql", tmp_path) as url, Harness.start(url, capture, tmp_path, server=FAST) as h:
        assert h.client.get("/readyz").json()["checks"] == {"reachable": "ok", "migrated": "ok", "writable": "ok"}
        with h.ctx.db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE timeline_events, incident_alerts, action_items, incidents")
        ready = h.client.get("/readyz")
        _assert_503(ready)
        assert ready.json()["checks"]["migrated"].startswith("tables missing: action_items, incident_alerts")
        _assert_503(h.post_alerts(notification(alert())))
        _assert_503(h.client.get("/api/v1/incidents", headers=AUTH))
        with h.ctx.db.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM alembic_version")
        assert "no revision" in h.client.get("/readyz").json()["checks"]["migrated"]


def test_a_request_gets_an_answer_within_the_timeout_whatever_hangs(capture: CaptureServer, tmp_path: Path) -> None:
    # A handler stuck on something no database timeout bounds: the middleware answers anyway.
    with Harness.start(f"sqlite:///{tmp_path / 'f.db'}", capture, tmp_path, server=FAST) as h:
        release = threading.Event()
        original = h.ctx.db.readiness

        def hang(heads: set[str]) -> dict[str, str]:
            release.wait(30)
            return original(heads)

        h.ctx.db.readiness = hang  # type: ignore[method-assign]
        try:
            started = time.monotonic()
            response = h.client.get("/readyz")
            _assert_503(response)
            assert "request_timeout" in response.json()["detail"]
            assert time.monotonic() - started < TIMEOUT + 1
        finally:
            release.set()


@pytest.mark.slow
def test_sigterm_drains_and_exits_within_10_seconds(capture: CaptureServer, tmp_path: Path) -> None:
    # Deliveries hang on a receiver that never answers and intake keeps arriving while SIGTERM comes.
    silent = SilentReceiver()
    config = write_config(tmp_path, capture.url, server={"outbox": {"timeout": "30s"}},
                          extra_receivers={"hung": {"webhook": {"url": silent.url}}},
                          escalation=[{"after": "0s", "notify": ["hung", "payments-slack"]}])
    server = ServeProcess(config, f"sqlite:///{tmp_path / 'fireline.db'}", tmp_path / "serve.log").start()
    answers: list[int | str] = []
    stop = threading.Event()

    def sender(index: int) -> None:
        n = 0
        while not stop.is_set() and n < 200:
            n += 1
            try:
                answers.append(httpx.post(f"{server.url}/api/v1/alerts/alertmanager", headers=AUTH, timeout=15,
                                          json=notification(alert(fingerprint=f"s{index}-{n}"),
                                                            group_key=f"g{index}-{n}")).status_code)
            except httpx.TransportError as exc:
                answers.append(type(exc).__name__)
                return
    try:
        threads = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(answers) >= 20, 30, "intake under way")
        assert server.proc is not None
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=15)
        elapsed = time.monotonic() - started
        stop.set()
        for thread in threads:
            thread.join(20)
    finally:
        stop.set()
        server.stop()
        silent.close()
    assert elapsed < 10.0, f"exited after {elapsed:.1f}s"
    assert code in (0, -signal.SIGTERM), "uvicorn ends by re-raising SIGTERM after its graceful shutdown"
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
    # Answers before the stop are 200; afterwards senders find the port closed (and retry elsewhere).
    assert all(a == 200 or isinstance(a, str) for a in answers), set(map(str, answers))
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log[-3000:]
