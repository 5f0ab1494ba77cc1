"""Fixtures of the server suite: every test runs against SQLite and against PostgreSQL.

``database_url`` is parametrized over both backends (module scope: a fresh
database per test module); ``server`` is a real uvicorn process on a free
127.0.0.1 port using it; ``client`` a :class:`CpapClient` talking to it.
"""

from __future__ import annotations

import pytest

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """A fresh, empty database (SQLite file or PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'cpap_lab.db'}"
    return request.getfixturevalue("postgres_cluster").new_database()


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    """A running server (no tokens) on ``database_url``."""
    with start_server(database_url, log_path=tmp_path_factory.mktemp("server") / "server.log") as running:
        yield running


@pytest.fixture
def client(server):
    with CpapClient(server.url, timeout=10.0) as api:
        yield api
