"""Group commit (fireline.server.groupcommit) on real SQLite and PostgreSQL: shared transactions, each
member its own answer, nothing answered before its commit, one member's failure not lost on the others."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fireline.incidents import service
from fireline.incidents.intake import AlertmanagerNotification
from fireline.server.db import Database, StorageUnavailable, migrate
from fireline.server.groupcommit import GroupCommit
from tests.server.support import Clock, alert, make_config, notification

_META = MetaData()
ROWS = Table("groupcommit_rows", _META, Column("id", Integer, primary_key=True),
             Column("name", String(64), unique=True))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, timeout_seconds=2)
    _META.create_all(database.engine)
    yield database
    database.dispose()


def _names(db: Database) -> list[str]:
    with db.transaction() as session:
        return sorted(session.scalars(select(ROWS.c.name)))


def _gated(apply: Callable[[Session, str], str], gate: threading.Event) -> Callable[[Session, str], str]:
    """The first item ("gate") holds the writer until the test let every other item queue behind it."""
    def run(session: Session, name: str) -> str:
        if name == "gate":
            assert gate.wait(10)
        return apply(session, name)
    return run


def _insert(session: Session, name: str) -> str:
    if name.startswith("bad"):
        raise ValueError(f"{name} is refused")
    row_id = session.execute(insert(ROWS).values(name=name).returning(ROWS.c.id)).scalar_one()
    return f"{name}:{row_id}"


def _submit_all(writer: GroupCommit[str, str], names: list[str], gate: threading.Event) -> list[object]:
    """Submit "gate" first, then `names` while the writer is held, then release it; each submit's outcome."""
    with ThreadPoolExecutor(max_workers=len(names) + 1) as pool:
        first = pool.submit(writer.submit, "gate", 10)
        deadline = time.monotonic() + 5
        while writer.batches == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        rest = [pool.submit(writer.submit, name, 10) for name in names]
        while writer._queue.qsize() < len(names) and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        outcomes: list[object] = []
        for future in [first, *rest]:
            try:
                outcomes.append(future.result())
            except Exception as exc:  # the test compares outcomes, errors included
                outcomes.append(exc)
    return outcomes


def test_concurrent_items_share_a_transaction_and_each_gets_its_own_answer(db: Database) -> None:
    gate = threading.Event()
    writer = GroupCommit(db, _gated(_insert, gate), name="test")
    names = [f"item-{n:02d}" for n in range(20)]
    outcomes = _submit_all(writer, names, gate)
    writer.close()
    assert [str(o).split(":")[0] for o in outcomes] == ["gate", *names]
    assert len({str(o).split(":")[1] for o in outcomes}) == 21  # each its own row id
    assert writer.batches == 2  # the gate alone, then the 20 that queued behind it together
    assert _names(db) == sorted(["gate", *names])


def test_a_failing_member_gets_its_error_and_the_others_are_committed(db: Database) -> None:
    gate = threading.Event()
    writer = GroupCommit(db, _gated(_insert, gate), name="test")
    names = ["a", "bad-1", "b", "c", "bad-2", "d"]
    outcomes = _submit_all(writer, names, gate)
    writer.close()
    by_name = dict(zip(["gate", *names], outcomes, strict=True))
    assert isinstance(by_name["bad-1"], ValueError) and "bad-1 is refused" in str(by_name["bad-1"])
    assert isinstance(by_name["bad-2"], ValueError)
    assert all(str(by_name[n]).startswith(f"{n}:") for n in ("a", "b", "c", "d"))
    assert _names(db) == ["a", "b", "c", "d", "gate"]


def test_a_constraint_race_is_retried_alone_and_then_answered_storage_unavailable(db: Database) -> None:
    with db.transaction() as session:
        session.execute(insert(ROWS).values(name="taken"))
    tries: list[str] = []

    def apply(session: Session, name: str) -> str:
        tries.append(name)
        return _insert(session, name)

    gate = threading.Event()
    writer = GroupCommit(db, _gated(apply, gate), name="test", retries=3)
    outcomes = _submit_all(writer, ["x", "taken", "y"], gate)
    writer.close()
    assert isinstance(outcomes[2], StorageUnavailable) and "conflicting" in str(outcomes[2])
    assert str(outcomes[1]).startswith("x:") and str(outcomes[3]).startswith("y:")
    # Optimistic pass (x, taken fails), then one savepoint each: x, taken 3 times, y.
    assert tries.count("taken") == 4
    assert _names(db) == ["gate", "taken", "x", "y"]


def test_nothing_is_answered_before_the_commit_and_a_failed_commit_fails_every_member(tmp_path: Path) -> None:
    path = tmp_path / "gc.db"
    db = Database(f"sqlite:///{path}", timeout_seconds=0.5)
    _META.create_all(db.engine)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # no writer can begin: BEGIN IMMEDIATE times out
    writer: GroupCommit[str, str] = GroupCommit(db, _insert, name="test")
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(writer.submit, f"n{i}", 10) for i in range(5)]
            errors = [f.exception() for f in futures]
        assert all(isinstance(e, StorageUnavailable) for e in errors), errors
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert writer.submit("after", 10).startswith("after:")
    writer.close()
    assert _names(db) == ["after"]
    db.dispose()


