"""Alertmanager silences for pre-approved maintenance windows, through the v2 API (v1 is gone in 0.27)."""

from __future__ import annotations

from datetime import datetime

import httpx


class SilenceError(Exception):
    """Alertmanager could not create or expire the silence."""


def create_silence(url: str, matchers: dict[str, str], start: datetime, end: datetime, created_by: str,
                   comment: str, *, transport: httpx.BaseTransport | None = None) -> str:
    """POST /api/v2/silences with equality matchers; returns the silence id."""
    body = {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(matchers.items())],
        "startsAt": start.isoformat(), "endsAt": end.isoformat(), "createdBy": created_by, "comment": comment,
    }
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            response = client.post(f"{url.rstrip('/')}/api/v2/silences", json=body)
    except httpx.HTTPError as exc:
        raise SilenceError(f"cannot reach Alertmanager at {url}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise SilenceError(f"Alertmanager refused the silence (HTTP {response.status_code}): {response.text[:200]}")
    silence_id = response.json().get("silenceID")
    if not isinstance(silence_id, str):
        raise SilenceError("Alertmanager answered without a silenceID")
    return silence_id


def expire_silence(url: str, silence_id: str, *, transport: httpx.BaseTransport | None = None) -> None:
    try:
        with httpx.Client(timeout=10, transport=transport) as client:
            response = client.delete(f"{url.rstrip('/')}/api/v2/silence/{silence_id}")
    except httpx.HTTPError as exc:
        raise SilenceError(f"cannot reach Alertmanager at {url}: {type(exc).__name__}") from None
    # 404/500 "already expired" both mean the silence no longer mutes anything.
    if response.status_code not in (200, 404) and "already expired" not in response.text:
        raise SilenceError(f"Alertmanager refused to expire silence {silence_id} (HTTP {response.status_code})")
