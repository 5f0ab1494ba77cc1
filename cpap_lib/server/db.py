"""Database engine and sessions (SQLAlchemy 2).

SQLite (the default) is opened with WAL journaling, foreign keys on and a
busy timeout; its writes are serialized inside the server process by
:class:`Database.write` (SQLite allows one writer at a time, and a
lock avoids ``database is locked`` failures under concurrent uploads).
PostgreSQL (``postgresql+psycopg://...``) needs no process lock: the write
paths lock the room's row (``SELECT ... FOR UPDATE``).

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
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..errors import ParameterError
from .migrations import prepare_schema

__all__ = ["POLL_SQL", "Database", "make_engine"]

POLL_SQL = (
    "SELECT r.number, c.id, c.cmh2o, c.commanded_at, r.current_admission_id FROM rooms r "
    "LEFT JOIN pressure_commands c ON c.id = r.latest_command_id WHERE r.number = {placeholder}"
)
"""The bedside poll: one primary-key lookup and one primary-key join."""

SQLITE_BUSY_TIMEOUT_MS = 30_000


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
        return create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ParameterError("database_url", f"unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://")


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
        self._poll_connection = None
        self.revision = prepare_schema(self.engine)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (rolled back at the end)."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction, committed on success, rolled back on error."""
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    def poll_row(self, room: int) -> tuple | None:
        """``(room, command_id, cmh2o, commanded_at, current_admission_id)`` of a room, or None for no room.

        The hot path of the API (every bedside station polls it): one driver
        connection in autocommit mode, kept for the calling thread (the event
        loop), skips the ORM and the thread pool. ``command_id``, ``cmh2o`` and
        ``commanded_at`` are None before any command; ``commanded_at`` is as the
        driver returns it (see :func:`cpap_lib.server.models.as_utc`);
        ``current_admission_id`` is None while nobody was admitted (a preset room).

        Raises
        ------
        sqlalchemy.exc.OperationalError
            If the database cannot be read (the connection is dropped and reopened next time).
        """
        if self._poll_connection is None:
            proxy = self.engine.raw_connection()
            if self.dialect == "postgresql":
                proxy.driver_connection.autocommit = True
            self._poll_connection = proxy
        try:
            return self._poll_connection.driver_connection.execute(self._poll_sql, (room,)).fetchone()
        except self.engine.dialect.loaded_dbapi.Error as exc:
            self._drop_poll_connection()
            raise OperationalError(self._poll_sql, (room,), exc) from exc

    def _drop_poll_connection(self) -> None:
        proxy, self._poll_connection = self._poll_connection, None
        if proxy is not None:
            proxy.invalidate()  # never hand an autocommit connection back to the pool

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._drop_poll_connection()
        self.engine.dispose()
