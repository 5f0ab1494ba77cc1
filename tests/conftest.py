"""Project-wide fixtures: a live API server and a throwaway PostgreSQL cluster.

- ``live_server`` (session): the sleep-lab server as a real uvicorn process on
  127.0.0.1 (free port) with a temporary SQLite database; yields the base URL.
- ``postgres_cluster`` (session): a PostgreSQL cluster started with the
  Debian binaries (``apt-get install postgresql``) on a free port; call
  ``postgres_cluster.new_database()`` for a fresh, empty database URL.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from cpap_lib.server.process import free_port, start_server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Base URL of a running server (temporary SQLite database, no tokens)."""
    db_path = tmp_path_factory.mktemp("live_server") / "cpap_lab.db"
    with start_server(f"sqlite:///{db_path}") as server:
        yield server.url



class PostgresCluster:
    """A throwaway PostgreSQL cluster (trust auth, user ``postgres``) on 127.0.0.1."""

    def __init__(self, bindir: Path, datadir: Path, port: int):
        self.bindir, self.datadir, self.port = bindir, datadir, port
        self.base_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-w", "-t", "60",
                  "-l", str(self.datadir / "server.log"), "start")

    def new_database(self) -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        import psycopg

        name = f"cpap_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A running PostgreSQL cluster for the session; stopped and removed at the end."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                    "run `apt-get install postgresql`")
    bindir = Path(candidates[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="cpap-pg-"))
    datadir = root / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(datadir, "postgres")
    cluster = PostgresCluster(bindir, datadir, free_port())
    try:
        try:
            cluster.start()
        except subprocess.CalledProcessError as exc:
            log = (datadir / "server.log").read_text(errors="replace") if (datadir / "server.log").exists() else ""
            pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}\n{log[-2000:]}")
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.new_database()
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not accept connections: {exc}")
                time.sleep(0.2)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
