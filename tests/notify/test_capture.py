"""The capture server: records requests per path, scripted failures, JSON control API, CLI process."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from fireline.notify.capture import CaptureServer
from tests.server.support import free_port


def test_records_per_path_and_scripts_failures() -> None:
    with CaptureServer() as server:
        server.respond("/slack", [503])
        first = httpx.post(f"{server.url}/slack?x=1", json={"text": "a"}, headers={"X-Test": "1"})
        second = httpx.post(f"{server.url}/slack", json={"text": "b"})
        pd = httpx.post(f"{server.url}/v2/enqueue", json={"event_action": "trigger"})
        assert (first.status_code, second.status_code, second.text) == (503, 200, "ok")
        assert pd.status_code == 202 and pd.json()["status"] == "success"
        [a, b] = server.requests("/slack")
        assert (a.status, a.query, a.headers["x-test"], a.json()) == (503, "x=1", "1", {"text": "a"})
        assert b.json() == {"text": "b"}
        listed = httpx.get(f"{server.url}/_capture/requests", params={"path": "/v2/enqueue"}).json()
        assert [item["json"] for item in listed] == [{"event_action": "trigger"}]
        httpx.post(f"{server.url}/_capture/responses", json={"path": "/hook", "statuses": [500, 429]})
        assert [httpx.post(f"{server.url}/hook", json={}).status_code for _ in range(3)] == [500, 429, 200]
        assert httpx.post(f"{server.url}/_capture/responses", json={"path": "/x"}).status_code == 400
        httpx.delete(f"{server.url}/_capture/requests")
        assert server.requests() == []


def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        CaptureServer("0.0.0.0")


def test_runs_as_a_process() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from fireline.cli import main; main()", "capture", "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"{url}/slack/x", json={"text": "hi"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "capture server did not start"
                time.sleep(0.1)
        assert [r["json"] for r in httpx.get(f"{url}/_capture/requests").json()] == [{"text": "hi"}]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
