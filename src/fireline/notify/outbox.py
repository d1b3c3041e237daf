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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from fireline.notify.endpoints import DeliveryTarget, EndpointError, Transport, TransportError
from fireline.server.db import Base, Database, UTCDateTime

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
    """Add a notification unless one with this key exists; True when added."""
    if session.scalar(select(OutboxItem.id).where(OutboxItem.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(OutboxItem(key=key, incident_id=incident_id, receiver=receiver, integration=integration,
                                   event=event, payload=payload, status=OutboxStatus.PENDING.value,
                                   attempts=0, next_attempt_at=now, created_at=now))
    except IntegrityError:  # another transaction enqueued it first
        return False
    return True


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
    db: Database
    transport: Transport
    resolve: Callable[[str, str], DeliveryTarget]
    max_attempts: int
    base_backoff: timedelta
    max_backoff: timedelta
    lease: timedelta
    clock: Callable[[], datetime]
    batch: int = 50
    parallel: int = 8

    def deliver_due(self, now: datetime) -> list[Outcome]:
        """Deliver every due item once; the caller records outcomes (timeline, metrics)."""
        with self.db.transaction() as session:
            # Per incident, receiver and integration, in order: PagerDuty must see trigger before resolve, so
            # an item waits while an earlier one of the same stream is still pending (retrying).
            earlier = aliased(OutboxItem)
            blocked = exists().where(earlier.status == OutboxStatus.PENDING.value, earlier.id < OutboxItem.id,
                                     earlier.incident_id == OutboxItem.incident_id,
                                     earlier.receiver == OutboxItem.receiver,
                                     earlier.integration == OutboxItem.integration)
            items = list(session.scalars(
                select(OutboxItem)
                .where(OutboxItem.status == OutboxStatus.PENDING.value, OutboxItem.next_attempt_at <= now, ~blocked)
                .order_by(OutboxItem.id).limit(self.batch)))
            # The lease: if this process dies mid-request the item becomes due again after it.
            for item in items:
                item.next_attempt_at = now + self.lease
            claimed = [(i.id, i.key, i.receiver, i.integration, i.event, i.payload, i.attempts, i.incident_id)
                       for i in items]
        if not claimed:
            return []
        # Sent side by side: one receiver timing out does not hold up the others' notifications.
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(claimed))) as pool:
            return list(pool.map(lambda row: self._deliver(*row), claimed))

    def _deliver(self, item_id: int, key: str, receiver: str, integration: str, event: str,
                 payload: dict[str, Any], attempts: int, incident_id: int | None) -> Outcome:
        status_code: int | None = None
        error: str | None = None
        try:
            target = self.resolve(receiver, integration)
            body = target.finish(payload)
            status_code, text = self.transport.post(target.url, body, {"X-Fireline-Delivery": key})
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {text[:200]}"
        except (EndpointError, TransportError) as exc:
            error = str(exc)
        return self._record(item_id, incident_id, receiver, integration, event, attempts + 1, status_code, error)

    def _record(self, item_id: int, incident_id: int | None, receiver: str, integration: str, event: str,
                attempts: int, status_code: int | None, error: str | None) -> Outcome:
        now_done = self.clock()
        delivered = error is None
        retry = not delivered and (status_code is None or _retryable(status_code)) and attempts < self.max_attempts
        dead = not delivered and not retry
        with self.db.transaction() as session:
            item = session.get(OutboxItem, item_id)
            if item is not None:
                item.attempts = attempts
                item.last_error = error
                if delivered:
                    item.status = OutboxStatus.DELIVERED.value
                    item.delivered_at = now_done
                elif dead:
                    item.status = OutboxStatus.DEAD.value
                else:
                    item.next_attempt_at = now_done + backoff(attempts, self.base_backoff, self.max_backoff)
        if error is not None:
            log.warning("notification %s to %s/%s failed (attempt %d): %s", event, receiver, integration,
                        attempts, error)
        return Outcome(item_id, incident_id, receiver, integration, event, delivered, dead, attempts, error,
                       status_code)

