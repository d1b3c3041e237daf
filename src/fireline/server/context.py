"""What every request handler and background job of `fireline serve` shares: config, storage, clock."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fireline.server.db import Database
from fireline.server.settings import PrometheusSettings, ServerSettings
from fireline.spec.config import Config

if TYPE_CHECKING:
    from fastapi import APIRouter

    from fireline.server.metrics import Metrics

TOKEN_ENV = "FIRELINE_TOKEN"


class TokenError(Exception):
    """No usable API token: the server refuses to start rather than run without authentication."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def read_token(settings: ServerSettings, environ: dict[str, str] | None = None) -> str:
    """The bearer token: FIRELINE_TOKEN wins over server.token_file (so a deploy can rotate it)."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if settings.token_file is None:
        raise TokenError(f"no API token: set server.token_file in fireline.yaml or {TOKEN_ENV}")
    try:
        token = Path(settings.token_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"cannot read server.token_file {settings.token_file}: {exc.strerror or exc}") from None
    if not token:
        raise TokenError(f"server.token_file {settings.token_file} is empty")
    return token


@dataclass
class Job:
    """A background job run by the scheduler leader only, every `interval_seconds`.

    `run(ctx, now)` does one round of work in its own transactions and returns; it must be safe
    to run again after a crash at any point (state lives in the database, not in memory).
    """

    name: str
    interval_seconds: float
    run: Callable[[ServerContext, datetime], Any]


@dataclass
class ServerExtension:
    """How another module (e.g. the error-budget policy engine) plugs into `fireline serve`.

    routers are mounted on the app; migrations is an Alembic version folder whose revisions carry
    their own branch label; jobs run on the scheduler leader. See docs/serve.md.
    """

    name: str
    routers: Sequence[APIRouter] = ()
    migrations: Path | None = None
    jobs: Sequence[Job] = ()
    # Called once by create_app with the context (e.g. to register metrics collectors).
    setup: Callable[[ServerContext], None] | None = None
    # Called when the app starts serving (lifespan start), before the scheduler starts.
    on_startup: Callable[[ServerContext], None] | None = None
    # Called when the app stops serving (lifespan end), after the scheduler stopped.
    on_shutdown: Callable[[ServerContext], None] | None = None


@dataclass
class ServerContext:
    config: Config
    db: Database
    token: str
    metrics: Metrics
    clock: Callable[[], datetime] = utcnow
    extensions: list[ServerExtension] = field(default_factory=list)
    # Replica name in logs and metrics; the scheduler leader's name is visible in /healthz.
    instance: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")
    # Where the token came from when it can be rotated without a restart (server.token_file).
    token_file: str | None = None
    # Long-lived helpers an extension keeps per process, by name (the intake's group-commit writer).
    services: dict[str, Any] = field(default_factory=dict, repr=False)
    _token_stamp: tuple[int, int] | None = field(default=None, repr=False)
    _token_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def current_token(self) -> str:
        """The API token now: server.token_file is re-read when it changes, so rotating it (on every
        replica that shares the file) takes effect within a request, and UI sessions of the old token end."""
        if self.token_file is None:
            return self.token
        try:
            stat = os.stat(self.token_file)
        except OSError:
            return self.token  # the file is being replaced: keep the last good token
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._token_lock:
            if stamp != self._token_stamp:
                try:
                    value = Path(self.token_file).read_text(encoding="utf-8").strip()
                except OSError:
                    return self.token
                if value:
                    self.token = value
                    self._token_stamp = stamp
            return self.token

    @property
    def settings(self) -> ServerSettings:
        return self.config.server

    @property
    def prometheus(self) -> PrometheusSettings:
        return self.config.prometheus


def make_context(config: Config, *, database: str | None = None, token: str | None = None,
                 clock: Callable[[], datetime] = utcnow, environ: dict[str, str] | None = None) -> ServerContext:
    """A context for `fireline serve` (and tests): `--database` overrides server.database."""
    from fireline.server.metrics import Metrics
    from fireline.server.settings import check_database_url

    if database is not None:  # raises ValueError for URLs fireline cannot use
        config = config.model_copy(update={"server": config.server.model_copy(
            update={"database": check_database_url(database)})})
    env = os.environ if environ is None else environ
    # FIRELINE_TOKEN (or a token given here) is fixed for the process; token_file may be rotated.
    rotatable = token is None and not env.get(TOKEN_ENV, "").strip() and config.server.token_file is not None
    database_ = Database(config.server.database, timeout_seconds=config.server.request_timeout.seconds)
    return ServerContext(config=config, db=database_,
                         token=token if token is not None else read_token(config.server, environ),
                         metrics=Metrics(), clock=clock, token_file=config.server.token_file if rotatable else None)
