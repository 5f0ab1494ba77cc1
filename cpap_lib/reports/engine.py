"""A papermill engine that keeps its kernel: one warm kernel per worker, reused across reports.

A fresh kernel per report costs about a second to start and seconds more to
import numpy, pandas, matplotlib and the library, against a fraction of a
second of actual report work. This engine runs papermill's own notebook
client (:class:`papermill.clientwrap.PapermillNotebookClient`: same cell
metadata, timings and error handling) on a kernel it keeps between reports,
so only the first report of each worker pays for the start and the imports.

Between two reports the kernel is reset with :data:`RESET_CODE`, run
silently before the first cell: the user namespace and output history are
emptied (as ``%reset -f`` does), the working directory restored, open pyplot
figures closed and the execution counter set back to 1, so each notebook
runs and numbers its cells as in a fresh kernel. Imported modules stay
imported (that is the point); a notebook that changes process-wide state
(environment variables, module globals) would carry it over, which the
report notebook does not do.

A kernel is replaced when it died, a cell timed out (it may still be
running), the working directory, kernelspec or environment differ, or after
:data:`MAX_RUNS_PER_KERNEL` reports. Kernels are kept per process and thread
and shut down by :func:`shutdown_warm_kernels` (also at process exit).

The kernel's environment is the only way the API token reaches the
notebook (``$CPAP_LAB_TOKEN``): never as a parameter or in the notebook's
metadata, so no output file contains it.

Examples
--------
>>> ENGINE_NAME in __import__("papermill").engines.papermill_engines._engines
True
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import math
import multiprocessing.util
import os
import threading
import time
from pathlib import Path
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import merge_kwargs, remove_args

from ..errors import ReportError
from .kernels import KERNEL_START_TIMEOUT_S, ipc_kernel_manager
from .subjects import TOKEN_ENV

__all__ = [
    "ENGINE_NAME",
    "WarmKernel",
    "warm_kernel",
    "discard_warm_kernel",
    "shutdown_warm_kernels",
    "kernel_env",
    "TOKEN_ENV",
    "RESET_CODE",
    "MAX_RUNS_PER_KERNEL",
]

log = logging.getLogger(__name__)

ENGINE_NAME = "cpap-warm-kernel"
"""The papermill engine name (``execute_notebook(..., engine_name=ENGINE_NAME, warm=...)``)."""
MAX_RUNS_PER_KERNEL = 200
"""Reports one kernel runs before it is replaced (bounds any slow growth of its memory)."""
RESET_CODE = """\
_ip = get_ipython()
for _name in [n for n in _ip.user_ns if n not in _ip.user_ns_hidden and n != "_ip"]:
    del _ip.user_ns[_name]
_ip.user_ns["Out"].clear()
del _ip.user_ns["In"][1:]
for _name in ("_", "__", "___"):
    setattr(_ip.displayhook, _name, "")
