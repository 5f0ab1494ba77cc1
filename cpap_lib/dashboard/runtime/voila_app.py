"""Serve the dashboards with Voilà: one place for the command and its settings.

The settings live in ``voila.json`` beside this module (package data; bind to
127.0.0.1, cull the kernel of a closed tab within about 30 s, an explicit
websocket message limit for uploads, no tracebacks in pages, the host names
served: ``tornado_settings.local_hostnames``). Voilà runs through
:mod:`.guarded_voila` (Host check, security headers and v1-only kernel
websockets on every handler). This module
reads that file, builds the ``voila`` command line around it and starts and
stops the server; ``cpap-lab demo``, the tests and the benchmarks all go
through :class:`VoilaServer`.

Examples
--------
>>> from cpap_lib.dashboard.runtime.voila_app import voila_command, max_upload_bytes
>>> cmd = voila_command(port=8866)
>>> "--port=8866" in cmd and "--no-browser" in cmd
True
>>> max_upload_bytes() // 2**20  # MiB a bedside upload may have
32
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

from ...errors import ParameterError, ServerUnavailableError
from ...paths import NOTEBOOK_DIR, VOILA_CONFIG_DIR

__all__ = [
    "NOTEBOOK_DIR",
    "VOILA_CONFIG",
    "voila_settings",
    "max_upload_bytes",
    "voila_command",
    "VoilaServer",
]

log = logging.getLogger(__name__)

VOILA_CONFIG = VOILA_CONFIG_DIR / "voila.json"
"""Voilà's settings; Voilà itself reads it from the directory given to it."""
TEMPLATE_DIR = Path(__file__).resolve().parent / "share"
"""A Jupyter data directory holding the ``cpap`` page template (no CDN links)."""
STARTUP_TIMEOUT_S = 60.0
DEFAULT_WEBSOCKET_LIMIT = 10 * 2**20
"""Tornado's default websocket message limit, when ``voila.json`` cannot be read."""


@lru_cache(maxsize=1)
def voila_settings() -> dict:
    """Return the parsed ``voila.json``."""
    return json.loads(VOILA_CONFIG.read_text(encoding="utf-8"))


def max_upload_bytes() -> int:
    """Largest file a page may upload through a widget.

    Half the websocket message limit in ``voila.json``: a larger message
    silently drops the page's connection (STACK_NOTES), so the bedside page
    states this limit and refuses larger files itself.
    """
    try:
        limit = int(voila_settings()["Voila"]["tornado_settings"]["websocket_max_message_size"])
    except (OSError, KeyError, ValueError):  # not run from the repository: Voilà's own limit
        limit = DEFAULT_WEBSOCKET_LIMIT
    return limit // 2


def voila_command(*, port: int, notebook_dir: Path = NOTEBOOK_DIR, python: str = sys.executable) -> list[str]:
    """Return the command line that serves ``notebook_dir`` on 127.0.0.1:``port``.

    Parameters
    ----------
    port : int
        TCP port (1-65535); Voilà must not silently move to another one.
    notebook_dir : Path
        Directory whose notebooks are served (``/voila/render/<name>.ipynb``).
    python : str
        The interpreter whose Voilà to run.
    """
    if not 0 < int(port) < 65536:
        raise ParameterError("port", f"must be 1-65535, got {port}")
    return [
        python,
        "-m",
        "cpap_lib.dashboard.runtime.guarded_voila",
        str(notebook_dir),
        "--no-browser",
        f"--port={int(port)}",
        "--Voila.port_retries=0",
        f"--Voila.config_file_paths={VOILA_CONFIG_DIR}",
        "--template=cpap",
    ]


class VoilaServer:
    """A Voilà process serving the dashboards, started and stopped by us.

    Parameters
    ----------
    api_url : str
        The REST API the pages talk to (``CPAP_API_URL`` in their kernels).
    api_token : str, optional
        ``CPAP_API_TOKEN`` for the pages' kernels.
    port : int, optional
        Port to serve on; a free one when omitted.
    env : dict, optional
        Further environment variables for the kernels (``CPAP_REFRESH_S`` ...).
    notebook_dir : Path, optional
        Directory to serve; ``notebooks/`` when omitted.
    log_path : Path, optional
        File for Voilà's own log; discarded when omitted.

    Examples
    --------
    ``with VoilaServer("http://127.0.0.1:8000") as voila: print(voila.url)``
    """

    def __init__(
        self,
        api_url: str,
        api_token: str | None = None,
        *,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        notebook_dir: Path = NOTEBOOK_DIR,
    ):
        self.notebook_dir = Path(notebook_dir)
        if not port:
            # imported here: the dashboard kernels that read this module need none of the server
            from ...server.process import free_port

            port = free_port()
        self.port = int(port)
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {**os.environ, "CPAP_API_URL": api_url, **(env or {})}
        if api_token:
            self._env["CPAP_API_TOKEN"] = api_token
        # our template directory first: Voilà looks templates up on JUPYTER_PATH
        self._env["JUPYTER_PATH"] = os.pathsep.join(
            p for p in (str(TEMPLATE_DIR), os.environ.get("JUPYTER_PATH", "")) if p
        )
        self._env.setdefault("PYTHONUNBUFFERED", "1")
        self._log_path = log_path
        self.process: subprocess.Popen | None = None

    def page_url(self, notebook: str, query: str = "") -> str:
        """URL of a rendered notebook, e.g. ``page_url("monitor.ipynb")``."""
        return f"{self.url}/voila/render/{notebook}" + (f"?{query}" if query else "")

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> VoilaServer:
        """Start Voilà and wait until it answers; raise if it does not."""
        log_file = open(self._log_path, "ab") if self._log_path else None
        try:
            self.process = subprocess.Popen(
                voila_command(port=self.port, notebook_dir=self.notebook_dir),
                cwd=self.notebook_dir,
                env=self._env,
                stdout=subprocess.DEVNULL if log_file is None else log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log_file is not None:
                log_file.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailableError(
                    f"Voilà exited with status {self.process.returncode} while starting"
                    + (f"; see {self._log_path}" if self._log_path else ""),
                    url=self.url,
                )
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2):
                    log.info("Voilà serving %s at %s", self.notebook_dir, self.url)
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise ServerUnavailableError(f"Voilà did not answer within {timeout_s:g} s", url=self.url)

    def kernel_pids(self) -> list[int]:
        """Process ids of the kernels Voilà runs now (its child processes)."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop Voilà and its kernels (the whole process group)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
        except ProcessLookupError:
            pass

    def __enter__(self) -> VoilaServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
