"""Thin HTTP clients the drill uses: Alertmanager API v2, the capture server, fireline serve
(Prometheus is fireline.clients.prometheus, with the tenant and headers of fireline.yaml).

Alertmanager's v1 API is gone in 0.27; only /api/v2 is used. Test alerts are posted with
`startsAt` = now: an older startsAt makes Alertmanager flush the group immediately, ignoring
group_wait (dispatch.go `aggrGroup.insert`), which would break the timing and inhibition checks.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fireline.routing.tree import AlertmanagerConfig, parse_config


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_time(epoch: float) -> str:
    """An epoch as the RFC 3339 UTC text fireline's API takes (2026-11-17T02:00:00Z)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_time(text: str) -> datetime:
    # Alertmanager and fireline answer RFC 3339 with up to nanoseconds; Python takes microseconds.
    text = text.replace("Z", "+00:00")
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TestAlert:
    labels: dict[str, str]
    annotations: dict[str, str]

    def payload(self, *, resolved: bool = False, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        body: dict[str, Any] = {"labels": self.labels, "annotations": self.annotations, "startsAt": rfc3339(now)}
        if resolved:
            # endsAt in the past resolves it; startsAt must not be after endsAt.
            body["startsAt"] = rfc3339(now - timedelta(seconds=1))
            body["endsAt"] = rfc3339(now)
        return body


class AlertmanagerClient:
    """One Alertmanager replica."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def status(self) -> dict[str, Any]:
        response = self._http.get("/api/v2/status")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def loaded_config(self) -> AlertmanagerConfig:
        """The config this Alertmanager runs (not a file that may differ from it)."""
        return parse_config(str(self.status()["config"]["original"]), f"{self.url}/api/v2/status")

    def post_alerts(self, alerts: Sequence[TestAlert], *, resolved: bool = False) -> None:
        now = None if not resolved else datetime.now(UTC)
        response = self._http.post("/api/v2/alerts", json=[a.payload(resolved=resolved, now=now) for a in alerts])
        response.raise_for_status()

    def alerts(self, matchers: Sequence[str]) -> list[dict[str, Any]]:
        response = self._http.get("/api/v2/alerts", params=[("filter", m) for m in matchers])
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def groups(self, matchers: Sequence[str]) -> list[dict[str, Any]]:
        response = self._http.get("/api/v2/alerts/groups", params=[("filter", m) for m in matchers])
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def create_silence(self, matchers: Mapping[str, str], *, minutes: int, comment: str) -> str:
        now = datetime.now(UTC)
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": rfc3339(now), "endsAt": rfc3339(now + timedelta(minutes=minutes)),
            "createdBy": "fireline drill", "comment": comment,
        }
        response = self._http.post("/api/v2/silences", json=body)
        response.raise_for_status()
        return str(response.json()["silenceID"])

    def silence_state(self, silence_id: str) -> str | None:
        response = self._http.get(f"/api/v2/silence/{silence_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return str(response.json()["status"]["state"])

    def expire_silence(self, silence_id: str) -> None:
        response = self._http.delete(f"/api/v2/silence/{silence_id}")
        response.raise_for_status()


class AlertmanagerSet:
    """Every replica: alerts go to all of them, as Prometheus sends them (HA does not share alerts)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.replicas = [AlertmanagerClient(u) for u in urls]

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()

    def post_alerts(self, alerts: Sequence[TestAlert], *, resolved: bool = False) -> int:
        """Post to every replica that answers; returns how many took them (a dead replica is skipped)."""
        delivered = 0
        for replica in self.replicas:
            with contextlib.suppress(httpx.TransportError):
                replica.post_alerts(alerts, resolved=resolved)
                delivered += 1
        return delivered

    def first_alive(self) -> AlertmanagerClient:
        for replica in self.replicas:
            with contextlib.suppress(httpx.HTTPError):
                replica.status()
                return replica
        raise httpx.ConnectError("no Alertmanager replica answers")


@dataclass(frozen=True)
class CapturedRequest:
    path: str
    body: str
    received_at: float
    parsed: Any

    def status(self, kind: str) -> str:
        """firing or resolved, read the way each integration says it."""
        data = self.parsed if isinstance(self.parsed, dict) else {}
        if kind == "pagerduty":
            return "resolved" if data.get("event_action") == "resolve" else "firing"
        if kind == "slack":
            attachments = data.get("attachments") or [{}]
            first = attachments[0] if isinstance(attachments[0], dict) else {}
            text = " ".join(str(first.get(k, "")) for k in ("title", "fallback"))
            return "resolved" if "RESOLVED" in text or first.get("color") == "good" else "firing"
        return "resolved" if data.get("status") == "resolved" else "firing"


class CaptureClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=10.0)

    def close(self) -> None:
        self._http.close()

    def requests(self, since: float = 0.0) -> list[CapturedRequest]:
        response = self._http.get("/_capture/requests")
        response.raise_for_status()
        out = []
        for item in response.json():
            if float(item["received_at"]) < since:
                continue
            body = str(item.get("body") or "")
            parsed: Any = item.get("json")
            if parsed is None:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(body)
            out.append(CapturedRequest(str(item["path"]), body, float(item["received_at"]), parsed))
        return out


class FirelineClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=10.0,
                                  headers={"Authorization": f"Bearer {token}", "X-Fireline-Actor": "fireline drill"})

    def close(self) -> None:
        self._http.close()

    def incidents(self, **params: str) -> list[dict[str, Any]]:
        response = self._http.get("/api/v1/incidents", params=params)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def incident(self, incident_id: int) -> dict[str, Any]:
        response = self._http.get(f"/api/v1/incidents/{incident_id}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data
