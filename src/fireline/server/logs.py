"""Logging for `fireline serve`: no secret value ever reaches a log line.

Two layers. httpx and httpcore are held at WARNING, so their INFO request lines (which print the
Slack webhook URL, a secret) are never made. And every handler of the root logger carries a
SecretRedactor that replaces every configured secret value (API token, PagerDuty routing keys, Slack
and webhook URLs, ticket tracker tokens) in the message, its arguments, the traceback and the stack
before any handler writes it. uvicorn is run without its own handlers so its records pass the same
filter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from fireline.spec.config import Config

REDACTED = "[redacted]"
# Shorter values (a port, "on") would shred ordinary text; every real secret is longer.
MIN_SECRET_LENGTH = 6
QUIET_LIBRARIES = ("httpx", "httpcore")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REFRESH_SECONDS = 5.0


def _file_value(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _url_parts(url: str) -> list[str]:
    # A Slack webhook's secret is its path: redact it also when a library prints the path alone.
    parts = [url]
    split = urlsplit(url)
    tail = split.path + (f"?{split.query}" if split.query else "")
    if len(tail) > 1:
        parts.append(tail)
    return parts


def configured_secrets(config: Config, token: str, environ: dict[str, str] | None = None) -> set[str]:
    """Every secret value this fireline.yaml points at, read now (files may be rotated; see SecretRedactor)."""
    env = os.environ if environ is None else environ
    values: list[str | None] = [token, _file_value(config.alertmanager.webhook_token_file)]
    urls: list[str | None] = []
    for receiver in config.receivers.values():
        if receiver.pagerduty is not None:
            values.append(_file_value(receiver.pagerduty.routing_key_file))
            values.append(_file_value(receiver.pagerduty.service_key_file))
        if receiver.slack is not None:
            urls += [receiver.slack.url, _file_value(receiver.slack.api_url_file)]
        if receiver.webhook is not None:
            urls.append(_file_value(receiver.webhook.url_file))
        if receiver.email is not None:
            values.append(_file_value(receiver.email.auth_password_file))
    if config.policy is not None:
        for tracker in config.policy.trackers.values():
            values.append(_file_value(tracker.token_file))
            if tracker.token_env:
                values.append(env.get(tracker.token_env, "").strip() or None)
    found = {v for v in values if v}
    for url in urls:
        if url:
            found.update(_url_parts(url))
    return {s for s in found if len(s) >= MIN_SECRET_LENGTH}


class SecretRedactor(logging.Filter):
    """Replaces secret values in a record before it is written; secrets re-read every few seconds."""

    def __init__(self, secrets: Callable[[], Iterable[str]], refresh_seconds: float = _REFRESH_SECONDS) -> None:
        super().__init__()
        self._source = secrets
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self._read_at = -1e9

    def _current(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._refresh:
                # Longest first, so a URL is replaced whole before its path would be.
                self._secrets = sorted(set(self._source()), key=len, reverse=True)
                self._read_at = time.monotonic()
            return self._secrets

    def redact(self, text: str) -> str:
        for secret in self._current():
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, still redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def protect(redactor: SecretRedactor, logger: logging.Logger | None = None) -> None:
    """Put the redactor on every handler of `logger` (default root) and quiet the HTTP client libraries."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        if library.getEffectiveLevel() < logging.WARNING or library.level < logging.WARNING:
            library.setLevel(logging.WARNING)


def configure(level: str, secrets: Callable[[], Iterable[str]]) -> SecretRedactor:
    """Logging of `fireline serve`: one stream handler on the root logger, redacting, libraries quiet."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    redactor = SecretRedactor(secrets)
    protect(redactor)
    return redactor
