"""Database engine and sessions (SQLAlchemy 2).

SQLite (the default) is opened with WAL journaling, foreign keys on and a
busy timeout; its writes are serialized inside the server process by
:class:`Database.write` (SQLite allows one writer at a time, and a
lock avoids ``database is locked`` failures under concurrent uploads).
PostgreSQL (``postgresql+psycopg://...``) needs no process lock: the write
paths lock the room's row (``SELECT ... FOR UPDATE``).

Nothing waits for the database without a bound: SQLite's busy timeout and
PostgreSQL's connect, statement and lock timeouts are
:data:`DB_TIMEOUT_S`; a pool checkout waits as long; TCP keepalives notice a
vanished PostgreSQL host. (A PostgreSQL that is stopped but whose kernel still
acknowledges packets is bounded by the request deadline instead:
:class:`cpap_lib.server.middleware.FailSafe`.) The bedside poll
(:meth:`Database.poll`) reads a SQLite file on the event loop with a busy
timeout of 0 (a WAL reader waits for no writer; a lock it meets sends it to
the thread pool), PostgreSQL always from the thread pool. :class:`DatabaseStatus` logs
one line when the database starts failing and one when it answers again,
however many requests fail in between.

Examples
--------
>>> from sqlalchemy import text
>>> db = Database("sqlite://")
>>> with db.read() as session:
...     session.execute(text("PRAGMA foreign_keys")).scalar_one()
1
>>> db.dialect
'sqlite'
>>> db.poll_row(12) is None
True
>>> db.status.available
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from starlette.concurrency import run_in_threadpool

from ..errors import ParameterError
from . import audit as _audit  # noqa: F401  (registers the audit trail's flush hook)
from .migrations import prepare_schema

__all__ = ["DB_TIMEOUT_S", "POLL_SQL", "Database", "DatabaseFileError", "DatabaseStatus", "make_engine"]

logger = logging.getLogger("cpap_lib.server.db")

POLL_SQL = (
    "SELECT r.number, c.id, c.cmh2o, c.commanded_at, r.current_admission_id FROM rooms r "
    "LEFT JOIN pressure_commands c ON c.id = r.latest_command_id WHERE r.number = {placeholder}"
)
"""The bedside poll: one primary-key lookup and one primary-key join."""

DB_TIMEOUT_S = 5.0
"""Longest wait for a connection, a lock or a statement before the request fails (503)."""
SQLITE_BUSY_TIMEOUT_MS = int(DB_TIMEOUT_S * 1000)
_PG_CONNECT_ARGS = {
    "connect_timeout": int(DB_TIMEOUT_S),
    "options": f"-c statement_timeout={SQLITE_BUSY_TIMEOUT_MS} -c lock_timeout={SQLITE_BUSY_TIMEOUT_MS} "
    "-c idle_in_transaction_session_timeout=60000",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": SQLITE_BUSY_TIMEOUT_MS,
}


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (SQLite or PostgreSQL), configured for the server.

    Raises
    ------
    ParameterError
        If the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ParameterError("database_url", f"cannot parse {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=StaticPool if in_memory else None,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ParameterError("database_url", "use the psycopg 3 driver: postgresql+psycopg://...")
        return create_engine(
            parsed,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_timeout=DB_TIMEOUT_S,
            connect_args=_PG_CONNECT_ARGS,
        )
    raise ParameterError("database_url", f"unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://")


MIN_FREE_BYTES = 16 * 2**20
"""Free disk space below which the SQLite database counts as full."""


class DatabaseFileError(SQLAlchemyError):
    """The database file is not usable; ``sentence`` says why (answered 503)."""

    def __init__(self, sentence: str):
        super().__init__(sentence)
        self.sentence = sentence


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


class DatabaseStatus:
    """Whether the database answered last time, logged once per change (not once per failed request).

    Examples
    --------
    >>> status = DatabaseStatus()
    >>> status.failed(TimeoutError()); status.failed(TimeoutError()); status.available
    False
    >>> status.answered(); status.available
    True
    """

    def __init__(self) -> None:
        self.available = True
        self._since = 0.0
        self._failures = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        """Record a failure; the first of an outage is logged (the error's class only: its text may quote data)."""
        with self._lock:
            self._failures += 1
            if not self.available:
                return
            self.available, self._since = False, time.monotonic()
        logger.error("event=db_unavailable error=%s", type(exc).__name__)

    def answered(self) -> None:
        """Record a success; the first after an outage is logged with its length and failed requests."""
        if self.available:
            return
        with self._lock:
            if self.available:
                return
            self.available = True
            seconds, failures, self._failures = time.monotonic() - self._since, self._failures, 0
        logger.warning("event=db_available outage_s=%.1f failed_requests=%d", seconds, failures)


class Database:
    """An engine, its session factory and the write discipline.

    Parameters
    ----------
    url : str
        SQLAlchemy URL; the schema is created or upgraded by
        :func:`~cpap_lib.server.migrations.prepare_schema` (Alembic).

    Raises
    ------
    SchemaError
        If the database is newer than this code or was not made by cpap_lib.
    """

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        self._poll_sql = POLL_SQL.format(placeholder="?" if self.dialect == "sqlite" else "%s")
        self.status = DatabaseStatus()
        self.revision = prepare_schema(self.engine)
        database = make_url(url).database if self.dialect == "sqlite" else None
        self.path = Path(database).resolve() if database not in (None, "", ":memory:") else None
        self._identity = _identity(self.path) if self.path else None
        self._loop_reader: sqlite3.Connection | None = None

    def problem(self) -> str | None:
        """What is wrong with the SQLite file this server opened, or None.

        The file must still be the one opened at start (not deleted or
        replaced: SQLite would go on writing into the deleted file and lose it
        all at restart), writable (permissions and mount) and on a disk with
        at least :data:`MIN_FREE_BYTES` free.
        """
        if self.path is None:
            return None
        try:
            identity = _identity(self.path)
        except FileNotFoundError:
            return f"the database file {self.path} was deleted under the running server; restore it and restart"
        except OSError as exc:
            return f"the database file {self.path} cannot be examined: {exc.strerror}"
        if identity != self._identity:
            return f"the database file {self.path} was replaced under the running server; restart it"
        mode = self.path.stat().st_mode
        if not (os.access(self.path, os.W_OK) and mode & 0o222) or not os.access(self.path.parent, os.W_OK):
            return f"the database file {self.path} (or its folder) is read-only"
        disk = os.statvfs(self.path.parent)
        if disk.f_flag & os.ST_RDONLY:
            return f"the database file {self.path} is on a read-only file system"
        if disk.f_bavail * disk.f_frsize < MIN_FREE_BYTES:
            return f"the disk holding {self.path} is full (less than {MIN_FREE_BYTES // 2**20} MB free)"
        return None

    def _check_file(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise DatabaseFileError(problem)

    @contextlib.contextmanager
    def _watched(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            self.status.answered()  # the database answered: a conflict, not an outage
            raise
        except SQLAlchemyError as exc:
            self.status.failed(exc)
            raise
        self.status.answered()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._watched(), self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction, committed on success, rolled back on error.

        Raises
        ------
        DatabaseFileError
            Before writing, if the SQLite file is gone, replaced, read-only or on a full disk.
        """
        with self._watched():
            self._check_file()
            with self._write_lock, self._sessions() as session, session.begin():
                yield session

    def poll_row(self, room: int) -> tuple | None:
        """``(room, command_id, cmh2o, commanded_at, current_admission_id)`` of a room, or None for no room.

        The hot path of the API (every bedside station polls it): one SQL
        statement on a pooled connection, no ORM. Blocking: call it from a
        thread (sync routes) or through :meth:`poll` in async code.
        ``command_id``, ``cmh2o`` and ``commanded_at`` are None before any
        command; ``commanded_at`` is as the driver returns it (see
        :func:`cpap_lib.server.models.as_utc`); ``current_admission_id`` is
        None while nobody was admitted (a preset room).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            If the database cannot be read.
        """
        with self._watched(), self.engine.connect() as connection:
            return connection.exec_driver_sql(self._poll_sql, (room,)).fetchone()

    async def poll(self, room: int) -> tuple | None:
        """:meth:`poll_row` for async routes, without making the event loop wait for the database.

        A SQLite file is read on the event loop (:meth:`_poll_on_loop`: a few
        microseconds, where a trip through the thread pool costs a hundred or
        more); whatever that read meets (a lock, an error) and every other
        database go through the thread pool, under the request deadline.
        """
        if self.path is not None:
            try:
                return self._poll_on_loop(room)
            except sqlite3.Error:  # a lock met, or worse: the reader is reopened next time
                self._close_loop_reader()
        return await run_in_threadpool(self.poll_row, room)

    def _poll_on_loop(self, room: int) -> tuple | None:
        """The poll row from a reader connection of the SQLite file that never waits.

        The reader is autocommit and read-only with a busy timeout of 0: in WAL
        mode a reader waits for no writer, and a lock it does meet (a
        checkpoint, another program's exclusive lock) raises SQLITE_BUSY at once
        instead of holding the loop; :meth:`poll` then asks the thread pool,
        whose answer (a row, or the error as :meth:`poll_row` reports it) is the
        request's.

        Raises
        ------
        sqlite3.Error
            Whatever the read meets.
        """
        if self._loop_reader is None:
            reader = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA query_only=ON")
            self._loop_reader = reader
        row = self._loop_reader.execute(self._poll_sql, (room,)).fetchone()
        self.status.answered()
        return row

    def _close_loop_reader(self) -> None:
        reader, self._loop_reader = self._loop_reader, None
        if reader is not None:
            reader.close()

    def dispose(self) -> None:
        """Close every pooled connection (and the poll's reader)."""
        self._close_loop_reader()
        self.engine.dispose()
