"""No secret value in any log line of `fireline serve`.

End to end: a real `fireline serve` process at --log-level debug (every library's chatter on), an
alert in, PagerDuty/Slack/webhook deliveries (one retried after a 503, one to an endpoint that is down),
a failed and a successful UI login, acknowledge, status update, resolve. Then every line of its log
is searched for every secret value: the API token, the PagerDuty routing key, both Slack webhook URLs
(and their secret paths), the webhook URL read from url_file, the ticket trackers' tokens.
Unit tests below show the redacting filter on records of other loggers (httpx at INFO, tracebacks).
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.notify.capture import CaptureServer
from fireline.server import logs
from fireline.spec.config import Config
from tests.server.process import ServeProcess, wait_until
from tests.server.support import alert, free_port, notification


def _secret(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


def _config(tmp_path: Path, capture: str) -> tuple[dict[str, Any], dict[str, str]]:
    folder = tmp_path / "secrets"
    folder.mkdir()
    values = {
        "token": _secret("tok"),
        "routing_key": _secret("RK").upper()[:32].ljust(32, "0"),
        "slack_file_url": f"{capture}/services/T0{_secret('')}/B0{_secret('')}",
        "slack_inline_url": f"{capture}/services/T1{_secret('')}/B1{_secret('')}",
        "webhook_url": f"{capture}/hook/{_secret('wh')}",
        "down_url": f"http://127.0.0.1:{free_port()}/down/{_secret('dn')}",
        "tracker_file_token": _secret("ghp_"),
        "tracker_env_token": _secret("jira"),
    }
    files = {"token": "token", "routing_key": "pd.key", "slack_file_url": "slack.url", "webhook_url": "hook.url",
             "down_url": "down.url", "tracker_file_token": "gh.token"}
    for name, file in files.items():
        (folder / file).write_text(values[name] + "\n")
    config = {
        "apiVersion": "fireline/v1", "kind": "Config", "default_receiver": "team-chat",
        "receivers": {
            "team-pager": {"pagerduty": {"routing_key_file": str(folder / "pd.key"), "url": f"{capture}/v2/enqueue"}},
            "team-chat": {"slack": {"channel": "#team", "api_url_file": str(folder / "slack.url")}},
            "lead-chat": {"slack": {"channel": "@lead", "api_url_file": str(folder / "slack.url"),
                                    "url": values["slack_inline_url"]}},
            "bridge": {"webhook": {"url_file": str(folder / "hook.url")}},
            "down": {"webhook": {"url_file": str(folder / "down.url")}},
            "leadership": {"webhook": {"url_file": str(folder / "hook.url")}},
            "sre-lead": {"pagerduty": {"routing_key_file": str(folder / "pd.key"), "url": f"{capture}/v2/enqueue"}},
            "eng-director": {"pagerduty": {"routing_key_file": str(folder / "pd.key"),
                                           "url": f"{capture}/v2/enqueue"}},
        },
        "alertmanager": {"version": "0.27"},
        "teams": {"payments": {"page": ["team-pager", "team-chat"], "ticket": ["team-chat"],
                               "escalation": [{"after": "0s",
                                               "notify": ["team-pager", "team-chat", "lead-chat", "bridge", "down"]}]}},
        "server": {"token_file": str(folder / "token"), "scheduler_interval": "100ms",
                   "outbox": {"backoff": "100ms", "max_backoff": "200ms", "max_attempts": 3, "timeout": "2s"}},
        # The policy engine runs too (its Prometheus is down, so it logs why), with both kinds of tracker token.
        "prometheus": {"url": f"http://127.0.0.1:{free_port()}"},
        "policy": {"interval": "1s", "trackers": {
            "reliability": {"type": "github", "repository": "acme/reliability", "url": capture,
                            "token_file": str(folder / "gh.token")},
            "ops": {"type": "jira", "url": capture, "project": "OPS", "token_env": "FIRELINE_TEST_JIRA_TOKEN"}}},
    }
    return config, values


def test_no_secret_in_any_log_line_of_the_whole_flow(capture: CaptureServer, tmp_path: Path) -> None:
    config, values = _config(tmp_path, capture.url)
    Config.model_validate(config)  # the test's own fireline.yaml is valid before a server sees it
    path = tmp_path / "fireline.yaml"
    path.write_text(json.dumps(config))
    slack_path = "/" + values["slack_file_url"].split("/", 3)[3]
    capture.respond(slack_path, [503])
    log = tmp_path / "serve.log"
    server = ServeProcess(path, f"sqlite:///{tmp_path / 'fireline.db'}", log, log_level="debug",
                          env={"FIRELINE_TEST_JIRA_TOKEN": values["tracker_env_token"]}).start()
    auth = {"Authorization": f"Bearer {values['token']}", "X-Fireline-Actor": "alice"}
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/api/v1/alerts/alertmanager", json=notification(alert()),
                             headers={"Authorization": "Bearer wrong-" + values["token"]}).status_code == 401
            opened = http.post("/api/v1/alerts/alertmanager", json=notification(alert()), headers=auth)
            assert opened.status_code == 200, opened.text
            incident = opened.json()["incident_id"]
            assert len(capture.wait_for(slack_path, 2, timeout=20)) == 2, "the Slack message was retried after 503"
            wait_until(lambda: capture.requests("/v2/enqueue"), 20, "the page")
            page = http.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
            assert csrf is not None
            for token in ("not-the-token", values["token"]):
                http.post("/login", data={"csrf_token": csrf.group(1), "token": token, "name": "alice", "next": "/"})
            assert http.post(f"/api/v1/incidents/{incident}/ack", json={"note": "mine"}, headers=auth).is_success
            assert http.post(f"/api/v1/incidents/{incident}/updates", json={"what_happened": "rolled back"},
                             headers=auth).is_success
            assert http.post(f"/api/v1/incidents/{incident}/resolve", json={}, headers=auth).is_success
            wait_until(lambda: [r for r in capture.requests("/v2/enqueue") if "resolve" in r.body], 20,
                       "the resolve to reach PagerDuty")
            wait_until(lambda: any(o["receiver"] == "down" and o["status"] == "dead"
                                   for o in http.get("/api/v1/outbox", headers=auth).json()),
                       30, "the delivery to the endpoint that is down to be given up")
    finally:
        server.stop()
    text = log.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    # The search covers real traffic: the server, uvicorn and the outbox's failures all wrote lines.
    assert any("uvicorn" in line for line in lines), text[:2000]
    assert any("fireline.outbox" in line and "503" in line for line in lines), text[-3000:]
    assert any("fireline.outbox" in line and "down" in line for line in lines), text[-3000:]
    assert capture.requests(slack_path), "Slack was reached at the secret URL"
    candidates = dict(values)
    for name in ("slack_file_url", "slack_inline_url", "webhook_url", "down_url"):
        candidates[f"{name} path"] = "/" + values[name].split("/", 3)[3]
    leaks = [f"{name} on line {number}: {line[:200]}" for number, line in enumerate(lines, 1)
             for name, secret in candidates.items() if secret in line]
    assert not leaks, "\n".join(leaks[:20])


def _redacting_logger(name: str, secrets_: set[str]) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logs.LOG_FORMAT))
    root = logging.getLogger(f"test-secrets-{secrets.token_hex(4)}")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    logs.protect(logs.SecretRedactor(lambda: secrets_), root)
    return root, stream


def test_the_filter_redacts_records_of_any_library_even_httpx_at_info(capture: CaptureServer) -> None:
    url = f"{capture.url}/services/T000/B000/{secrets.token_hex(12)}"
    root, stream = _redacting_logger("httpx", {url, "/" + url.split("/", 3)[3]})
    httpx_logger = logging.getLogger("httpx")
    saved = httpx_logger.level, httpx_logger.handlers[:], httpx_logger.propagate
    httpx_logger.handlers = root.handlers[:]
    httpx_logger.setLevel(logging.INFO)  # what a user's logging.basicConfig(level=INFO) would give
    try:
        httpx.post(url, json={"text": "hi"}, timeout=5)
    finally:
        httpx_logger.setLevel(saved[0])
        httpx_logger.handlers = saved[1]
        httpx_logger.propagate = saved[2]
    written = stream.getvalue()
    assert "HTTP Request: POST" in written and logs.REDACTED in written
    assert url.rsplit("/", 1)[1] not in written


def test_the_filter_redacts_arguments_tracebacks_and_stacks() -> None:
    token = "tracker-" + secrets.token_hex(8)
    root, stream = _redacting_logger("x", {token})
    root.warning("calling with %s", token)
    try:
        raise RuntimeError(f"request failed for Bearer {token}")
    except RuntimeError:
        root.exception("delivery failed")
    root.info("where %s", "am I", stack_info=True, extra={"token": token})
    written = stream.getvalue()
    assert token not in written
    assert written.count(logs.REDACTED) == 2 and "Traceback" in written and "Stack (most recent call last)" in written


def test_protect_quiets_the_http_client_libraries() -> None:
    root, _ = _redacting_logger("y", set())
    for name in logs.QUIET_LIBRARIES:
        library = logging.getLogger(name)
        saved = library.level
        library.setLevel(logging.DEBUG)
        try:
            logs.protect(logs.SecretRedactor(set), root)
            assert library.level == logging.WARNING
        finally:
            library.setLevel(saved)


def test_configured_secrets_reads_every_kind_of_secret(tmp_path: Path) -> None:
    config, values = _config(tmp_path, "http://127.0.0.1:9")
    found = logs.configured_secrets(Config.model_validate(config), values["token"],
                                    {"FIRELINE_TEST_JIRA_TOKEN": values["tracker_env_token"]})
    for name, value in values.items():
        assert value in found, name
    assert "/" + values["slack_file_url"].split("/", 3)[3] in found
    assert all(len(s) >= logs.MIN_SECRET_LENGTH for s in found)


@pytest.mark.parametrize("short", ["on", "12345"])
def test_short_values_are_not_treated_as_secrets(tmp_path: Path, short: str) -> None:
    config, _ = _config(tmp_path, "http://127.0.0.1:9")
    assert short not in logs.configured_secrets(Config.model_validate(config), short, {})
