"""Schema migrations (Alembic), shipped inside the package.

The scripts (``env.py``, ``script.py.mako``, ``versions/000N_slug.py``) are
found through :mod:`importlib.resources`; Alembic is configured in code, so
no ``alembic.ini`` is needed at run time. One linear chain of revisions;
``0001_baseline`` is the schema the server made with ``create_all`` before
migrations existed.

What the server does on start (:func:`prepare_schema`):

==============================================  ==========================================
the database                                    the server
==============================================  ==========================================
no tables                                       creates the schema (upgrade to head)
at an older revision                            upgrades it to head, logging one sentence
                                                per step (back up first: see README)
tables but no ``alembic_version``               compares them with the baseline; stamps
(made by ``create_all`` before migrations)      ``0001_baseline`` and upgrades, or refuses
                                                naming the differences
at a revision this code does not know           refuses (:class:`~cpap_lib.errors.SchemaError`)
(made by a newer cpap_lib)
==============================================  ==========================================

On PostgreSQL the check runs under an advisory lock, so several workers (or
several servers on one database) starting together migrate once.

Examples
--------
>>> from sqlalchemy import create_engine
>>> engine = create_engine("sqlite://")
>>> current_revision(engine) is None
True
>>> prepare_schema(engine) == current_revision(engine) == head_revision()
True
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine

from ...errors import SchemaError

__all__ = [
    "alembic_config",
    "current_revision",
    "head_revision",
    "prepare_schema",
    "revision_chain",
    "run_migrations_online",
    "schema_differences",
    "upgrade",
]

logger = logging.getLogger("cpap_lib.server.migrations")

VERSION_TABLE = "alembic_version"
PG_LOCK_KEY = 0x43504150  # "CPAP": the advisory lock taken around schema changes on PostgreSQL
UPGRADE_HINT = "run `cpap-lab db upgrade --database URL` with the newest cpap_lib, or restore a backup"


def script_location() -> Path:
    """The folder holding ``env.py`` and ``versions/`` (inside the installed package)."""
    return Path(str(importlib.resources.files(__name__)))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's scripts; ``connection`` is handed to ``env.py``."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this code knows (raises if the chain has more than one head)."""
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); "
            "give each new revision the previous head as down_revision"
        )
    return heads[0]


def revision_chain() -> list[str]:
    """Every revision id, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def run_migrations_online(context) -> None:
    """The body of ``env.py``: run the migrations on the connection given in the config."""
    from ..models import Base

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise SchemaError("migrations run only through cpap_lib.server.migrations (no connection given)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite's ALTER TABLE is limited
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _current(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise SchemaError(f"the database records several revisions ({', '.join(heads)}); {UPGRADE_HINT}")
    return heads[0] if heads else None


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None: never migrated: empty, or made by ``create_all``)."""
    with engine.connect() as connection:
        return _current(connection)


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection holding the schema lock (PostgreSQL advisory lock; SQLite: the server is one process)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            connection.commit()
        try:
            yield connection
        finally:
            if connection.dialect.name == "postgresql":
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                connection.commit()


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)
    connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to ``revision`` (stamping a ``create_all`` database first); return its revision.

    Raises
    ------
    SchemaError
        If the database is newer than this code or does not match the baseline.
    """
    with _locked(engine) as connection:
        _prepare(connection, revision)
        return _current(connection)


def prepare_schema(engine: Engine) -> str:
    """What the server does on start (see the module docstring); return the revision, head."""
    return upgrade(engine, "head") or head_revision()


def schema_differences(connection: Connection, metadata: MetaData) -> list:
    """Alembic's autogenerate diff between the database and ``metadata`` (empty: they agree)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [diff for diff in compare_metadata(context, metadata) if not _is_version_table(diff)]


def _is_version_table(diff) -> bool:
    return isinstance(diff, tuple) and len(diff) > 1 and getattr(diff[1], "name", None) == VERSION_TABLE


def _baseline_metadata() -> MetaData:
    module = _scripts().get_revision("0001_baseline").module
    return module.baseline_metadata()


def _prepare(connection: Connection, target: str) -> None:
    scripts = _scripts()
    head = head_revision()
    current = _current(connection)
    if current is not None:
        try:
            scripts.get_revision(current)
        except CommandError:
            raise SchemaError(
                f"the database is at schema revision {current}, which this cpap_lib does not know "
                f"(its newest is {head}): it was upgraded by a newer cpap_lib; run that version, "
                "or restore a backup taken before the upgrade"
            ) from None
    else:
        tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
        if tables:
            differences = schema_differences(connection, _baseline_metadata())
            if differences:
                listed = "; ".join(_describe(d) for d in differences[:5])
                raise SchemaError(
                    f"the database has tables ({', '.join(sorted(tables))}) but no migration record, and "
                    f"they do not match the baseline schema ({listed}); it was not made by cpap_lib, "
                    "so it is left untouched"
                )
            command.stamp(alembic_config(connection), "0001_baseline")
            connection.commit()
            logger.warning(
                'event=schema_stamped revision=0001_baseline message="the database was made '
                "before migrations existed; it matches the baseline and is now recorded as "
                'revision 0001_baseline"'
            )
            current = "0001_baseline"
    if current == target or (target == "head" and current == head):
        return
    if current is not None and target == "head":
        logger.warning(
            'event=schema_upgrade from=%s to=%s message="upgrading the database schema from revision %s to %s"',
            current,
            head,
            current,
            head,
        )
    elif current is None:
        logger.info('event=schema_create revision=%s message="creating the database schema"', head)
    _upgrade(connection, target)


def _describe(diff) -> str:
    """``("add_column", None, "rooms", Column(...))`` as ``"add_column rooms.alarm"``."""
    if isinstance(diff, list):  # column modifications come grouped
        diff = diff[0]
    kind, *rest = diff
    names = [item if isinstance(item, str) else getattr(item, "name", None) for item in rest]
    return f"{kind} {'.'.join(n for n in names if n)}".strip()
