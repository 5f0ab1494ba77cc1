"""Schema migrations (Alembic) on SQLite and PostgreSQL.

- the revisions form one linear chain with one head, ids ``000N_slug``;
- the models and the migrations agree (autogenerate finds no difference), so a
  table or column added to :mod:`cpap_lib.server.models` without a revision fails here;
- a database filled with rows at every earlier revision upgrades to head with every row kept;
- a database made by ``create_all`` before migrations existed is checked, stamped and kept;
- a database newer than the code, or not made by cpap_lib, is refused with a sentence.

The rows are made from the reflected schema of the revision being tested (every
column filled, foreign keys pointing at real rows), so the data test needs no
change when a revision is added.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from cpap_lib.client import CpapClient
from cpap_lib.errors import SchemaError, ServerUnavailableError
from cpap_lib.server.db import make_engine
from cpap_lib.server.migrations import (
    VERSION_TABLE,
    _baseline_metadata,
    alembic_config,
    current_revision,
    head_revision,
    prepare_schema,
    revision_chain,
    schema_differences,
    upgrade,
)
from cpap_lib.server.models import Base
from cpap_lib.server.process import start_server

ROWS = 5
"""Rows made per table."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path) -> str:
    """A fresh, empty database per test (SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lab.db'}"
    return request.getfixturevalue("postgres_cluster").new_database()


@pytest.fixture
def engine(empty_url):
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def _upgrade_to(engine: sa.Engine, revision: str) -> None:
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def _value(column: sa.Column, row: int):
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(minutes=row)
    if isinstance(kind, sa.Integer):
        return row + 1
    if isinstance(kind, sa.Float):
        return row + 0.25
    if isinstance(kind, sa.LargeBinary):
        return bytes([row, 0, 255, 7])
    if isinstance(kind, sa.String):
        text = f"{column.name[:6]}-{row}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(
        f"no test value for {column.table.name}.{column.name} of type {kind!r}; "
        "add one to tests/server/test_migrations.py::_value"
    )


def _insert_order(tables: list[sa.Table]) -> list[sa.Table]:
    """Tables ordered so that every NOT NULL foreign key points at a table before it (nullable ones may wait)."""
    ordered: list[sa.Table] = []
    waiting = sorted(tables, key=lambda t: t.name)
    while waiting:
        done = {t.name for t in ordered}
        ready = next(
            t
            for t in waiting
            if all(
                fk.column.table.name in done or fk.column.table is t
                for column in t.columns
                if not column.nullable
                for fk in column.foreign_keys
            )
        )
        ordered.append(ready)
        waiting.remove(ready)
    return ordered


def fill(engine: sa.Engine) -> dict[str, list[dict]]:
    """Insert ROWS rows into every table (every column set, foreign keys to real rows); return them."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    tables = _insert_order([t for t in metadata.tables.values() if t.name != VERSION_TABLE])
    inserted: dict[str, list[dict]] = {}
    deferred: list[tuple[sa.Table, str, str]] = []
    with engine.begin() as connection:
        for table in tables:
            rows = []
            for i in range(ROWS):
                row = {}
                for column in table.columns:
                    if column.foreign_keys:
                        target = next(iter(column.foreign_keys)).column
                        if target.table.name in inserted:
                            row[column.name] = inserted[target.table.name][i][target.name]
                        else:  # a cycle (use_alter): set once the target table has rows
                            row[column.name] = None
                            deferred.append((table, column.name, target.table.name))
                    else:
                        row[column.name] = _value(column, i)
                rows.append(row)
            connection.execute(table.insert(), rows)
            inserted[table.name] = rows
        for table, name, target in {(t, n, g) for t, n, g in deferred}:
            key = list(table.primary_key.columns)[0]
            for i, row in enumerate(inserted[table.name]):
                row[name] = inserted[target][i]["id"]
                connection.execute(table.update().where(key == row[key.name]).values({name: row[name]}))
        if engine.dialect.name == "postgresql":  # explicit ids were given: move the sequences past them
            for table in tables:
                for column in table.primary_key.columns:
                    sequence = connection.execute(
                        sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
                    ).scalar_one()
                    if sequence:
                        connection.execute(sa.text(f"SELECT setval('{sequence}', {ROWS})"))
    return inserted


