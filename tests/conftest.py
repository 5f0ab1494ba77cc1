"""Project-wide fixtures: a live API server and a throwaway PostgreSQL cluster.

- ``live_server`` (session): the sleep-lab server as a real uvicorn process on
  127.0.0.1 (free port) with a temporary SQLite database; yields the base URL.
  Servers of session and module fixtures log into pytest's temporary folders
  (kept for the last three runs, to read after a failure); a server started
  without ``log_path`` logs to a temporary file deleted when it stops cleanly.
- ``postgres_cluster`` (session): a PostgreSQL cluster started with the
  Debian binaries (``apt-get install postgresql``) on a free port; call
  ``postgres_cluster.new_database()`` for a fresh, empty database URL.
- ``browser`` (session): Debian's Chromium through Playwright, one for the
  whole session (Playwright's sync API cannot be started twice at once, so
  every test that needs a browser takes this one).
"""

from __future__ import annotations

import pytest

from cpap_lib.server.process import start_server
from support import CHROMIUM, CHROMIUM_ARGS, PostgresUnavailable, running_postgres


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Base URL of a running server (temporary SQLite database, no tokens)."""
    folder = tmp_path_factory.mktemp("live_server")
    with start_server(f"sqlite:///{folder / 'cpap_lab.db'}", log_path=folder / "server.log") as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_cluster():
    """A running PostgreSQL cluster for the session; stopped and removed at the end."""
    try:
        with running_postgres() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
            "(the browser tests never download a browser)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
