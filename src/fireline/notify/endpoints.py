"""Where a receiver's notifications go, resolved at delivery time so secrets never reach the database.

Slack: `url`, else the contents of `api_url_file`. PagerDuty: `url`, else the Events API v2 endpoint,
with the routing key read from `routing_key_file` into the body. Webhook: `url` or `url_file`.
Error messages name files and receivers, never their contents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from fireline.spec.config import Config

PAGERDUTY_EVENTS_V2 = "https://events.pagerduty.com/v2/enqueue"
INTEGRATIONS = ("pagerduty", "slack", "webhook")


class EndpointError(Exception):
    """The receiver or its secret file is missing or unreadable (retried: a file may appear later)."""


class TransportError(Exception):
    """The request did not complete (connection refused, timeout)."""


@dataclass(frozen=True)
class DeliveryTarget:
    url: str
    # Fields merged into the stored payload at send time (the PagerDuty routing key).
    secret_fields: dict[str, str] = field(default_factory=dict, repr=False)

    def finish(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {**self.secret_fields, **payload} if self.secret_fields else payload


class Transport(Protocol):
    def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]: ...


class HttpTransport:
    def __init__(self, timeout: float) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str]:
        try:
            response = self._client.post(url, json=body, headers={"User-Agent": "fireline", **headers})
        except httpx.HTTPError as exc:
            # The URL may be a secret (Slack webhook): say what failed, not where.
            raise TransportError(f"{type(exc).__name__}: request failed") from None
        return response.status_code, response.text

    def close(self) -> None:
        self._client.close()


def _read_secret(path: str, what: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EndpointError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None
    if not value:
        raise EndpointError(f"{what} {path} is empty")
    return value


def integrations_of(config: Config, receiver: str) -> list[str]:
    """The integrations fireline delivers for a receiver (email stays with Alertmanager)."""
    spec = config.receivers.get(receiver)
    if spec is None:
        return []
    return [name for name in INTEGRATIONS if getattr(spec, name) is not None]


def resolver(config: Config) -> Callable[[str, str], DeliveryTarget]:
    def resolve(receiver: str, integration: str) -> DeliveryTarget:
        spec = config.receivers.get(receiver)
        if spec is None:
            raise EndpointError(f"receiver {receiver!r} is no longer defined in fireline.yaml")
        if integration == "slack" and spec.slack is not None:
            url = spec.slack.url or _read_secret(spec.slack.api_url_file, "slack api_url_file")
            return DeliveryTarget(url)
        if integration == "pagerduty" and spec.pagerduty is not None:
            key = _read_secret(spec.pagerduty.routing_key_file, "pagerduty routing_key_file")
            return DeliveryTarget(spec.pagerduty.url or PAGERDUTY_EVENTS_V2, {"routing_key": key})
        if integration == "webhook" and spec.webhook is not None:
            if spec.webhook.url is not None:
                return DeliveryTarget(spec.webhook.url)
            assert spec.webhook.url_file is not None
            return DeliveryTarget(_read_secret(spec.webhook.url_file, "webhook url_file"))
        raise EndpointError(f"receiver {receiver!r} has no {integration} integration any more")

    return resolve
