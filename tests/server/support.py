"""Helpers shared by the server, incidents and notify tests: databases, configs, payloads, a clock."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fireline.spec.config import Config

PG_HOST = os.environ.get("FIRELINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FIRELINE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("FIRELINE_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("FIRELINE_TEST_PG_DB", "test")
TOKEN = "test-token-7d1f"
# PagerDuty integration keys are 32 characters (Events API v2 reference).
ROUTING_KEY = "R0UTINGKEYPAYMENTS00000000000032"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def postgres_available() -> bool:
    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


PG_AVAILABLE = postgres_available()
needs_postgres = pytest.mark.skipif(not PG_AVAILABLE, reason=f"no PostgreSQL at {PG_HOST}:{PG_PORT}")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new database on the test server for one test (dropped afterwards, connections and all)."""
    name = f"fireline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB,
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'fireline.db'}"
    else:
        if not PG_AVAILABLE:
            pytest.skip(f"no PostgreSQL at {PG_HOST}:{PG_PORT}")
        with fresh_postgres() as url:
            yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Clock:
    """A clock tests move by hand, so escalation timing needs no sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_config(tmp_path: Path, capture_url: str, **kwargs: Any) -> Config:
    return Config.model_validate(config_dict(tmp_path, capture_url, **kwargs))


def write_config(tmp_path: Path, capture_url: str, **kwargs: Any) -> Path:
    """fireline.yaml for a `fireline serve` process (JSON is YAML)."""
    path = tmp_path / "fireline.yaml"
    path.write_text(json.dumps(config_dict(tmp_path, capture_url, **kwargs), indent=2))
    return path


def config_dict(tmp_path: Path, capture_url: str, *, escalation: list[dict[str, Any]] | None = None,
                server: dict[str, Any] | None = None, extra_receivers: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """payments: PagerDuty + Slack at step 1, the lead's Slack at step 2, the director's webhook at step 3."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "pd.key").write_text(ROUTING_KEY + "\n")
    (secrets / "slack.url").write_text("https://hooks.slack.invalid/not-used-when-url-is-set\n")
    token_file = secrets / "token"
    token_file.write_text(TOKEN + "\n")
    receivers: dict[str, Any] = {
        "payments-pager": {"pagerduty": {"routing_key_file": str(secrets / "pd.key"),
                                         "url": f"{capture_url}/v2/enqueue"}},
        "payments-slack": {"slack": {"channel": "#payments-incidents", "api_url_file": str(secrets / "slack.url"),
                                     "url": f"{capture_url}/slack/payments"}},
        "payments-lead": {"slack": {"channel": "@payments-lead", "api_url_file": str(secrets / "slack.url"),
                                    "url": f"{capture_url}/slack/lead"}},
        "eng-director": {"webhook": {"url": f"{capture_url}/hook/director"}},
        "sre-slack": {"slack": {"channel": "#alerts-default", "api_url_file": str(secrets / "slack.url"),
                                "url": f"{capture_url}/slack/sre"}},
        **(extra_receivers or {}),
    }
    chain = escalation if escalation is not None else [
        {"after": "0s", "notify": ["payments-pager", "payments-slack"]},
        {"after": "15m", "notify": ["payments-lead"]},
        {"after": "30m", "notify": ["eng-director"]},
    ]
    return {
        "apiVersion": "fireline/v1", "kind": "Config", "default_receiver": "sre-slack",
        "receivers": receivers,
        "teams": {"payments": {"page": ["payments-pager", "payments-slack"], "ticket": ["payments-slack"],
                               "escalation": chain}},
        "server": {"token_file": str(token_file), "outbox": {"backoff": "100ms", "max_backoff": "1s",
                                                                 "slack_interval": "0s"},
                   "scheduler_interval": "100ms", **(server or {})},
    }


def alert(name: str = "CheckoutAvailabilityErrorBudgetBurn", *, status: str = "firing", fingerprint: str = "fp1",
          severity: str = "critical", fireline_severity: str = "page", team: str = "payments",
          starts: str = "2026-11-29T11:59:30.123456789Z", ends: str | None = None,
          **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": "checkout", "slo": "availability", "team": team,
                   "severity": severity, "fireline_severity": fireline_severity, **labels},
        "annotations": {
            "summary": "checkout availability: error budget burning 15.2x faster than allowed (1h/5m windows, page)",
            "description": ("Burn rate over 1h: 15.20 (threshold 14.4, also exceeded over 5m). Error ratio over 1h: "
                            "1.52% (objective 99.9%, alert above 0.0144). Error budget left over 30d: 81.3%. At "
                            "this rate the remaining budget is gone in 1d 14h."),
            "runbook_url": "https://runbooks.example.com/checkout/availability-page.md",
            # Facts as the generated rules write them: numbers, read by fireline as data.
            "burn_rate": "15.2", "burn_rate_threshold": "14.4", "error_budget_remaining": "0.813",
        },
        "startsAt": starts,
        "endsAt": ends or ("0001-01-01T00:00:00Z" if status == "firing" else "2026-11-29T12:10:00Z"),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], group_key: str = '{}/{team="payments"}:{alertname="CheckoutBurn"}'
                 ) -> dict[str, Any]:
    items = list(alerts) or [alert()]
    common = {k: v for k, v in items[0]["labels"].items() if all(a["labels"].get(k) == v for a in items)}
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in items) else "resolved",
        "receiver": "fireline", "groupLabels": {"alertname": items[0]["labels"]["alertname"]},
        "commonLabels": common, "commonAnnotations": dict(items[0]["annotations"]),
        "externalURL": "http://alertmanager.example:9093", "alerts": items,
    }
