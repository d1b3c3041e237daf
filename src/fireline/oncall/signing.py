"""Checks of signed requests from Slack (v0 request signing) and PagerDuty (webhooks v3).

Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<raw body>">` with
the app's signing secret; a timestamp more than five minutes from now is refused.
PagerDuty: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`, possibly several
comma-separated (secret rotation); one match is enough. Comparisons are constant-time; reasons
never contain the secret or the expected signature.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

SLACK_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request is not signed by the expected party (answered 401)."""


class SecretUnavailable(Exception):
    """The secret file cannot be read (answered 503: a configuration problem, not the caller's)."""


def read_secret(path: str, what: str) -> bytes:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretUnavailable(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None
    if not value:
        raise SecretUnavailable(f"{what} {path} is empty")
    return value.encode()


def verify_slack(secret: bytes, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    if not timestamp or not signature:
        raise SignatureError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("X-Slack-Request-Timestamp is not a Unix time") from None
    if abs(now - sent) > SLACK_TOLERANCE_SECONDS:
        raise SignatureError("request timestamp is more than 5 minutes from now (stale or replayed)")
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("signature does not match")


def verify_pagerduty(secret: bytes, header: str | None, body: bytes) -> None:
    if not header:
        raise SignatureError("missing X-PagerDuty-Signature")
    expected = ("v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()).encode()
    candidates = [part.strip().encode() for part in header.split(",") if part.strip().startswith("v1=")]
    if not candidates:
        raise SignatureError("X-PagerDuty-Signature has no v1 signature")
    # Every candidate is compared, so the time taken does not tell which one matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("signature does not match")


def receipt_digest(source: str, value: str) -> str:
    return hashlib.sha256(f"{source}:{value}".encode()).hexdigest()
