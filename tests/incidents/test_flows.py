"""One transition path: the web UI and the HTTP API both go through incidents.flows, which takes the
incident's row lock. Shown on PostgreSQL (where FOR UPDATE is a real row lock) by holding the lock from
another connection: every UI and API action waits for it, and then sees the row as it was committed."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from fireline.notify.capture import CaptureServer
from fireline.ui.routes import extension as ui_extension
from tests.server.harness import Harness
from tests.server.support import AUTH, TOKEN, alert, database, notification

LOCK_HELD_SECONDS = 1.0


@pytest.fixture
def postgres_harness(capture: CaptureServer, tmp_path: Path) -> Iterator[Harness]:
    with database("postgresql", tmp_path) as url, \
            Harness.start(url, capture, tmp_path, extensions=[ui_extension()]) as h:
        yield h


def _psycopg(url: str) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    return psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database)


def _log_in(h: Harness) -> None:
    page = h.client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    response = h.client.post("/login", data={"csrf_token": token.group(1), "token": TOKEN, "name": "carol",
                                             "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text


def _ui(path: str, data: dict[str, str]) -> Callable[[Harness, int], int]:
    def act(h: Harness, incident_id: int) -> int:
        page = h.client.get(f"/incidents/{incident_id}").text
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
        assert csrf is not None
        response = h.client.post(f"/incidents/{incident_id}/{path}", data={"csrf_token": csrf.group(1), **data},
                                 follow_redirects=False)
        return int(response.status_code)
    return act


def _api(path: str, body: dict[str, str] | None) -> Callable[[Harness, int], int]:
    def act(h: Harness, incident_id: int) -> int:
        response = h.client.post(f"/api/v1/incidents/{incident_id}/{path}", json=body,
                                 headers={**AUTH, "X-Fireline-Actor": "carol"})
        return int(response.status_code)
    return act


ACTIONS = {
    "ui-acknowledge": (_ui("acknowledge", {"note": "mine"}), 303, "acknowledged"),
    "ui-mitigate": (_ui("mitigate", {"note": "rolled back"}), 303, "mitigated"),
    "ui-resolve": (_ui("resolve", {"note": "done"}), 303, "resolved"),
    "ui-comment": (_ui("comments", {"text": "looking"}), 303, "triggered"),
    "api-ack": (_api("ack", {"note": "mine"}), 200, "acknowledged"),
    "api-mitigate": (_api("mitigate", {"note": "rolled back"}), 200, "mitigated"),
    "api-resolve": (_api("resolve", None), 200, "resolved"),
    "api-comment": (_api("comments", {"text": "looking"}), 201, "triggered"),
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_every_action_waits_for_the_incident_row_lock(postgres_harness: Harness, name: str) -> None:
    h = postgres_harness
    act, ok_status, status_after = ACTIONS[name]
    _log_in(h)
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    outcome: dict[str, int] = {}
    with _psycopg(h.ctx.db.url) as holder:
        holder.execute("SELECT id FROM incidents WHERE id = %s FOR UPDATE", (incident_id,))
        worker = threading.Thread(target=lambda: outcome.update(status=act(h, incident_id)))
        worker.start()
        worker.join(LOCK_HELD_SECONDS)
        assert worker.is_alive(), f"{name} did not wait for the incident's row lock"
        holder.commit()
    worker.join(30)
    assert outcome.get("status") == ok_status
    assert h.incident(incident_id)["status"] == status_after


@pytest.mark.parametrize("name", ["ui-acknowledge", "api-ack"])
def test_an_action_sees_the_change_committed_while_it_waited(postgres_harness: Harness, name: str) -> None:
    # The holder resolves the incident while the acknowledgement waits: the acknowledgement must read the
    # committed row (resolved) and be refused, not overwrite it with a stale copy.
    h = postgres_harness
    act = ACTIONS[name][0]
    _log_in(h)
    incident_id = h.post_alerts(notification(alert())).json()["incident_id"]
    h.incident(incident_id)  # the row is now loaded once, as a stale copy would be
    outcome: dict[str, int] = {}
    with _psycopg(h.ctx.db.url) as holder:
        holder.execute("SELECT id FROM incidents WHERE id = %s FOR UPDATE", (incident_id,))
        worker = threading.Thread(target=lambda: outcome.update(status=act(h, incident_id)))
        worker.start()
        worker.join(LOCK_HELD_SECONDS)
        assert worker.is_alive()
        holder.execute("UPDATE incidents SET status = 'resolved', open_group_key = NULL WHERE id = %s",
                       (incident_id,))
        holder.commit()
    worker.join(30)
    assert outcome.get("status") == 409
    incident = h.incident(incident_id)
    assert incident["status"] == "resolved" and incident["acknowledged_by"] is None
