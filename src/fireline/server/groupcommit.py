"""Group commit: one writer thread applies many requests' work in one transaction and answers each
request only after that transaction has committed.

Intake is dominated by per-transaction costs (BEGIN, the ORM's flush, COMMIT; on PostgreSQL a WAL flush
and a round trip each) and, on SQLite, by writers queueing for the one write lock. Requests that arrive
while a batch is being written wait in a queue and go together in the next one, so under load the cost
of a transaction is shared by the whole batch, and with no load a request is written at once (no timer
waits to fill a batch).

Correctness rules:

- Nobody gets an answer before the data is committed: results are handed out after COMMIT returns; a
  failed commit fails every member (the caller answers 503 and the sender retries; nothing was kept).
- One member's failure does not fail the others. A batch is first written optimistically (no
  savepoints: the ORM flushes every member's rows together); if any member raises, the transaction is
  rolled back and the batch is written again with one savepoint per member, so the failing member gets
  its own error (a constraint race is retried, up to `retries` times) and the others their results.
- Members run in `order_key` order (stable, so one group's notifications keep their arrival order):
  replicas sharing PostgreSQL, and the writers of one replica, then take row locks in the same order
  and do not deadlock each other.

`writers` > 1 (PostgreSQL) runs several batches at once: a writer waiting for the server's answer to
one statement holds no lock of Python's, so another writer's work fills the gap. SQLite has one writer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from fireline.server.db import Database, StorageUnavailable

log = logging.getLogger("fireline.groupcommit")
T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Applies `apply(session, item)` for submitted items in shared transactions (see the module doc)."""

    def __init__(self, db: Database, apply: Callable[[Session, T], R], *, name: str = "writer",
                 max_batch: int = 32, retries: int = 3, order_key: Callable[[T], str] | None = None,
                 idle_seconds: float = 5.0, writers: int = 1) -> None:
        self.db = db
        self.apply = apply
        self.name = name
        self.max_batch = max_batch
        self.retries = retries
        self.order_key = order_key
        self.idle_seconds = idle_seconds
        self.writers = writers
        self.batches = 0  # committed (or failed) batches, for tests and metrics
        self._queue: queue.SimpleQueue[tuple[T, Future[R]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._closed = False

    def submit(self, item: T, timeout: float) -> R:
        """Apply `item` in the next batch and return its result once committed; raises what it raised,
        StorageUnavailable when the batch could not commit or no answer came within `timeout`."""
        if self._closed:
            raise StorageUnavailable("the server is shutting down")
        future: Future[R] = Future()
        self._queue.put((item, future))
        self._ensure_thread()
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            # Not started yet: withdrawn, so it is never written after its sender was told to retry. Already
            # in a batch: it may still commit, and the sender's retry is then a harmless duplicate.
            future.cancel()
            raise StorageUnavailable(f"no write within {timeout:g}s") from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)  # type: ignore[arg-type]
        for thread in threads:
            thread.join(timeout=5)

    def _ensure_thread(self) -> None:
        with self._lock:
            if len(self._threads) < self.writers:
                if self._closed:
                    raise StorageUnavailable("the server is shutting down")
                # Started on demand and ended when idle, so an app that is never shut down cleanly (tests)
                # leaves no thread behind.
                thread = threading.Thread(target=self._loop, name=f"fireline-{self.name}", daemon=True)
                self._threads.add(thread)
                thread.start()

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                first = self._queue.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # a submit racing with going idle finds a thread missing: starts one
                        self._threads.discard(me)
                        return
                continue
            if first is _STOP:
                with self._lock:
                    self._threads.discard(me)
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(nxt)
                    break
                batch.append(nxt)
            try:
                self._write(batch)
            except Exception as exc:  # a bug here must not end the writer and leave every later request waiting
                log.exception("%s: batch of %d failed", self.name, len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(StorageUnavailable(type(exc).__name__))

    def _write(self, batch: list[tuple[T, Future[R]]]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        if self.order_key is not None:
            key = self.order_key
            live.sort(key=lambda pair: key(pair[0]))
        self.batches += 1
        try:
            outcomes = self._optimistic([item for item, _ in live])
        except StorageUnavailable as exc:
            outcomes = [exc] * len(live)
        except Exception:
            try:
                outcomes = self._careful([item for item, _ in live])
            except StorageUnavailable as exc:
                outcomes = [exc] * len(live)
            except Exception as exc:
                log.warning("%s: batch of %d failed to commit: %s", self.name, len(live), type(exc).__name__)
                outcomes = [StorageUnavailable(type(exc).__name__)] * len(live)
        for (_, future), outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _optimistic(self, items: list[T]) -> list[R | BaseException]:
        with self.db.transaction() as session:
            return [self.apply(session, item) for item in items]

    def _careful(self, items: list[T]) -> list[R | BaseException]:
        outcomes: list[R | BaseException] = []
        with self.db.transaction() as session:
            for item in items:
                for attempt in range(self.retries):
                    try:
                        with session.begin_nested():
                            outcomes.append(self.apply(session, item))
                        break
                    except IntegrityError:
                        # Another replica created the same row first: run again, now seeing its row.
                        if attempt == self.retries - 1:
                            outcomes.append(StorageUnavailable("concurrent updates kept conflicting"))
                    except DBAPIError:
                        raise  # the transaction itself is in trouble: every member fails (503)
                    except Exception as exc:
                        outcomes.append(exc)
                        break
        return outcomes


_STOP = object()