def assert_kept(engine: sa.Engine, before: dict[str, list[dict]]) -> None:
    """Every row inserted by :func:`fill` is still there with the same values (in the columns still there)."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for name, rows in before.items():
            assert name in metadata.tables, f"table {name} was dropped by an upgrade"
            table = metadata.tables[name]
            stored = [dict(r) for r in connection.execute(sa.select(table)).mappings()]
            assert len(stored) >= len(rows), name
            key = list(table.primary_key.columns)[0].name
            by_key = {r[key]: r for r in stored}
            for row in rows:
                got = by_key[row[key]]
                for column, value in row.items():
                    if column in got:
                        expected = value
                        if isinstance(value, datetime) and isinstance(got[column], datetime):
                            got_value = got[column].replace(tzinfo=got[column].tzinfo or UTC)
                            assert got_value == expected, (name, column)
                        else:
                            assert got[column] == expected, (name, column)


def test_one_linear_chain_with_one_head_and_numbered_ids():
    chain = revision_chain()
    assert chain[0] == "0001_baseline"
    assert head_revision() == chain[-1]
    scripts = command.ScriptDirectory.from_config(alembic_config())
    for number, revision in enumerate(chain, start=1):
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+", revision), revision
        assert int(revision[:4]) == number, f"{revision}: expected number {number:04d}"
        script = scripts.get_revision(revision)
        assert script.down_revision == (chain[number - 2] if number > 1 else None), revision


def test_models_and_migrations_agree(engine):
    """Autogenerate finds nothing to do: every model change has its revision."""
    assert prepare_schema(engine) == head_revision()
    with engine.connect() as connection:
        differences = schema_differences(connection, Base.metadata)
    assert differences == [], (
        "cpap_lib/server/models.py and the migrations differ: write a revision "
        f"(docs/architecture.md, 'Schema migrations'): {differences}"
    )


@pytest.mark.parametrize("start", revision_chain())
def test_upgrade_from_every_revision_keeps_every_row(empty_url, start):
    engine = make_engine(empty_url)
    try:
        _upgrade_to(engine, start)
        before = fill(engine)
        assert prepare_schema(engine) == head_revision()
        assert current_revision(engine) == head_revision()
        assert_kept(engine, before)
    finally:
        engine.dispose()


def test_database_made_by_create_all_is_stamped_kept_and_served(empty_url, tmp_path):
    engine = make_engine(empty_url)
    try:
        _baseline_metadata().create_all(engine)  # what the server did before migrations
        before = fill(engine)
        log = tmp_path / "server.log"
        with start_server(empty_url, log_level="info", log_path=log) as server:
            with CpapClient(server.url, timeout=10.0) as api:
                api.admit(17, "MRN0017")
                api.command_pressure(17, 9)
                assert api.poll_pressure(17).cmh2o == 9
                assert {room.room for room in api.ward().rooms} >= {17, *(r["number"] for r in before["rooms"])}
        assert "matches the baseline and is now recorded as revision 0001_baseline" in log.read_text()
        assert current_revision(engine) == head_revision()
        assert_kept(engine, before)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_database_newer_than_the_code_is_refused_with_a_sentence(engine, empty_url, tmp_path):
    prepare_schema(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0999_from_the_future'"))
    with pytest.raises(ServerUnavailableError, match="0999_from_the_future, which this cpap_lib does not know"):
        start_server(empty_url, log_path=tmp_path / "server.log")
    done = subprocess.run(
        [sys.executable, "-m", "cpap_lib.cli", "db", "upgrade", "--database", empty_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cpap-lab db: error: the database is at schema revision 0999_from_the_future" in done.stderr
    assert "Traceback" not in done.stderr
    assert current_revision(engine) == "0999_from_the_future"


def test_tables_not_made_by_cpap_lib_are_refused_and_left_alone(engine):
    metadata = _baseline_metadata()
    sa.Table("visits", metadata, sa.Column("id", sa.Integer, primary_key=True))
    metadata.tables["rooms"].append_column(sa.Column("ward", sa.String(8)))
    metadata.create_all(engine)
    with pytest.raises(SchemaError, match=r"do not match the baseline schema \(.*(visits|rooms\.ward)"):
        upgrade(engine)
    assert current_revision(engine) is None
    assert VERSION_TABLE not in sa.inspect(engine).get_table_names()


@pytest.mark.slow
def test_db_command_upgrades_and_reports(empty_url):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "cpap_lib.cli", "db", *args, "--database", empty_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    assert "revision none" in cli("current")
    assert f"at revision {head_revision()} (was none)" in cli("upgrade")
    assert f"is at revision {head_revision()}; the newest" in cli("current")


def test_server_upgrades_an_older_database_on_start_and_says_so(empty_url, tmp_path):
    chain = revision_chain()
    assert len(chain) > 1, "needs a revision after the baseline"
    engine = make_engine(empty_url)
    try:
        _upgrade_to(engine, chain[0])
        before = fill(engine)
        log = tmp_path / "server.log"
        with start_server(empty_url, log_path=log) as server, CpapClient(server.url, timeout=10.0) as api:
            assert api.health()
        text = log.read_text()
        assert f"upgrading the database schema from revision {chain[0]} to {head_revision()}" in text, text[-2000:]
        assert current_revision(engine) == head_revision()
        assert_kept(engine, before)
    finally:
        engine.dispose()
