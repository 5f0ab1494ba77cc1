"""Run a function every few seconds in a daemon thread, for pages that refresh themselves.

The network call of a refresh runs in this thread (never in a widget
callback), so a slow or dead server cannot freeze the page. The thread ends
with the kernel (Voilà culls the kernel of a closed tab), or on :meth:`Poller.stop`.

Examples
--------
>>> import time
>>> from cpap_lib.dashboard.runtime.poller import Poller, refresh_interval_s
>>> ticks = []
>>> poller = Poller(lambda: ticks.append(1), interval_s=0.05, name="demo").start()
>>> time.sleep(0.3); poller.stop()
>>> len(ticks) >= 2
True
>>> refresh_interval_s({"CPAP_REFRESH_S": "2"})
2.0
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping

from ...errors import ParameterError

__all__ = ["Poller", "refresh_interval_s", "DEFAULT_REFRESH_S", "MAX_REFRESH_S"]

log = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 5.0
"""Refresh interval of the pages unless ``CPAP_REFRESH_S`` says otherwise."""
MAX_REFRESH_S = 30.0
"""The pages never wait longer than this between refreshes."""


def refresh_interval_s(environ: Mapping[str, str] | None = None, default: float = DEFAULT_REFRESH_S) -> float:
    """The refresh interval from ``CPAP_REFRESH_S`` (0.2 to 30 s).

    Examples
    --------
    >>> refresh_interval_s({})
    5.0
    >>> refresh_interval_s({"CPAP_REFRESH_S": "60"})
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: CPAP_REFRESH_S: must be a number of seconds from 0.2 to 30, got '60'
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("CPAP_REFRESH_S", "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.2 <= value <= MAX_REFRESH_S:
        raise ParameterError(
            "CPAP_REFRESH_S", f"must be a number of seconds from 0.2 to {MAX_REFRESH_S:g}, got {raw!r}"
        )
    return value


class Poller:
    """Call ``fn()`` every ``interval_s`` seconds in a daemon thread.

    ``fn`` handles its own errors (shows them in the page); anything it lets
    through is logged and the polling goes on.

    Parameters
    ----------
    fn : callable
        Work without arguments.
    interval_s : float
        Seconds between the end of one call and the start of the next.
    name : str
        Thread name, for logs.
    run_first : bool
        Call ``fn`` at once when started, not only after the first interval.
    """

    def __init__(self, fn: Callable[[], object], interval_s: float, *, name: str = "poller", run_first: bool = True):
        if interval_s <= 0:
            raise ParameterError("interval_s", f"must be positive, got {interval_s}")
        self.fn = fn
        self.interval_s = float(interval_s)
        self.name = name
        self.run_first = run_first
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Poller:
        """Start polling (no effect if already running)."""
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=f"cpap-{self.name}", daemon=True)
            self._thread.start()
        return self

    def poke(self) -> None:
        """Run the next call now instead of waiting for the interval."""
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling and wait for a running call to end."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        if not self.run_first:
            self._wait()
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception:  # the thread must survive a bug in one refresh; logged for the operator
                log.exception("%s: refresh failed", self.name)
            self._wait()

    def _wait(self) -> None:
        self._wake.wait(self.interval_s)
        self._wake.clear()
