"""The background scheduler: exactly one replica (the leader) runs the jobs at a time.

Every replica takes intake; only the leader escalates and delivers the outbox. Its state lives in
the database, so a new leader (or the same one after a restart) resumes where the last one was.
Leadership is a PostgreSQL session advisory lock held on a dedicated connection: when the leader
dies its connection closes, PostgreSQL releases the lock and another replica takes it on its next
tick (within `server.scheduler_interval`). On SQLite, an exclusive lock on a file beside the database.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from fireline.server.context import Job, ServerContext
from fireline.server.db import StorageUnavailable

log = logging.getLogger("fireline.scheduler")
SCHEDULER_LOCK_KEY = 0x66697265_7363686C  # "firesch1"


class Leadership(Protocol):
    def hold(self) -> bool:
        """Acquire or confirm leadership; False when another replica leads (or storage is down)."""

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, url: str, key: int = SCHEDULER_LOCK_KEY) -> None:
        # NullPool: closing the connection really closes it, so the lock can never leak into a pool.
        self._engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        self._key = key
        self._connection: Connection | None = None

    def hold(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
                return True
            except DBAPIError:
                log.warning("lost the scheduler lock: its database connection failed")
                self._drop()
                return False
        try:
            connection = self._engine.connect()
        except DBAPIError:
            return False
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            connection.commit()
        except DBAPIError:
            connection.invalidate()
            connection.close()
            return False
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except DBAPIError:
                pass
            self._connection = None

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._connection.commit()
                self._connection.close()
            except DBAPIError:
                self._drop()
            self._connection = None
        self._engine.dispose()


class FileLeadership:
    """SQLite: replicas on one machine share the file, so an flock beside it elects the leader."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def hold(self) -> bool:
        if self._file is not None:
            return True
        handle = self._path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class SoleLeadership:
    """An in-memory SQLite database is private to one process: it is always the leader."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(url: str) -> Leadership:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLeadership(url)
    if parsed.database in (None, "", ":memory:"):
        return SoleLeadership()
    return FileLeadership(Path(parsed.database + ".scheduler.lock"))


class Scheduler:
    def __init__(self, ctx: ServerContext, jobs: Sequence[Job], leadership: Leadership,
                 tick_seconds: float) -> None:
        self.ctx = ctx
        self.jobs = list(jobs)
        self.leadership = leadership
        self.tick_seconds = tick_seconds
        self.is_leader = False
        self._last_run: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wake: dict[str, threading.Event] = {job.name: threading.Event() for job in self.jobs}

    def _confirm(self) -> bool:
        leader = self.leadership.hold()
        if leader != self.is_leader:
            log.info("scheduler %s: %s", self.ctx.instance, "became leader" if leader else "is not leader")
            self.is_leader = leader
            self.ctx.metrics.scheduler_leader.set(1 if leader else 0)
        return leader

    def _run(self, job: Job) -> bool:
        """One round of a job; True when it says more work is waiting (run again without pausing)."""
        try:
            return job.run(self.ctx, self.ctx.clock()) is True
        except StorageUnavailable as exc:  # expected while the database is away: one line, no traceback
            log.warning("scheduler job %s: storage unavailable: %s", job.name, exc)
        except Exception:  # one failing round (a bug) must not stop the job or the others
            log.exception("scheduler job %s failed", job.name)
        return False

    def wake(self, name: str) -> None:
        """Run job `name` now instead of at its next tick (intake wakes the outbox after a commit)."""
        event = self._wake.get(name)
        if event is not None:
            event.set()

    def run_once(self) -> bool:
        """One synchronous tick (tests): confirm leadership, run every due job in turn. Returns leadership."""
        if not self._confirm():
            return False
        for job in self.jobs:
            started = time.monotonic()
            if started - self._last_run.get(job.name, -1e9) < job.interval_seconds:
                continue
            self._last_run[job.name] = started
            while self._run(job):  # a synchronous tick finishes the work it started (deliveries in flight)
                pass
        return True

    def _lead(self) -> None:
        while not self._stop.is_set():
            try:
                self._confirm()
            except Exception:
                log.exception("scheduler leadership check failed")
            self._stop.wait(self.tick_seconds)

    def _job_loop(self, job: Job) -> None:
        # Each job in its own thread, so a slow one (a receiver timing out, a Prometheus query) never
        # delays another (escalation).
        wake = self._wake[job.name]
        while not self._stop.is_set():
            if self.is_leader and self._run(job):
                continue
            wake.wait(max(job.interval_seconds, self.tick_seconds))
            wake.clear()

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._lead, name="fireline-leadership", daemon=True)]
        self._threads += [threading.Thread(target=self._job_loop, args=(job,), name=f"fireline-job-{job.name}",
                                           daemon=True) for job in self.jobs]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Stop the jobs: each finishes the round it is in, within `timeout` for all together (a round
        still sending after that is abandoned; its items' leases expire and they are sent again)."""
        self._stop.set()
        for event in self._wake.values():
            event.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        still = [t.name for t in self._threads if t.is_alive()]
        if still:
            log.warning("scheduler stopped with %s still running: their work is retried", ", ".join(still))
        self.leadership.release()
        self.is_leader = False
        self.ctx.metrics.scheduler_leader.set(0)
