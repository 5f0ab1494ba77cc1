"""Small helpers shared by the test modules (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from cpap_lib.paths import REPO_ROOT
from cpap_lib.server.process import free_port

T = TypeVar("T")

REFERENCE_DATA = REPO_ROOT.parent / "shared" / "reference_data"
CHROMIUM = Path(os.environ.get("CPAP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
"""The real recordings (``../shared/reference_data`` beside the repository; read there, never copied)."""


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something true, or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be started here (binaries missing, initdb or start failed)."""


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
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.datadir / "server.log"),
            "start",
        )

    def new_database(self) -> str:
        """Create an empty database; return its SQLAlchemy URL."""
        import psycopg

        name = f"cpap_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster (Debian's binaries, a free port, a temporary folder), removed at the end.

    Used by the ``postgres_cluster`` fixture and by ``benchmarks/bench_server.py``.
    """
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run `apt-get install postgresql`"
        )
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
            raise PostgresUnavailable(
                f"could not start PostgreSQL: {exc.stderr or exc.stdout}\n{log[-2000:]}"
            ) from None
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.new_database()
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"PostgreSQL did not accept connections: {exc}") from None
                time.sleep(0.2)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_demo(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float = 90
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start ``cpap-lab demo`` (``command``) and wait until it prints its URLs; yield ``(process, output)``.

    The process is killed at the end if the test has not stopped it.
    """
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any("REST API" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            time.sleep(0.2)
        yield process, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
