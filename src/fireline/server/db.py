"""Storage for `fireline serve`: the declarative Base, engines, sessions and Alembic migrations.

SQLite (one file, zero set-up) for a single replica; PostgreSQL when several replicas share the
state. Every feature's tables derive from `Base`; each feature ships its own Alembic version
folder with its own branch label and registers it with `register_migrations`, and `migrate`
runs `upgrade heads` over all of them (docs/serve.md, "Extension points").
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from fireline.server.settings import normalise_database_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic's own folder of fireline serve; features add theirs with register_migrations.
_VERSION_LOCATIONS: list[Path] = [MIGRATIONS / "versions"]
_LOCK = threading.Lock()
# pg_advisory_lock keys: one for schema upgrades, one for the scheduler leader (see scheduler.py).
MIGRATION_LOCK_KEY = 0x66697265_6D696772  # "firemigr"


class Base(DeclarativeBase):
    # Stable constraint names so Alembic migrations can alter them on both SQLite and PostgreSQL.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: fireline keeps every time in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StorageUnavailable(Exception):
    """The database cannot be reached or is locked: callers answer 503 so senders retry."""


def register_migrations(versions: Path) -> None:
    """Add a feature's Alembic version folder (its revisions carry their own branch label)."""
    with _LOCK:
        if versions.resolve() not in [p.resolve() for p in _VERSION_LOCATIONS]:
            _VERSION_LOCATIONS.append(versions)


def version_locations() -> list[Path]:
    with _LOCK:
        return list(_VERSION_LOCATIONS)


def expected_tables() -> set[str]:
    """The tables this server's migrations create: every mapped table, except those of a feature
    whose own migrations folder (<package>/migrations/versions) is not registered, because that
    feature is not served by this process (its models may still be imported by another module)."""
    registered = {p.resolve() for p in version_locations()}
    skipped: set[str] = set()
    for mapper in Base.registry.mappers:
        module = sys.modules.get(mapper.class_.__module__)
        if module is None or getattr(module, "__file__", None) is None:
            continue
        own = Path(str(module.__file__)).resolve().parent / "migrations" / "versions"
        if own.is_dir() and own not in registered:
            skipped.update(t.name for t in mapper.tables)
    return set(Base.metadata.tables) - skipped


def is_sqlite(url: str) -> bool:
    return normalise_database_url(url).startswith("sqlite")


DEFAULT_TIMEOUT_SECONDS = 10.0


