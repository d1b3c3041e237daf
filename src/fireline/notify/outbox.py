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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, case, exists, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

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


def enqueue(session: Session, *, key: str, incident_id: int | None, receiver: str, integration: str,
            event: str, payload: dict[str, Any], now: datetime) -> bool:
    """Add a notification unless one with this key exists; True when added.

    One INSERT ... ON CONFLICT DO NOTHING: a key enqueued before (a redelivered alert, a retried
    transaction, another replica at the same moment) is skipped without a savepoint or a look-up."""
    return insert_ignoring_conflicts(session, OutboxItem.__table__, [dict(  # type: ignore[arg-type]
        key=key, incident_id=incident_id, receiver=receiver, integration=integration, event=event, payload=payload,
        status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now)], ["key"]) == 1


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
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _in_flight: dict[Future[_Sent], _Claim] = field(default_factory=dict, init=False, repr=False)
    # Next free Slack slot per receiver, and the items holding a reserved slot (they go when it comes).
    _slots: dict[str, datetime] = field(default_factory=dict, init=False, repr=False)
    _reserved: dict[int, datetime] = field(default_factory=dict, init=False, repr=False)

    def _claim(self, now: datetime, limit: int) -> list[_Claim]:
        with self.db.transaction() as session:
            # Per incident, receiver and integration, in order: PagerDuty must see trigger before resolve, so
            # an item waits while an earlier one of the same stream is still pending (retrying).
            earlier = aliased(OutboxItem)
            blocked = exists().where(earlier.status == OutboxStatus.PENDING.value, earlier.id < OutboxItem.id,
                                     earlier.incident_id == OutboxItem.incident_id,
                                     earlier.receiver == OutboxItem.receiver,
                                     earlier.integration == OutboxItem.integration)
            pages_first = case((OutboxItem.integration == "pagerduty", 0), else_=1)
            items = list(session.scalars(
                select(OutboxItem)
                .where(OutboxItem.status == OutboxStatus.PENDING.value, OutboxItem.next_attempt_at <= now, ~blocked)
                .order_by(pages_first, OutboxItem.id).limit(limit)))
            claimed: list[_Claim] = []
            for item in items:
                if item.integration == "slack" and self.slack_interval and item.id not in self._reserved:
                    stream = f"slack/{item.receiver}"
                    slot = max(self._slots.get(stream, now), now)
                    self._slots[stream] = slot + self.slack_interval
                    if slot > now:  # its turn (reserved now) comes later: no attempt spent
                        self._reserved[item.id] = slot
                        item.next_attempt_at = slot
                        continue
                self._reserved.pop(item.id, None)
                # The lease: if this process dies mid-request the item becomes due again after it.
                item.next_attempt_at = now + self.lease
                claimed.append(_Claim(item.id, item.key, item.receiver, item.integration, item.event, item.payload,
                                      item.attempts, item.incident_id))
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
        """One step of continuous delivery: top the pool up with due items, collect what finished.
        Returns the finished outcomes and whether work is still in flight (call again soon)."""
        room = self.parallel * 2 - len(self._in_flight)
        if room > 0:
            pool = self._executor()
            for claim in self._claim(now, min(room, self.batch)):
                self._in_flight[pool.submit(self._send, claim)] = claim
        if not self._in_flight:
            return [], False
        done, _ = wait(list(self._in_flight), timeout=wait_seconds, return_when=FIRST_COMPLETED)
        finished = [(self._in_flight.pop(future), future.result()) for future in done]
        return self._record(finished) if finished else [], bool(self._in_flight)

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
        """Every finished delivery's new state in one transaction."""
        now_done = self.clock()
        outcomes: list[Outcome] = []
        with self.db.transaction() as session:
            rows = {i.id: i for i in session.scalars(
                select(OutboxItem).where(OutboxItem.id.in_([claim.item_id for claim, _ in finished])))}
            for claim, sent in finished:
                attempts = claim.attempts + 1
                delivered = sent.error is None
                retry = (not delivered and (sent.status_code is None or _retryable(sent.status_code))
                         and attempts < self.max_attempts)
                dead = not delivered and not retry
                item = rows.get(claim.item_id)
                if item is not None:
                    item.attempts = attempts
                    item.last_error = sent.error
                    if delivered:
                        item.status = OutboxStatus.DELIVERED.value
                        item.delivered_at = now_done
                    elif dead:
                        item.status = OutboxStatus.DEAD.value
                    else:
                        item.next_attempt_at = now_done + backoff(attempts, self.base_backoff, self.max_backoff)
                outcomes.append(Outcome(claim.item_id, claim.incident_id, claim.receiver, claim.integration,
                                        claim.event, delivered, dead, attempts, sent.error, sent.status_code))
        for outcome in outcomes:
            if outcome.error is not None:
                log.warning("notification %s to %s/%s failed (attempt %d): %s", outcome.event, outcome.receiver,
                            outcome.integration, outcome.attempts, outcome.error)
        return outcomes


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
