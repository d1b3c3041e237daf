"""A local stand-in for Slack, PagerDuty and webhook endpoints that records every request.

Tests and drills point receivers' `url` at it (Slack and PagerDuty are not reachable from CI) and
then read what fireline or Alertmanager sent: method, path, headers and body, per path, as JSON.

    GET    /_capture/requests[?path=/slack]   every request recorded so far (oldest first)
    DELETE /_capture/requests                 forget them
    POST   /_capture/responses                {"path": "/slack", "statuses": [503, 503]}: answer the next
                                              requests to that path with these codes, then 200 again

It answers 200 `ok` to anything else (Slack's incoming webhooks answer `ok`; PagerDuty 202 with
a JSON status, see `PAGERDUTY_PATHS`). It binds to loopback addresses only. Start it in a thread
with `CaptureServer().start()` or as a process with `fireline capture --port N`.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL = "/_capture"
# Paths answered the way PagerDuty's Events API v2 answers an accepted event.
PAGERDUTY_PATHS = ("/v2/enqueue",)


@dataclass
class Captured:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: str
    received_at: float
    status: int

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        try:
            parsed: Any = json.loads(self.body) if self.body else None
        except json.JSONDecodeError:
            parsed = None
        return {"method": self.method, "path": self.path, "query": self.query, "headers": self.headers,
                "body": self.body, "json": parsed, "received_at": self.received_at, "status": self.status}


@dataclass
class _State:
    requests: list[Captured] = field(default_factory=list)
    scripted: dict[str, deque[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


class _Handler(BaseHTTPRequestHandler):
    server_version = "fireline-capture"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> _State:
        state: _State = self.server.state  # type: ignore[attr-defined]
        return state

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Answers are small: without TCP_NODELAY, a reply written in two parts waits for the client's
        # delayed ACK (40 ms on Linux) and a receiver stand-in caps a kept-alive sender at ~25 requests/s.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Status line, headers and body in one write (one segment for small bodies).
        self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
        self.flush_headers()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _control(self, method: str, path: str, query: str, raw: bytes) -> None:
        if path == f"{CONTROL}/requests" and method == "GET":
            wanted = parse_qs(query).get("path")
            with self.state.lock:
                items = [r.to_dict() for r in self.state.requests if not wanted or r.path in wanted]
            self._reply(200, json.dumps(items).encode(), "application/json")
        elif path == f"{CONTROL}/requests" and method == "DELETE":
            with self.state.lock:
                self.state.requests.clear()
            self._reply(200, b"{}", "application/json")
        elif path == f"{CONTROL}/responses" and method == "POST":
            try:
                spec = json.loads(raw)
                statuses = deque(int(s) for s in spec["statuses"])
                target = str(spec["path"])
            except (ValueError, KeyError, TypeError):
                self._reply(400, b'{"error": "expected {\\"path\\": str, \\"statuses\\": [int]}"}', "application/json")
                return
            with self.state.lock:
                self.state.scripted[target] = statuses
            self._reply(200, b"{}", "application/json")
        else:
            self._reply(404, b'{"error": "unknown capture control endpoint"}', "application/json")

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        raw = self._body()
        if parts.path.startswith(CONTROL + "/"):
            self._control(self.command, parts.path, parts.query, raw)
            return
        with self.state.lock:
            scripted = self.state.scripted.get(parts.path)
            status = scripted.popleft() if scripted else 200
            self.state.requests.append(Captured(
                self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()},
                raw.decode("utf-8", errors="replace"), time.time(), status))
        if status >= 300:
            self._reply(status, json.dumps({"status": "error", "message": "scripted failure"}).encode(),
                        "application/json")
        elif parts.path in PAGERDUTY_PATHS:
            self._reply(202, json.dumps({"status": "success", "message": "Event processed"}).encode(),
                        "application/json")
        else:
            self._reply(200, b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class CaptureServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if not _is_loopback(host):
            raise ValueError(f"capture server binds to loopback addresses only, not {host!r}")
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.state = _State()  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def _state(self) -> _State:
        state: _State = self._httpd.state  # type: ignore[attr-defined]
        return state

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{host}:{self.port}"

    def start(self) -> CaptureServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="capture", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self, path: str | None = None) -> list[Captured]:
        with self._state.lock:
            return [r for r in self._state.requests if path is None or r.path == path]

    def clear(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def respond(self, path: str, statuses: list[int]) -> None:
        """Answer the next requests to path with these status codes (then 200 again)."""
        with self._state.lock:
            self._state.scripted[path] = deque(statuses)

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[Captured]:
        """The requests to path once at least count arrived (or whatever arrived by the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.requests(path)
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)