def test_a_withdrawn_item_is_never_written(db: Database) -> None:
    gate = threading.Event()
    writer = GroupCommit(db, _gated(_insert, gate), name="test")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(writer.submit, "gate", 10)
        while writer.batches == 0:
            time.sleep(0.01)
        with pytest.raises(StorageUnavailable, match="no write within"):
            writer.submit("late", 0.2)  # its sender got 503 and will retry: it must not be kept as well
        gate.set()
        assert first.result().startswith("gate:")
    writer.close()
    assert _names(db) == ["gate"]


def _intake_writer(database_url: str, tmp_path: Path) -> tuple[Database, GroupCommit[AlertmanagerNotification, Any]]:
    """A migrated database and the intake's group-commit writer over it, as the API builds it."""
    config = make_config(tmp_path, "http://127.0.0.1:9")
    migrate(database_url)
    db = Database(database_url)
    clock = Clock()
    return db, GroupCommit(db, lambda s, n: service.ingest(s, config, n, clock()), name="intake",
                           order_key=AlertmanagerNotification.group_key)


def test_intake_through_group_commit_answers_every_notification_rightly(database_url: str, tmp_path: Path) -> None:
    """Concurrent new groups, updates and redeliveries in shared batches: right answers, all stored once."""
    db, writer = _intake_writer(database_url, tmp_path)
    bodies = [notification(alert(fingerprint=f"fp{i}"), group_key=f"group-{i % 10}") for i in range(40)]
    bodies += bodies[:10]  # Alertmanager redelivers: duplicates
    parsed = [AlertmanagerNotification.model_validate(b) for b in bodies]
    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(lambda n: writer.submit(n, 30), parsed))
    writer.close()
    assert writer.batches < len(parsed)
    fresh, again = results[:40], results[40:]
    assert sum(r.opened for r in fresh) == 10 and not any(r.duplicate for r in fresh)
    assert all(r.duplicate for r in again)
    by_group: dict[str, set[int | None]] = {}
    for n, r in zip(parsed[:40], fresh, strict=True):
        by_group.setdefault(n.group_key(), set()).add(r.incident_id)
    assert all(len(ids) == 1 for ids in by_group.values()) and len({*map(min, by_group.values())}) == 10
    with db.transaction() as session:
        from fireline.incidents.models import IncidentAlert
        assert len(list(session.scalars(select(IncidentAlert.fingerprint)))) == 40
    db.dispose()


def test_integrity_error_is_what_a_unique_violation_raises(db: Database) -> None:
    # The careful pass relies on it: a constraint race surfaces as IntegrityError, not StorageUnavailable.
    with db.transaction() as session:
        session.execute(insert(ROWS).values(name="one"))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(insert(ROWS).values(name="one"))


def test_one_groups_notifications_in_one_batch_apply_in_arrival_order(database_url: str, tmp_path: Path) -> None:
    """Opened, updated, all resolved (mitigated) and a second group, all in one transaction."""
    from concurrent.futures import Future

    from fireline.incidents.models import Incident

    db, writer = _intake_writer(database_url, tmp_path)
    bodies = [notification(alert(fingerprint="a"), group_key="g1"),
              notification(alert(fingerprint="z"), group_key="g0"),
              notification(alert(fingerprint="a"), alert(fingerprint="b"), group_key="g1"),
              notification(alert(fingerprint="a", status="resolved"), alert(fingerprint="b", status="resolved"),
                           group_key="g1")]
    batch: list[tuple[AlertmanagerNotification, Future[service.IntakeResult]]] = [
        (AlertmanagerNotification.model_validate(b), Future()) for b in bodies]
    writer._write(batch)  # one batch, as the writer thread would take it
    assert writer.batches == 1
    results = [future.result(0) for _, future in batch]
    assert [(r.opened, r.note) for r in results] == [
        (True, "incident opened"), (True, "incident opened"), (False, "incident updated"),
        (False, "incident updated")]
    assert results[0].incident_id == results[2].incident_id == results[3].incident_id != results[1].incident_id
    with db.transaction() as session:
        statuses = {i.group_key: i.status for i in session.scalars(select(Incident))}
    assert statuses == {"g1": "mitigated", "g0": "triggered"}
    db.dispose()


def test_a_failure_outside_any_member_fails_the_batch_and_the_writer_goes_on(db: Database) -> None:
    def order(name: str) -> str:
        if name == "boom":
            raise RuntimeError("ordering failed")
        return name

    writer = GroupCommit(db, _insert, name="test", order_key=order)
    with pytest.raises(StorageUnavailable, match="RuntimeError"):
        writer.submit("boom", 5)
    assert writer.submit("next", 5).startswith("next:")
    writer.close()
    with pytest.raises(StorageUnavailable, match="shutting down"):
        writer.submit("late", 5)
    assert _names(db) == ["next"]


def test_several_writers_write_each_item_once(db: Database) -> None:
    writer = GroupCommit(db, _insert, name="test", writers=3, max_batch=4)
    names = [f"w{n:02d}" for n in range(60)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda name: writer.submit(name, 20), names))
    writer.close()
    assert [r.split(":")[0] for r in results] == names
    assert _names(db) == names
