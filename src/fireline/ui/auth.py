"""Sessions and CSRF protection for the web UI.

Acting in the UI needs the same API token as the HTTP API: the login form takes it once and sets
a session cookie signed with a key derived from that token. Every replica sharing the token
accepts the cookie, no session table is needed, and rotating the token logs everybody out.

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
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "fireline_session"
CSRF_COOKIE = "fireline_csrf"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 12 * 3600  # one on-call shift
_KEY_LABEL = b"fireline-ui-session-v1"


def signing_key(token: str) -> bytes:
    return hmac.new(token.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


@dataclass(frozen=True)
class Session:
    actor: str
    expires: int


def make_session(key: bytes, actor: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    payload = f"v1.{expires}.{_b64(actor)}.{secrets.token_hex(8)}"
    return f"{payload}.{_sign(key, payload)}"


def read_session(key: bytes, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie carries, or None when it is missing, forged, malformed or expired."""
    if not cookie:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not payload or not hmac.compare_digest(signature, _sign(key, payload)):
        return None
    parts = payload.split(".")
    if len(parts) != 4 or parts[0] != "v1" or not parts[1].isdigit():
        return None
    expires = int(parts[1])
    if expires < (time.time() if now is None else now):
        return None
    try:
        actor = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return None
    return Session(actor, expires)


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
