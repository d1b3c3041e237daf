"""Logins: failed ones limited per client (429 with Retry-After, logged); logout and token rotation
revoke sessions server-side, on every replica sharing the database."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fireline.policy.server import extension as policy_extension
from fireline.server.app import create_app
from fireline.server.context import make_context
from fireline.server.db import migrate
from fireline.spec.config import Config
from fireline.ui import auth
from fireline.ui.routes import extension as ui_extension
from tests.server.support import database
from tests.ui.support import TOKEN, alert, config_data, notification

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@contextmanager
def replica(tmp: Path, url: str) -> Iterator[TestClient]:
    """One `fireline serve` replica in process (policy + UI, token from server.token_file), scheduler off."""
    config = Config.model_validate(config_data(tmp, "http://127.0.0.1:9"))
    ctx = make_context(config, database=url, environ={})
    app = create_app(ctx, extensions=[policy_extension(), ui_extension()], run_scheduler=False)
    migrate(ctx.db.url)
    try:
        with TestClient(app, raise_server_exceptions=False, base_url="http://testserver") as client:
            yield client
    finally:
        ctx.db.dispose()


def _csrf(client: TestClient, path: str = "/login") -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert match is not None
    return match.group(1)


def _login(client: TestClient, token: str = TOKEN) -> int:
    return client.post("/login", data={"csrf_token": _csrf(client), "token": token, "name": "alice", "next": "/"},
                       follow_redirects=False).status_code


def _logged_in(client: TestClient) -> bool:
    return "Log out" in client.get("/incidents").text


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as found:
        yield found


def test_failed_logins_are_limited_per_client_then_429_with_retry_after(
        url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with replica(tmp_path, url) as client:
        caplog.set_level(logging.WARNING, "fireline.ui")
        statuses = [_login(client, "wrong-" + str(i)) for i in range(auth.LOGIN_FAILURES + 5)]
        assert statuses[:auth.LOGIN_FAILURES] == [401] * auth.LOGIN_FAILURES
        assert set(statuses[auth.LOGIN_FAILURES:]) == {429}
        refused = client.post("/login", data={"csrf_token": _csrf(client), "token": TOKEN, "name": "alice"},
                              follow_redirects=False)
        assert refused.status_code == 429, "the right token does not get through the limit either"
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= auth.LOGIN_WINDOW_SECONDS
        assert "Too many failed logins" in refused.text
        assert any("login refused for testclient" in r.getMessage() for r in caplog.records)
        assert any("login failed from testclient" in r.getMessage() for r in caplog.records)
        assert not _logged_in(client)


def test_the_limiter_forgets_failures_after_the_window() -> None:
    now = [1000.0]
    limiter = auth.LoginLimiter(failures=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 60
    assert limiter.retry_after("10.0.0.2") is None, "per client"
    now[0] += 30
    assert limiter.retry_after("10.0.0.1") == 30
    now[0] += 30.5
    assert limiter.retry_after("10.0.0.1") is None


def test_logout_revokes_the_session_on_every_replica(tmp_path: Path) -> None:
    # Replicas share PostgreSQL.
    with database("postgresql", tmp_path) as url, replica(tmp_path / "a", url) as a, \
            replica(tmp_path / "b", url) as b:
        incident = a.post("/api/v1/alerts/alertmanager", headers={"Authorization": f"Bearer {TOKEN}"},
                          json=notification(alert("checkout", "payments", fingerprint="s1"), group_key="g"))
        incident_id = incident.json()["incident_id"]
        assert _login(a) == 303
        cookie = a.cookies[auth.SESSION_COOKIE]
        b.cookies.set(auth.SESSION_COOKIE, cookie)
        assert _logged_in(a) and _logged_in(b), "one session, good on both replicas"
        logout = a.post("/logout", data={"csrf_token": _csrf(a, "/incidents")}, follow_redirects=False)
        assert logout.status_code == 303
        assert not _logged_in(b), "replica b refuses the logged-out cookie"
        a.cookies.set(auth.SESSION_COOKIE, cookie)  # the old cookie, kept by a browser or a thief
        assert not _logged_in(a)
        acted = a.post(f"/incidents/{incident_id}/acknowledge", data={"csrf_token": _csrf(a, "/incidents")},
                       follow_redirects=False)
        assert acted.status_code == 401


def test_logout_revokes_the_old_cookie_on_one_replica(url: str, tmp_path: Path) -> None:
    with replica(tmp_path, url) as client:
        assert _login(client) == 303
        cookie = client.cookies[auth.SESSION_COOKIE]
        client.post("/logout", data={"csrf_token": _csrf(client, "/incidents")})
        client.cookies.set(auth.SESSION_COOKIE, cookie)
        assert not _logged_in(client)


def test_rotating_the_token_file_ends_old_sessions_and_the_old_api_token(url: str, tmp_path: Path) -> None:
    with replica(tmp_path, url) as client:
        assert _login(client) == 303 and _logged_in(client)
        token_file = tmp_path / "secrets" / "token"
        token_file.write_text("rotated-token-4b2a9\n", encoding="utf-8")
        assert not _logged_in(client), "the session of the old token ended"
        assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
        assert client.get("/api/v1/incidents", headers={"Authorization": "Bearer rotated-token-4b2a9"}).status_code \
            == 200
        assert _login(client, TOKEN) == 401
        assert _login(client, "rotated-token-4b2a9") == 303 and _logged_in(client)
