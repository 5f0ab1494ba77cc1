"""Fixtures of the old-client suite: the original Flask server and ours, side by side.

``servers`` starts, per test module and backend, a fresh original server
(``../shared/reference_system/server.py`` with flask, in a scratch folder) and
a fresh server of ours (SQLite, and PostgreSQL), both on 127.0.0.1 free ports.
The old server runs in the time zone :data:`LAB_TZ` (it stamps uploads with
its machine's clock); ours on a UTC machine told the lab's zone by
``CPAP_LAB_TZ``, so a UTC slip would show. ``Pair.ask`` sends one request to both.
``old_clients`` (session): the old clients' payload builders (``old_system.OldClientRequests``).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import pytest
import requests
from old_system import LAB_TZ, OldClientRequests, start_reference_server

from cpap_lib.server.process import start_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Pair:
    """The original server (``old``) and ours (``ours``), by base URL."""

    old: str
    ours: str

    def ask(self, method: str, path: str, **kwargs) -> tuple[requests.Response, requests.Response]:
        """Send the same request to both; return ``(old answer, our answer)``."""
        kwargs.setdefault("timeout", 30)
        return (
            requests.request(method, self.old + path, **kwargs),
            requests.request(method, self.ours + path, **kwargs),
        )


@contextlib.contextmanager
def _pair(tmp_path_factory, database_url: str | None = None):
    folder = tmp_path_factory.mktemp("ours")
    url = database_url or f"sqlite:///{folder / 'cpap_lab.db'}"
    with (
        start_reference_server(tmp_path_factory.mktemp("reference"), env={"TZ": LAB_TZ}) as old,
        start_server(
            url,
            env={**os.environ, "TZ": "UTC"},
            settings_env={"CPAP_LAB_TZ": LAB_TZ},
            log_path=folder / "server.log",
        ) as ours,
    ):
        yield Pair(old.url, ours.url)


@pytest.fixture(scope="module", params=BACKENDS)
def servers(request, tmp_path_factory):
    """The old server and ours, ours on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("postgres_cluster").new_database() if request.param == "postgres" else None
    with _pair(tmp_path_factory, url) as pair:
        yield pair


@pytest.fixture(scope="session")
def old_clients() -> OldClientRequests:
    """The old clients' own payload builders (loading them imports Streamlit: seconds), once per session."""
    return OldClientRequests()


@pytest.fixture(scope="module")
def sqlite_servers(tmp_path_factory):
    """The old server and ours on SQLite (for the whole-client tests: the backend is tested above)."""
    with _pair(tmp_path_factory) as pair:
        yield pair
