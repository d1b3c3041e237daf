"""The notification outbox: rows written in the same transaction as the change they announce,
delivered later by the scheduler leader (at-least-once, retries with exponential backoff, dead
letter after `server.outbox.max_attempts`).

A crash between an HTTP request and the row being marked delivered re-sends that one item after its
lease expires; every request carries `X-Fireline-Delivery: <outbox key>` (and PagerDuty dedups on
`dedup_key`) so receivers can drop such a repeat.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Table, Text, bindparam, case, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from fireline.notify.endpoints import DeliveryTarget, EndpointError, Transport, TransportError
from fireline.server.db import Base, Database, UTCDateTime, insert_ignoring_conflicts

log = logging.getLogger("fireline.outbox")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_incident", "incident_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique per logical notification: enqueuing the same one twice (a redelivered alert, a retried
    # transaction, two replicas) is a no-op.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    receiver: Mapped[str] = mapped_column(String(255))
    integration: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))
    # The rendered body without secrets: routing keys and webhook URLs are read at delivery time.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


# The Core table: the worker and enqueue use statements, not ORM objects, on their hot paths.
_TABLE: Table = OutboxItem.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Outcome:
    item_id: int
    incident_id: int | None
    receiver: str
    integration: str
    event: str
    delivered: bool
    dead: bool
    attempts: int
    error: str | None
    status_code: int | None


def outbox_row(*, key: str, incident_id: int | None, receiver: str, integration: str, event: str,
               payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return dict(key=key, incident_id=incident_id, receiver=receiver, integration=integration, event=event,
                payload=payload, status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now)


def enqueue(session: Session, *, key: str, incident_id: int | None, receiver: str, integration: str,
            event: str, payload: dict[str, Any], now: datetime) -> bool:
    """Add a notification unless one with this key exists; True when added."""
    return enqueue_rows(session, [outbox_row(key=key, incident_id=incident_id, receiver=receiver,
                                             integration=integration, event=event, payload=payload, now=now)]) == 1


def enqueue_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """Add notifications (outbox_row dicts) whose keys are new; returns how many were added.

    One INSERT ... ON CONFLICT DO NOTHING: a key enqueued before (a redelivered alert, a retried
    transaction, another replica at the same moment) is skipped without a savepoint or a look-up."""
    return insert_ignoring_conflicts(session, _TABLE, rows, ["key"])


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before attempt number attempts+1: base, 2·base, 4·base, ... up to cap."""
    delay: timedelta = base * (2 ** max(attempts - 1, 0))
    return min(delay, cap)


# Status codes worth retrying: the receiver may take the same request later. Other 4xx mean the
# request itself is wrong (bad payload, revoked key) and will never succeed.
def _retryable(status: int) -> bool:
    return status == 429 or status >= 500 or status == 408