import os as _os, sys as _sys
_os.chdir({cwd!r})
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_ip.execution_count = 1
del _ip, _name, _os, _sys
"""
"""Run silently in a reused kernel before each notebook (``{cwd}``: the notebook's folder).

What ``%reset -f`` does (user names, ``In``/``Out`` and ``_``), without its
full garbage collection, which costs a quarter of a second on a kernel
holding pandas and matplotlib; Python's own collector still runs as usual.
"""

_KERNELS: dict[tuple[int, int], WarmKernel] = {}
_LOCK = threading.Lock()


def kernel_env(token: str = "") -> dict[str, str]:
    """The environment of a report kernel: this process's, with ``$CPAP_LAB_TOKEN`` set to ``token`` (or unset).

    >>> kernel_env("secret")[TOKEN_ENV], TOKEN_ENV in kernel_env("")
    ('secret', False)
    """
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if token:
        env[TOKEN_ENV] = token
    return env


def _env_key(env: dict[str, str]) -> str:
    return hashlib.sha256(repr(sorted(env.items())).encode()).hexdigest()


class WarmKernel:
    """A started kernel and its client, reused for many notebooks.

    Parameters
    ----------
    kernel_name : str
        The kernelspec.
    cwd : str
        Working directory of the kernel (the notebook's folder).
    env : dict
        The kernel's environment.
    preload : str
        Code run once after the start (the imports every report needs).
    """

    def __init__(self, kernel_name: str, cwd: str, env: dict[str, str], preload: str = "") -> None:
        self.kernel_name, self.cwd, self.preload = kernel_name, cwd, preload
        self.env_key = _env_key(env)
        self.runs = 0
        self.km: Any = None
        self.kc: Any = None
        self.start_s = self.preload_s = 0.0
        self._start(env)

    def _start(self, env: dict[str, str]) -> None:
        from jupyter_core.utils import run_sync

        started = time.perf_counter()
        self.km = ipc_kernel_manager()(kernel_name=self.kernel_name)
        # no IPython history database: a reused kernel restarts its execution count, and parallel kernels
        # would write to the same SQLite file
        run_sync(self.km.start_kernel)(cwd=self.cwd, env=env, extra_arguments=["--HistoryManager.enabled=False"])
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            run_sync(self.kc.wait_for_ready)(timeout=KERNEL_START_TIMEOUT_S)
        except RuntimeError as exc:
            self.shutdown()
            raise ReportError(f"the report kernel {self.kernel_name} did not start: {exc}") from None
        self.start_s = time.perf_counter() - started
        if self.preload:
            started = time.perf_counter()
            self.run_silently(self.preload)
            self.preload_s = time.perf_counter() - started
        log.info("report kernel started in %.2f s (preload %.2f s)", self.start_s, self.preload_s)

    def matches(self, kernel_name: str, cwd: str, env: dict[str, str]) -> bool:
        """Whether this kernel can run a notebook with these settings."""
        return (self.kernel_name, self.cwd, self.env_key) == (kernel_name, cwd, _env_key(env))

    def cpu_s(self) -> float:
        """CPU seconds the kernel process has used so far (Linux ``/proc``; NaN elsewhere)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (AttributeError, OSError, IndexError):
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def run_silently(self, code: str, timeout: float = KERNEL_START_TIMEOUT_S) -> None:
        """Execute ``code`` without output or history; raise :class:`ReportError` if it fails."""
        from jupyter_core.utils import run_sync

        reply = run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda msg: None
        )
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise ReportError(f"report kernel setup failed: {content.get('ename')}: {content.get('evalue')}")

    def reset(self) -> None:
        """Empty the namespace and restore the working directory (see :data:`RESET_CODE`)."""
        self.run_silently(RESET_CODE.format(cwd=self.cwd))

    def shutdown(self) -> None:
        """Stop the kernel (now) and its client."""
        from jupyter_core.utils import run_sync

        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except RuntimeError as exc:  # already gone
                log.debug("kernel shutdown: %s", exc)
        self.km = self.kc = None


def warm_kernel(kernel_name: str, cwd: str, *, token: str = "", preload: str = "") -> tuple[WarmKernel, bool]:
    """This thread's warm kernel for these settings, started if needed.

    Returns
    -------
    (WarmKernel, bool)
        The kernel, and whether it was started by this call.
    """
    env = kernel_env(token)
    key = (os.getpid(), threading.get_ident())
    with _LOCK:
        current = _KERNELS.get(key)
    if (
        current is not None
        and current.matches(kernel_name, cwd, env)
        and current.runs < MAX_RUNS_PER_KERNEL
        and current.alive()
    ):
        return current, False
    if current is not None:
        discard_warm_kernel(current)
    kernel = WarmKernel(kernel_name, cwd, env, preload)
    with _LOCK:
        if not _KERNELS:
            _register_exit_hooks()
        _KERNELS[key] = kernel
    return kernel, True


def discard_warm_kernel(kernel: WarmKernel) -> None:
    """Shut ``kernel`` down and forget it (after a dead kernel or a cell timeout)."""
    with _LOCK:
        for key in [k for k, v in _KERNELS.items() if v is kernel]:
            del _KERNELS[key]
    kernel.shutdown()


def shutdown_warm_kernels() -> int:
    """Shut down every warm kernel of this process; return how many."""
    with _LOCK:
        kernels = [kernel for (pid, _), kernel in _KERNELS.items() if pid == os.getpid()]
        _KERNELS.clear()
    for kernel in kernels:
        kernel.shutdown()
    return len(kernels)


_hooks_registered: set[int] = set()


def _register_exit_hooks() -> None:
    """Shut kernels down at exit: ``atexit`` here, multiprocessing's finalizers in pool workers (no atexit there)."""
    if os.getpid() in _hooks_registered:
        return
    _hooks_registered.add(os.getpid())
    atexit.register(shutdown_warm_kernels)
    multiprocessing.util.Finalize(None, shutdown_warm_kernels, exitpriority=10)


class _ResettingClient(PapermillNotebookClient):
    """Papermill's notebook client on a warm kernel: reset it, then run the cells as papermill does."""

    warm: WarmKernel | None = None

    def papermill_execute_cells(self) -> None:
        assert self.warm is not None
        self.warm.reset()
        super().papermill_execute_cells()


class WarmKernelEngine(NBClientEngine):
    """Papermill's nbclient engine on a :class:`WarmKernel` (passed as ``warm=``) instead of a new kernel.

    Papermill saves the whole output notebook (images included) before and
    after every cell; with ``request_save_on_cell_execute=False`` it saves
    once at the end, and this engine writes the partial notebook to
    ``partial_path`` when the run ends in an exception (a dead kernel, a
    cell timeout), so a failure still leaves its notebook.
    """

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = False,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        partial_path: str | None = None,
        **kwargs: Any,
    ) -> Any:
        from papermill.engines import NotebookExecutionManager
        from papermill.iorw import write_ipynb

        nb_man = NotebookExecutionManager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        except BaseException:
            nb_man.notebook_complete()
            if partial_path:
                write_ipynb(nb_man.nb, partial_path)
            raise
        nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        warm: WarmKernel | None = None,
        **kwargs: Any,
    ) -> Any:
        if warm is None:
            raise ReportError(f"the {ENGINE_NAME} engine needs warm=WarmKernel(...)")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout", "kernel_manager_class"], **kwargs)
        final = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=log,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = _ResettingClient(nb_man, km=warm.km, **final)
        client.kc, client.warm = warm.kc, warm
        warm.runs += 1
        return client.execute()


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
