"""`fireline serve` and Alertmanager as real processes on loopback ports, always stopped afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.server.support import AUTH, TOKEN, free_port

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


class ServeProcess:
    def __init__(self, config: Path, database: str, log: Path, port: int | None = None, *,
                 log_level: str = "info", env: dict[str, str] | None = None) -> None:
        self.config = config
        self.database = database
        self.port = port or free_port()
        self.log = log
        self.log_level = log_level
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServeProcess:
        return self.spawn().wait_healthy(timeout)

    def spawn(self) -> ServeProcess:
        env = {k: v for k, v in os.environ.items() if k != "FIRELINE_TOKEN"} | self.extra_env
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from fireline.cli import main; main()", "serve", "--config",
                 str(self.config), "--database", self.database, "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", self.log_level],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 30) -> ServeProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fireline serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"fireline serve did not become healthy:\n{self.log.read_text()}")

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=5).json()
        return data

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def post_alerts(self, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}/api/v1/alerts/alertmanager", json=body, headers=AUTH, timeout=30)

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers=AUTH, timeout=30)
        response.raise_for_status()
        return response.json()


@contextmanager
def serving(config: Path, database: str, log: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(config, database, log).start()
    try:
        yield server
    finally:
        server.stop()


class AlertmanagerProcess:
    """Alertmanager 0.25 with a config whose only receiver is fireline's webhook (bearer token from a file)."""

    def __init__(self, tmp_path: Path, fireline_url: str, *, group_wait: str = "1s",
                 group_interval: str = "2s") -> None:
        self.port = free_port()
        self.dir = tmp_path / "alertmanager"
        self.dir.mkdir()
        token = self.dir / "token"
        token.write_text(TOKEN)
        config = {
            "route": {"receiver": "fireline", "group_by": ["alertname", "service", "slo"],
                      "group_wait": group_wait, "group_interval": group_interval, "repeat_interval": "1h"},
            "receivers": [{"name": "fireline", "webhook_configs": [{
                "url": f"{fireline_url}/api/v1/alerts/alertmanager", "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token)}}}]}],
        }
        self.config = self.dir / "alertmanager.yml"
        self.config.write_text(json.dumps(config, indent=2))
        self.log = self.dir / "alertmanager.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AlertmanagerProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={self.config}", f"--storage.path={self.dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=info"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"alertmanager did not become ready:\n{self.log.read_text()}")

    def post(self, alerts: list[dict[str, Any]]) -> None:
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def wait_until(condition: Any, timeout: float, message: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