@dataclass
class OutboxWorker:
    """Claims due items and sends them on a bounded pool of threads.

    Pages (PagerDuty) are claimed before chat and webhooks. Each incident/receiver/integration stream is
    delivered in order; streams run side by side, so one receiver timing out holds up nobody else. Slack
    gets at most one message per `slack_interval` per receiver (Slack allows about one a second per
    channel): items beyond that wait for their slot without spending an attempt.
    """

    db: Database
    transport: Transport
    resolve: Callable[[str, str], DeliveryTarget]
    max_attempts: int
    base_backoff: timedelta
    max_backoff: timedelta
    lease: timedelta
    clock: Callable[[], datetime]
    batch: int = 200
    parallel: int = 16
    slack_interval: timedelta = timedelta(0)
    # Called in the transaction that records finished deliveries (the incidents' timeline entries), so
    # a round's outcomes and what they add commit together.
    on_recorded: Callable[[Session, list[Outcome]], None] | None = None
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _in_flight: dict[Future[_Sent], _Claim] = field(default_factory=dict, init=False, repr=False)
    # Next free Slack slot per receiver, and the items holding a reserved slot (they go when it comes).
    _slots: dict[str, datetime] = field(default_factory=dict, init=False, repr=False)
    _reserved: dict[int, datetime] = field(default_factory=dict, init=False, repr=False)

    def _claim(self, now: datetime, limit: int) -> list[_Claim]:
        with self.db.transaction() as session:
            return self._claim_in(session, now, limit)

    def _claim_in(self, session: Session, now: datetime, limit: int) -> list[_Claim]:
        # Core statements, not ORM objects: this runs many times a second under load, competing with intake.
        table = _TABLE
        pages_first = case((table.c.integration == "pagerduty", 0), else_=1)
        # Due items, pages first; more than `limit`, since some may wait behind an earlier item of their stream.
        candidates = session.execute(
            select(table.c.id, table.c.key, table.c.receiver, table.c.integration, table.c.event,
                   table.c.attempts, table.c.incident_id)
            .where(table.c.status == OutboxStatus.PENDING.value, table.c.next_attempt_at <= now)
            .order_by(pages_first, table.c.id).limit(limit * 4)).all()
        # Per incident, receiver and integration, in order: PagerDuty must see trigger before resolve, so an item
        # waits while an earlier one of the same stream is still pending (retrying). Asked as a second query on
        # the candidates' incidents rather than a NOT EXISTS self-join: PostgreSQL's plan for that join on a
        # table growing under load (statistics of a far smaller one) took seconds per round.
        incidents = sorted({row.incident_id for row in candidates if row.incident_id is not None})
        first: dict[tuple[int, str, str], int] = {}
        for start in range(0, len(incidents), 500):
            first.update({(i, r, g): n for i, r, g, n in session.execute(
                select(table.c.incident_id, table.c.receiver, table.c.integration, func.min(table.c.id))
                .where(table.c.status == OutboxStatus.PENDING.value,
                       table.c.incident_id.in_(incidents[start:start + 500]))
                .group_by(table.c.incident_id, table.c.receiver, table.c.integration)).all()})
        rows = [row for row in candidates if row.incident_id is None
                or first.get((row.incident_id, row.receiver, row.integration), row.id) >= row.id][:limit]
        chosen = []
        later: list[dict[str, Any]] = []
        for row in rows:
            if row.integration == "slack" and self.slack_interval and row.id not in self._reserved:
                stream = f"slack/{row.receiver}"
                slot = max(self._slots.get(stream, now), now)
                self._slots[stream] = slot + self.slack_interval
                if slot > now:  # its turn (reserved now) comes later: no attempt spent
                    self._reserved[row.id] = slot
                    later.append({"item_id": row.id, "due": slot})
                    continue
            self._reserved.pop(row.id, None)
            chosen.append(row)
        # Bodies only of what is sent now (decoding every candidate's JSON cost more than the rest of a round).
        bodies = dict(session.execute(select(table.c.id, table.c.payload)
                                      .where(table.c.id.in_([row.id for row in chosen]))).all()) if chosen else {}
        claimed = [_Claim(row.id, row.key, row.receiver, row.integration, row.event, bodies[row.id], row.attempts,
                          row.incident_id) for row in chosen if row.id in bodies]
        if claimed:  # the lease: if this process dies mid-request the item becomes due again after it
            session.execute(update(table).where(table.c.id.in_([c.item_id for c in claimed]))
                            .values(next_attempt_at=now + self.lease))
        if later:
            session.execute(update(table).where(table.c.id == bindparam("item_id"))
                            .values(next_attempt_at=bindparam("due")), later)
        return claimed

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="fireline-outbox")
        return self._pool

    def deliver_due(self, now: datetime) -> list[Outcome]:
        """Deliver every due item once and wait for all of them; the caller records outcomes (timeline, metrics)."""
        claimed = self._claim(now, self.batch)
        if not claimed:
            return []
        pool = self._executor()
        sent = list(pool.map(self._send, claimed))
        return self._record(list(zip(claimed, sent, strict=True)))

    def pump(self, now: datetime, wait_seconds: float = 0.05) -> tuple[list[Outcome], bool]:
        """One step of continuous delivery: record what finished and top the pool up with due items, in one
        transaction (on SQLite every transaction queues behind intake's, so a round pays for one), then wait
        a moment for a delivery to finish. Returns the outcomes recorded and whether work is still in flight
        (call again soon)."""
        done = [(future, claim) for future, claim in self._in_flight.items() if future.done()]
        # Up to 3 x parallel claimed at once: the last of them starts after at most two timeouts of the ones
        # ahead and ends within a third, inside its lease (3 x timeout + 5 s), so no lease expires while queued.
        room = self.parallel * 3 - len(self._in_flight) + len(done)
        with self.db.transaction() as session:
            outcomes = self._record_in(session, [(claim, future.result()) for future, claim in done])
            claims = self._claim_in(session, now, min(room, self.batch)) if room > 0 else []
        # Only now, committed: a failed round keeps its finished deliveries to record in the next one.
        for future, _ in done:
            del self._in_flight[future]
        self._log(outcomes)
        if claims:
            pool = self._executor()
            for claim in claims:
                self._in_flight[pool.submit(self._send, claim)] = claim
        if self._in_flight:
            # Until all are done (usually a few ms) or wait_seconds: the next round then records them at once.
            wait(list(self._in_flight), timeout=wait_seconds, return_when=ALL_COMPLETED)
        return outcomes, bool(self._in_flight)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, claim: _Claim) -> _Sent:
        status_code: int | None = None
        error: str | None = None
        try:
            target = self.resolve(claim.receiver, claim.integration)
            body = target.finish(claim.payload)
            status_code, text = self.transport.post(target.url, body, {"X-Fireline-Delivery": claim.key})
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {text[:200]}"
        except (EndpointError, TransportError) as exc:
            error = str(exc)
        return _Sent(status_code, error)

    def _record(self, finished: list[tuple[_Claim, _Sent]]) -> list[Outcome]:
        with self.db.transaction() as session:
            outcomes = self._record_in(session, finished)
        self._log(outcomes)
        return outcomes

    def _record_in(self, session: Session, finished: list[tuple[_Claim, _Sent]]) -> list[Outcome]:
        """Every finished delivery's new state, and what `on_recorded` adds (the timeline)."""
        if not finished:
            return []
        now_done = self.clock()
        outcomes: list[Outcome] = []
        delivered_rows: list[dict[str, Any]] = []
        retry_rows: list[dict[str, Any]] = []
        dead_rows: list[dict[str, Any]] = []
        for claim, sent in finished:
            attempts = claim.attempts + 1
            delivered = sent.error is None
            retry = (not delivered and (sent.status_code is None or _retryable(sent.status_code))
                     and attempts < self.max_attempts)
            dead = not delivered and not retry
            row = {"item_id": claim.item_id, "n": attempts, "error": sent.error}
            if delivered:
                delivered_rows.append(row)
            elif dead:
                dead_rows.append(row)
            else:
                retry_rows.append({**row, "due": now_done + backoff(attempts, self.base_backoff, self.max_backoff)})
            outcomes.append(Outcome(claim.item_id, claim.incident_id, claim.receiver, claim.integration,
                                    claim.event, delivered, dead, attempts, sent.error, sent.status_code))
        table = _TABLE
        by_id = update(table).where(table.c.id == bindparam("item_id"))
        # One executemany per outcome kind: a row deleted meanwhile is simply not updated.
        if delivered_rows:
            session.execute(by_id.values(status=OutboxStatus.DELIVERED.value, attempts=bindparam("n"),
                                         last_error=bindparam("error"), delivered_at=now_done), delivered_rows)
        if dead_rows:
            session.execute(by_id.values(status=OutboxStatus.DEAD.value, attempts=bindparam("n"),
                                         last_error=bindparam("error")), dead_rows)
        if retry_rows:
            session.execute(by_id.values(attempts=bindparam("n"), last_error=bindparam("error"),
                                         next_attempt_at=bindparam("due")), retry_rows)
        if self.on_recorded is not None:
            self.on_recorded(session, outcomes)
        return outcomes

    @staticmethod
    def _log(outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.error is not None:
                log.warning("notification %s to %s/%s failed (attempt %d): %s", outcome.event, outcome.receiver,
                            outcome.integration, outcome.attempts, outcome.error)


@dataclass(frozen=True)
class _Claim:
    item_id: int
    key: str
    receiver: str
    integration: str
    event: str
    payload: dict[str, Any]
    attempts: int
    incident_id: int | None


@dataclass(frozen=True)
class _Sent:
    status_code: int | None
    error: str | None
