"""Sessions, login limits and CSRF protection for the web UI.

Acting in the UI needs the same API token as the HTTP API: the login form takes it once and sets
a session cookie. The cookie names a row of `ui_sessions` (by a random id, stored only as its
SHA-256) and is signed with a key derived from the token. Every replica reads the same table, so
logging out revokes the session everywhere at once; each row also records which token it was made
with, so rotating the token (server.token_file, re-read when it changes) ends every older session.

Failed logins are counted per client address (LoginLimiter): after LOGIN_FAILURES within
LOGIN_WINDOW_SECONDS the form answers 429 with Retry-After until the oldest failure ages out.

CSRF: every browser gets a random `fireline_csrf` nonce cookie; forms carry HMAC(key, nonce) in a
hidden field and a POST is accepted only when the field matches the cookie it came with (a signed
double-submit cookie). Another site can make a browser send the cookie but cannot read it or
compute the field. Cookies are HttpOnly and SameSite=Strict on top of that, and a cross-site
Origin header is refused outright.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import String, delete, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response

from fireline.server.db import Base, UTCDateTime

SESSION_COOKIE = "fireline_session"
CSRF_COOKIE = "fireline_csrf"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600  # one on-call shift
LOGIN_FAILURES = 10
LOGIN_WINDOW_SECONDS = 300.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_KEY_LABEL = b"fireline-ui-session-v1"
_TOKEN_LABEL = b"fireline-ui-session-token-v1"


class SessionRecord(Base):
    """One UI login; revoked_at is set by logout. The cookie's id is stored hashed only."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(255))
    # Which API token the login used (an HMAC, not the token): a rotated token ends the session.
    token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def signing_key(token: str) -> bytes:
    return hmac.new(token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def token_digest(token: str) -> str:
    return hmac.new(token.encode(), _TOKEN_LABEL, hashlib.sha256).hexdigest()


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    actor: str
    expires: int


def make_session(db: DbSession, token: str, actor: str, now: datetime) -> str:
    """Record a new session and return its cookie value."""
    session_id = secrets.token_urlsafe(24)
    expires = now + timedelta(seconds=SESSION_SECONDS)
    # Expired rows are of no use to anyone: each login clears them.
    db.execute(delete(SessionRecord).where(SessionRecord.expires_at < now))
    db.add(SessionRecord(id_hash=_id_hash(session_id), actor=actor[:255], token_digest=token_digest(token),
                         created_at=now, expires_at=expires, revoked_at=None))
    payload = f"v2.{session_id}"
    return f"{payload}.{_sign(signing_key(token), payload)}"


def _session_id(token: str, cookie: str | None) -> str | None:
    if not cookie:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(signing_key(token), payload)):
        return None
    version, _, session_id = payload.partition(".")
    return session_id if version == "v2" and session_id else None


def read_session(db: DbSession, token: str, cookie: str | None, now: datetime) -> Session | None:
    """The live session a cookie names, or None: missing, forged, expired, logged out or of an old token."""
    session_id = _session_id(token, cookie)
    if session_id is None:
        return None
    record = db.get(SessionRecord, _id_hash(session_id))
    if (record is None or record.revoked_at is not None or record.expires_at <= now
            or not hmac.compare_digest(record.token_digest, token_digest(token))):
        return None
    return Session(record.actor, int(record.expires_at.timestamp()))


def revoke_session(db: DbSession, token: str, cookie: str | None, now: datetime) -> bool:
    """Log out: the session stops working on every replica. True when there was one to revoke."""
    session_id = _session_id(token, cookie)
    if session_id is None:
        return False
    result = db.execute(update(SessionRecord).where(SessionRecord.id_hash == _id_hash(session_id),
                                                    SessionRecord.revoked_at.is_(None)).values(revoked_at=now))
    return bool(getattr(result, "rowcount", 0))


class LoginLimiter:
    """Failed logins per client in a sliding window; in memory, per replica."""

    def __init__(self, failures: int = LOGIN_FAILURES, window_seconds: float = LOGIN_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window = window_seconds
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try again, or None when it may try now."""
        now = self._clock()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.failures:
                if not times:
                    self._seen.pop(client, None)
                return None
            return max(1, int(times[0] + self.window - now + 0.999))

    def failed(self, client: str) -> int:
        """Record a failed login; returns how many this client has in the window."""
        now = self._clock()
        with self._lock:
            if len(self._seen) > 10_000:  # bounded memory against address sprays: forget the quiet ones
                for quiet in [c for c, t in self._seen.items() if not t or t[-1] <= now - self.window]:
                    del self._seen[quiet]
            times = self._recent(client, now)
            times.append(now)
            return len(times)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._seen.pop(client, None)


def token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(key: bytes, nonce: str) -> str:
    return _sign(key, "csrf." + nonce)


def csrf_valid(key: bytes, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(csrf_token(key, nonce), submitted)


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin (Origin or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def secure_cookies(request: Request, external_url: str | None) -> bool:
    return request.url.scheme == "https" or bool(external_url and external_url.startswith("https://"))


def set_cookie(response: Response, name: str, value: str, *, secure: bool, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure)


def safe_next(target: str | None) -> str:
    """Only local paths after login: an open redirect to another site would make phishing easy."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