def make_engine(url: str, *, pool_size: int = 10, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Engine:
    """An engine whose every wait is bounded by timeout_seconds: connecting, the pool, locks, statements."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout_seconds})
        _sqlite_write_transactions(engine, busy_ms=max(int(timeout_seconds * 800), 100), lock=_sqlite_lock(url))
        return engine
    ms = int(timeout_seconds * 1000)
    # Statements and lock waits end a little before the request's own deadline, so the answer is the
    # database's precise 503 rather than the request timeout's.
    db_ms = max(int(ms * 0.8), 100)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
        # A connection from the pool within half the budget, so the answer (503) still comes in time.
        pool_timeout=max(timeout_seconds / 2, 0.5),
        connect_args={
            "connect_timeout": max(1, min(5, int(timeout_seconds / 2))),
            # Server side: no statement or row-lock wait outlives the request. Client side: a connection
            # whose peer stops acknowledging (a blackholed network) fails instead of hanging for minutes.
            "options": f"-c statement_timeout={db_ms} -c lock_timeout={db_ms} "
                       f"-c idle_in_transaction_session_timeout={ms * 6}",
            "tcp_user_timeout": ms, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 3,
        })


def _sqlite_write_transactions(engine: Engine, busy_ms: int, lock: FairLock) -> None:
    # pysqlite opens transactions lazily and upgrades read locks to write locks mid-transaction, which
    # fails with "database is locked" under concurrency; BEGIN IMMEDIATE takes the write lock up front
    # and busy_timeout makes concurrent writers queue instead of failing.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # The process's writers queue on `lock` (see FairLock) right before SQLite's own lock, and give it up
    # as their transaction ends; connection.info says whether this connection holds it.
    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if not lock.acquire(busy_ms / 1000):
            raise StorageUnavailable("database is locked: this process's other writers held it too long")
        connection.info["fireline_writer"] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _end(connection)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(connection: Any) -> None:
        if connection.info.pop("fireline_writer", False):
            lock.release()


class FairLock:
    """A re-entrant lock handed to waiters in arrival order.

    SQLite has one writer at a time and its busy handler makes waiters sleep and poll: a thread that
    commits and begins again at once (the intake's group-commit writer) wins the lock over and over while
    the outbox worker sleeps, and pages wait behind intake. Every SQLite transaction of this process takes
    this lock first, so writers of one process take turns without polling; other processes (replicas on
    the same file) still meet at SQLite's own lock and busy timeout.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Event]] = deque()

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return True
            turn = (me, threading.Event())
            self._waiters.append(turn)
        if turn[1].wait(timeout):
            return True
        with self._mutex:
            if self._owner == me:  # handed over just as the wait ended
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:  # straight to the longest waiter: the releaser cannot take it back first
                self._owner, event = self._waiters.popleft()
                self._depth = 1
                event.set()
            else:
                self._owner = None


_SQLITE_LOCKS: dict[str, FairLock] = {}


def _sqlite_lock(url: str) -> FairLock:
    # One per database file, shared by every Database of this process on it (tests open several).
    name = url.split("///", 1)[-1]
    key = str(Path(name).resolve()) if name and ":memory:" not in name and "///" in url else url
    with _LOCK:
        return _SQLITE_LOCKS.setdefault(key, FairLock())


class Database:
    """An engine and its session factory; `transaction()` is the unit of work of every request."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = normalise_database_url(url)
        self.timeout_seconds = timeout_seconds
        self.engine = make_engine(self.url, pool_size=pool_size, timeout_seconds=timeout_seconds)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Every database failure but a constraint violation (which callers retry) surfaces as
        StorageUnavailable, so HTTP handlers answer 503: a lost connection, a pool timeout, a statement or
        lock timeout, a read-only or full disk, tables that are missing.
        """
        try:
            with self.sessions() as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise StorageUnavailable(_reason(exc)) from exc
        except SQLAlchemyError as exc:  # pool TimeoutError and the like: no driver error to quote
            raise StorageUnavailable(type(exc).__name__) from exc

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageUnavailable(_reason(exc) if isinstance(exc, DBAPIError) else type(exc).__name__) from exc

    def readiness(self, expected_heads: set[str]) -> dict[str, str]:
        """Whether this replica can do its work: {check: "ok" or the reason it cannot}.

        reachable: a connection answers. migrated: the schema is at every registered branch's head and
        every table exists. writable: a real write commits (a read-only or full SQLite file, a PostgreSQL
        standby or a revoked grant fail here, where /healthz would still say alive).
        """
        from alembic.runtime.migration import MigrationContext
        from sqlalchemy import inspect

        checks = {"reachable": "not checked", "migrated": "not checked", "writable": "not checked"}
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                checks["reachable"] = "ok"
                current = set(MigrationContext.configure(connection).get_current_heads())
                missing_tables = sorted(expected_tables() - set(inspect(connection).get_table_names()))
                if current != expected_heads:
                    checks["migrated"] = (f"schema at {', '.join(sorted(current)) or 'no revision'}, "
                                          f"expected {', '.join(sorted(expected_heads))}: "
                                          "run fireline serve to migrate")
                elif missing_tables:
                    checks["migrated"] = f"tables missing: {', '.join(missing_tables[:10])}"
                else:
                    checks["migrated"] = "ok"
                connection.rollback()
                # Rewrites Alembic's own row with its value: a write every backend must commit, on a table
                # that exists whenever the schema does.
                with connection.begin():
                    connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
                checks["writable"] = "ok"
        except SQLAlchemyError as exc:
            failed = next(name for name, value in checks.items() if value != "ok")
            checks[failed] = _reason(exc) if isinstance(exc, DBAPIError) else type(exc).__name__
        return checks

    def dispose(self) -> None:
        self.engine.dispose()


def expected_heads() -> set[str]:
    """The head revisions of every registered migration branch."""
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations",
                        os.pathsep.join(str(p).replace("%", "%%") for p in version_locations()))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def insert_ignoring_conflicts(session: Session, table: Table, rows: list[dict[str, Any]],
                              conflict: Sequence[str]) -> int:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING of `rows` (a Core statement: no ORM unit of work, one
    round trip); returns how many were inserted. A row whose key another transaction holds uncommitted
    waits for it, so a concurrent duplicate is skipped rather than raising IntegrityError."""
    if not rows:
        return 0
    connection = session.connection()
    statement = _insert_ignoring(connection.dialect.name, table, tuple(conflict))
    # On the session's connection, not session.execute: a Core statement needs no autoflush, and skipping it
    # lets the ORM write the pending rows of many group-commit members in one flush. RETURNING counts what
    # was inserted on both backends (psycopg reports no rowcount here).
    return len(connection.execute(statement, rows[0] if len(rows) == 1 else rows).all())


@functools.cache
def _insert_ignoring(dialect: str, table: Table, conflict: tuple[str, ...]) -> Any:
    # Built once per table: constructing a statement costs more than SQLite takes to run it.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    return statement.returning(*[table.c[name] for name in conflict])


def _reason(exc: DBAPIError) -> str:
    # The driver's first line only: full messages may echo connection strings.
    return str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__


def alembic_config(connection: Any) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations",
                        os.pathsep.join(str(p).replace("%", "%%") for p in version_locations()))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to every registered branch's head (`alembic upgrade heads`).

    On PostgreSQL an advisory lock serialises replicas that start at the same moment.
    """
    engine = make_engine(url, pool_size=1, timeout_seconds=600)  # a schema change may take minutes
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                connection.commit()
            try:
                command.upgrade(alembic_config(connection), "heads")
                connection.commit()
            finally:
                if postgres:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                    connection.commit()
    except OperationalError as exc:
        raise StorageUnavailable(_reason(exc)) from exc
    finally:
        engine.dispose()
