"""Run the server: in the foreground (:func:`serve`) or as a child process (:func:`start_server`).

:func:`start_server` binds the listening socket itself (port 0 picks a free
one, with no race) and hands it to a child ``python -m cpap_lib.server.process``
that runs uvicorn; it returns once ``/health`` answers. Tests, benchmarks and
``cpap-lab demo`` use it::

    with start_server("sqlite:////tmp/lab.db") as server:
        CpapClient(server.url).ward()

Examples
--------
>>> configure_logging("warning")  # key=value lines on stderr
>>> free_port() > 0
True
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Self

import requests
from sqlalchemy.engine import make_url

from ..errors import CpapError, ParameterError, ServerUnavailableError
from .settings import Settings, check_bind_host, plain_http_warning, served_names

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ServerProcess", "bind_socket", "check_workers", "configure_logging", "free_port", "serve", "start_server"]

LOG_FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"


def configure_logging(level: str = "info") -> None:
    """Log ``key=value`` lines to stderr at ``level`` (access log included at info).

    Records skip what :data:`LOG_FORMAT` never shows (the caller's frame, thread
    and process names: the logging HOWTO's "Optimization"), which halves the cost
    of the access log line written for every request.
    """
    logging._srcfile = None  # no frame walk for pathname / lineno / funcName
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr, force=True)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerUnavailableError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (prefer :func:`start_server`'s own binding)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_workers(workers: int, database_url: str) -> None:
    """Refuse a worker count the database cannot take: SQLite serves from one process only.

    >>> check_workers(2, "sqlite:///lab.db")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: workers: SQLite takes one writer at a time and the server keeps its writes in order inside one process, so it runs one worker on SQLite; for --workers 2 use PostgreSQL (--database postgresql+psycopg://user@host/db)
    >>> check_workers(4, "postgresql+psycopg://lab@db.example/lab")
    """
    if workers < 1:
        raise ParameterError("workers", f"must be at least 1, got {workers}")
    if workers > 1 and make_url(database_url).get_backend_name() == "sqlite":
        raise ParameterError(
            "workers",
            "SQLite takes one writer at a time and the server keeps its writes in order inside one "
            f"process, so it runs one worker on SQLite; for --workers {workers} use PostgreSQL "
            "(--database postgresql+psycopg://user@host/db)",
        )


def _worker_app(settings: Settings, log_level: str):
    """The app of one worker process (``--workers N``): logging set up as in the parent."""
    from .app import create_app

    configure_logging(log_level)
    return create_app(settings)


def _uvicorn_config(app, *, host: str, port: int, log_level: str, **extra) -> uvicorn.Config:
    """The one uvicorn configuration of the server (one process, or ``workers=N`` with ``factory=True``).

    Our access log and logging setup (:func:`configure_logging`) instead of
    uvicorn's, 5 s to finish requests on shutdown, proxy headers off (the
    client address is the TCP peer, never a forwarded header:
    ``CPAP_LEGACY_NETWORKS`` decides on it, :func:`~.settings.legacy_network_admits`),
    and the connection limits of :func:`~.connections.uvicorn_options`.
    """
    import uvicorn

    from .connections import uvicorn_options

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        **uvicorn_options(),
        **extra,
    )


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    sock: socket.socket | None = None,
    log_level: str = "info",
    workers: int = 1,
) -> None:
    """Run the server until interrupted (SIGINT / SIGTERM).

    With ``workers`` > 1 (PostgreSQL only, :func:`check_workers`) this process
    prepares the schema, then supervises that many uvicorn worker processes
    sharing one listening socket; each has its own connection pool.
    """
    import uvicorn

    from .app import create_app
    from .middleware import log_value

    check_bind_host(host, settings)
    check_workers(workers, settings.database_url)
    configure_logging(log_level)
    warning = plain_http_warning(host, settings)
    if warning:
        logging.getLogger("cpap_lib.server").warning("event=plain_http %s", log_value(warning))
    settings = dataclasses.replace(settings, allowed_hosts=settings.allowed_hosts | served_names(host))
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        from .db import make_engine
        from .migrations import prepare_schema

        engine = make_engine(settings.database_url)
        try:
            prepare_schema(engine)  # once, before the workers start (they find it at head)
        finally:
            engine.dispose()
        config = _uvicorn_config(
            functools.partial(_worker_app, settings, log_level),
            host=host,
            port=port,
            log_level=log_level,
            factory=True,
            workers=workers,
        )
        listening = sock if sock is not None else config.bind_socket()
        Multiprocess(config, sockets=[listening]).run()
        return
    app = create_app(settings)
    server = uvicorn.Server(_uvicorn_config(app, host=host, port=port, log_level=log_level))
    try:
        server.run(sockets=[sock] if sock is not None else None)
    finally:
        app.state.db.dispose()


class ServerProcess:
    """A running child server. Use as a context manager or call :meth:`stop`.

    Attributes
    ----------
    url : str
        Base URL, e.g. ``http://127.0.0.1:43125``.
    host, port : str, int
    database_url : str
    log_path : Path
        The child's stderr (structured log lines).
    temporary_log : bool
        Whether ``log_path`` is a temporary file of :func:`start_server`'s own:
        deleted when the server stops cleanly (exit status 0, or ended by our
        SIGTERM/SIGINT), kept when it failed (exited with an error, had to be
        killed, startup failed, or the ``with`` block raised), its path then
        logged as a warning.
    """

    def __init__(
        self,
        process: subprocess.Popen,
        host: str,
        port: int,
        database_url: str,
        log_path: Path,
        temporary_log: bool = False,
    ):
        self.process = process
        self.host = host
        self.port = port
        self.database_url = database_url
        self.log_path = log_path
        self.temporary_log = temporary_log
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the child's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0, *, keep_log: bool = False) -> int | None:
        """Stop the child (SIGTERM, then SIGKILL after ``timeout`` s); return its exit code.

        A temporary log is deleted on a clean stop and kept (path logged) otherwise,
        or always with ``keep_log=True``.
        """
        killed = False
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
                killed = True
        clean = not killed and self.process.returncode in _CLEAN_EXITS
        self._tidy_log(keep=keep_log or not clean)
        return self.process.returncode

    def _tidy_log(self, keep: bool) -> None:
        if not self.temporary_log:
            return
        self.temporary_log = False  # decided once, at the first stop
        if keep:
            logging.getLogger(__name__).warning(
                "event=server_log_kept path=%s exit_status=%s", self.log_path, self.process.returncode
            )
        else:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        self.stop(keep_log=exc_type is not None)

    def __repr__(self) -> str:
        return f"ServerProcess(url={self.url!r}, pid={self.process.pid}, running={self.running})"


_CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)
"""Exit statuses of a server that stopped cleanly (uvicorn re-raises the signal it shut down on)."""


def start_server(
    database_url: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    device_tokens: str | list[str] | None = None,
    staff_tokens: str | list[str] | None = None,
    token_file: str | os.PathLike | None = None,
    max_body_bytes: int | None = None,
    log_level: str = "warning",
    workers: int = 1,
    log_path: str | os.PathLike | None = None,
    startup_timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    settings_env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start the server in a child process and wait until ``/health`` answers.

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL (``sqlite:////abs/path.db`` or ``postgresql+psycopg://...``).
    host, port : str, int
        Where to listen; port 0 (default) picks a free port.
    device_tokens, staff_tokens : str or list of str, optional
        Bearer tokens per role (comma-separated string or list).
    token_file : path, optional
        File of ``<role> <token>`` lines.
    max_body_bytes : int, optional
        Body size limit (default: the server's).
    log_level : str
        ``"info"`` logs every request.
    workers : int
        Worker processes (more than 1 only on PostgreSQL).
    log_path : path, optional
        Where the child's log goes (default: a temporary ``cpap-server-*.log``, deleted
        when the server stops cleanly, see :class:`ServerProcess`).
    startup_timeout : float
        Seconds to wait for ``/health``.
    env : mapping, optional
        Base environment (default ``os.environ``); ``CPAP_*`` settings are set from the arguments.
    settings_env : mapping, optional
        Further ``CPAP_*`` settings for the server (e.g. ``CPAP_ALARM_NO_DATA_MIN``), set last.

    Raises
    ------
    ServerUnavailableError
        If the port is taken, the child exits, or ``/health`` does not answer in time
        (the message quotes the end of the child's log).
    ParameterError
        For a non-loopback host without tokens.
    """
    child_env = {
        k: v
        for k, v in (os.environ if env is None else env).items()
        if not k.startswith("CPAP_") or k in ("CPAP_LOG_LEVEL",)
    }
    child_env["CPAP_DATABASE_URL"] = database_url
    for name, tokens in (("CPAP_DEVICE_TOKEN", device_tokens), ("CPAP_STAFF_TOKEN", staff_tokens)):
        if tokens:
            child_env[name] = tokens if isinstance(tokens, str) else ",".join(tokens)
    if token_file is not None:
        child_env["CPAP_TOKEN_FILE"] = str(token_file)
    if max_body_bytes is not None:
        child_env["CPAP_MAX_BODY_BYTES"] = str(max_body_bytes)
    child_env.update(settings_env or {})
    check_bind_host(host, Settings.from_env(child_env))
    check_workers(workers, database_url)

    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    temporary_log = log_path is None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="cpap-server-", suffix=".log")
        os.close(handle)
        log_path = name
    log_path = Path(log_path)
    try:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cpap_lib.server.process",
                    "--fd",
                    str(sock.fileno()),
                    "--host",
                    host,
                    "--port",
                    str(actual_port),
                    "--log-level",
                    log_level,
                    "--workers",
                    str(workers),
                ],
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(sock.fileno(),),
            )
    finally:
        sock.close()
    server = ServerProcess(process, host, actual_port, database_url, log_path, temporary_log)
    try:
        _wait_healthy(server, startup_timeout)
    except BaseException:
        server.stop(keep_log=True)
        raise
    return server


def _wait_healthy(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while True:
            if not server.running:
                raise ServerUnavailableError(
                    f"server exited with status {server.process.returncode} during startup:\n{server.log_tail()}"
                    f"\n(log: {server.log_path})",
                    url=server.url,
                )
            try:
                if session.get(server.url + "/health", timeout=1.0).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ServerUnavailableError(
                    f"server did not answer /health within {timeout:.0f} s:\n{server.log_tail()}\n(log: {server.log_path})",
                    url=server.url,
                )
            time.sleep(0.05)


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cpap_lib.server.process")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    try:
        serve(
            Settings.from_env(),
            host=args.host,
            port=args.port,
            sock=sock,
            log_level=args.log_level,
            workers=args.workers,
        )
    except CpapError as exc:  # a sentence in the log, not a traceback (e.g. a database newer than the code)
        logging.getLogger("cpap_lib.server").error('event=startup_refused message="%s"', exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
