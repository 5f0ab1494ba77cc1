"""Small pieces every dashboard shares: messages, escaping, background work.

- :class:`MessageBar` shows one message (info, success, warning, error) as a
  sentence. Errors never show a traceback: :func:`describe_error` turns an
  exception into a sentence, and unexpected ones are logged for the operator.
- :func:`escape` makes any user-supplied value (names, MRNs, file names) safe
  to put into HTML.
- :func:`run_in_background` runs slow work (network calls, long analyses) in a
  thread with a deadline, so an observer never freezes the page.
- :class:`LatestWins` runs background work of which only the latest job
  started may show its result (a new file, patient or room drops the old one).
- :class:`Debouncer` runs a function once a burst of calls has settled
  (slider drags).
- :func:`catch_errors` / :func:`report_errors` wrap observers so that a
  failure becomes a message in the page instead of a traceback in the log
  panel.

Examples
--------
>>> from cpap_lib.dashboard.widgets.common import MessageBar, escape
>>> bar = MessageBar()
>>> bar.show_error("Pressure must be an integer from 4 to 25.")
>>> bar.level, bar.text
('error', 'Pressure must be an integer from 4 to 25.')
>>> "<img" in bar.value
False
>>> escape("<img src=x onerror=alert(1)>")
'&lt;img src=x onerror=alert(1)&gt;'
"""

from __future__ import annotations

import functools
import html
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets
import traitlets

from ...errors import CpapError

__all__ = [
    "LEVEL_STYLES",
    "BackgroundTask",
    "Debouncer",
    "LatestWins",
    "MessageBar",
    "catch_errors",
    "describe_error",
    "escape",
    "log_to_server_console",
    "report_errors",
    "run_in_background",
]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LEVEL_STYLES = {
    "info": ("#0b4f8a", "#e8f1fb"),
    "success": ("#1b5e20", "#e8f5e9"),
    "warning": ("#7a4f01", "#fff4e0"),
    "error": ("#8b0000", "#fdecea"),
}
"""Text and background colour of each message level."""


def log_to_server_console(level: int = logging.INFO) -> logging.Handler:
    """Send ``cpap_lib`` log records to the process's real stderr, once.

    In a kernel, ``sys.stderr`` is captured and shown in the page: without
    this, a logged traceback (or Python's last-resort handler) would appear
    in the dashboard. ``sys.__stderr__`` is the kernel process's own stderr,
    which ends up in the Voilà server's console. Records still propagate to
    the root logger's handlers (if any); Python's last-resort handler (which
    writes to the captured stream) is no longer used.

    Returns
    -------
    logging.Handler
        The handler (the same one on every call).

    Examples
    --------
    >>> log_to_server_console() is log_to_server_console()
    True
    """
    root = logging.getLogger("cpap_lib")
    for handler in root.handlers:
        if getattr(handler, "_cpap_server_console", False):
            return handler
    handler = logging.StreamHandler(sys.__stderr__)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._cpap_server_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return handler


def escape(value: Any) -> str:
    """Return ``value`` as text that is safe inside HTML (element or attribute).

    Parameters
    ----------
    value : Any
        Anything; ``None`` becomes an empty string, the rest ``str(value)``.

    Examples
    --------
    >>> escape('Ann "A" <b>')
    'Ann &quot;A&quot; &lt;b&gt;'
    >>> escape(None)
    ''
    """
    return "" if value is None else html.escape(str(value), quote=True)


def describe_error(exc: BaseException) -> str:
    """Turn an exception into one sentence for the page (never a traceback).

    Errors of the library (:class:`~cpap_lib.errors.CpapError`) and timeouts
    carry their own message; anything else is unexpected and is described by
    its type only (the details belong in the log, see :func:`catch_errors`).

    Examples
    --------
    >>> from cpap_lib.errors import RecordingError
    >>> describe_error(RecordingError("the file is empty", file="a.txt"))
    'a.txt: the file is empty'
    >>> describe_error(TimeoutError("Loading did not finish within 10 s."))
    'Loading did not finish within 10 s.'
    >>> describe_error(KeyError("x"))
    'Unexpected error (KeyError). The details are in the dashboard log.'
    """
    if isinstance(exc, (CpapError, TimeoutError)):
        text = str(exc).strip()
        return text or type(exc).__name__
    return f"Unexpected error ({type(exc).__name__}). The details are in the dashboard log."


class MessageBar(widgets.HTML):
    """One line telling the user what happened: info, success, warning or error.

    The text is escaped, so a message may quote user input safely.

    Attributes
    ----------
    level : str
        ``"info"``, ``"success"``, ``"warning"``, ``"error"``, or ``""`` (empty bar).
    text : str
        The message shown (plain text).

    Examples
    --------
    >>> bar = MessageBar()
    >>> bar.show_info("Loaded night.txt <ok>")
    >>> "night.txt &lt;ok&gt;" in bar.value
    True
    >>> bar.clear(); bar.text, bar.value
    ('', '')
    """

    level = traitlets.Unicode("").tag(sync=False)
    text = traitlets.Unicode("").tag(sync=False)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("layout", widgets.Layout(width="100%"))
        super().__init__(**kwargs)
        self.add_class("cpap-message-bar")

    def show(self, level: str, text: str) -> None:
        """Show ``text`` at ``level`` (one of :data:`LEVEL_STYLES`)."""
        if level not in LEVEL_STYLES:
            raise ValueError(f"level must be one of {sorted(LEVEL_STYLES)}, got {level!r}")
        fg, bg = LEVEL_STYLES[level]
        self.level, self.text = level, str(text)
        self.value = (
            f'<div class="cpap-message cpap-message-{level}" role="{"alert" if level == "error" else "status"}" '
            f'style="color:{fg};background:{bg};padding:6px 10px;border-radius:4px;">{escape(text)}</div>'
        )

    def show_info(self, text: str) -> None:
        """Show a neutral message."""
        self.show("info", text)

    def show_success(self, text: str) -> None:
        """Show that something worked."""
        self.show("success", text)

    def show_warning(self, text: str) -> None:
        """Show something the user should know, though the work went on."""
        self.show("warning", text)

    def show_error(self, error: str | BaseException) -> None:
        """Show an error: a sentence, or an exception described by :func:`describe_error`."""
        self.show("error", describe_error(error) if isinstance(error, BaseException) else error)

    def clear(self) -> None:
        """Empty the bar."""
        self.level, self.text, self.value = "", "", ""


def _handle(exc: BaseException, bar: MessageBar | None, where: str) -> None:
    if not isinstance(exc, (CpapError, TimeoutError)):
        logger.exception("unexpected error in %s", where, exc_info=exc)
    else:
        logger.info("%s: %s", where, exc)
    if bar is not None:
        bar.show_error(exc)


def report_errors(bar: MessageBar) -> Callable[[F], F]:
    """Decorate a callback so that its errors are shown in ``bar``.

    :class:`~cpap_lib.errors.CpapError` and timeouts become their message;
    anything else is logged with its traceback (``logging.exception``) and
    shown as "Unexpected error (...)". The callback then returns ``None``.

    Examples
    --------
    >>> from cpap_lib.errors import ParameterError
    >>> bar = MessageBar()
    >>> @report_errors(bar)
    ... def on_click(_):
    ...     raise ParameterError("pressure", "must be an integer from 4 to 25")
    >>> on_click(None)
    >>> bar.text
    'pressure: must be an integer from 4 to 25'
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the page boundary: shown, and logged when unexpected
                _handle(exc, bar, func.__qualname__)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


def catch_errors(method: F) -> F:
    """Decorate a component's method so that its errors go to ``self.messages``.

    Like :func:`report_errors`, for methods of widgets that own a
    :class:`MessageBar` in their ``messages`` attribute.

    Examples
    --------
    >>> import ipywidgets as widgets
    >>> from cpap_lib.errors import RecordingError
    >>> class Panel(widgets.VBox):
    ...     def __init__(self):
    ...         self.messages = MessageBar()
    ...         super().__init__([self.messages])
    ...     @catch_errors
    ...     def load(self, change=None):
    ...         raise RecordingError("no valid data rows", file="x.txt")
    >>> panel = Panel(); panel.load()
    >>> panel.messages.level, panel.messages.text
    ('error', 'x.txt: no valid data rows')
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the page boundary: shown, and logged when unexpected
            _handle(exc, getattr(self, "messages", None), method.__qualname__)
            return None

    return wrapper  # type: ignore[return-value]


class BackgroundTask:
    """Handle of work started by :func:`run_in_background`.

    Exactly one of the callbacks runs: ``on_done(result)`` if the work
    finished in time, else ``on_error(exc)`` (its exception, or a
    :class:`TimeoutError` when the deadline passed first; a late result is
    then dropped).

    Attributes
    ----------
    name : str
        What the work is, for messages ("Loading rooms").
    result : Any
        The work's return value once it succeeded.
    error : BaseException or None
        Why it failed.
    """

    def __init__(self, name: str):
        self.name = name
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self._finished = threading.Event()
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        """Whether a callback has run (or the task was cancelled)."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the callbacks have run; return whether they did in time."""
        return self._finished.wait(timeout)

    def cancel(self) -> None:
        """Drop the result: neither callback will run (the thread still finishes)."""
        with self._lock:
            self.cancelled = True
            self._finished.set()

    def _claim(self) -> bool:
        with self._lock:
            return not (self._finished.is_set() or self.cancelled)


def run_in_background(
    fn: Callable[[], Any],
    *,
    on_done: Callable[[Any], Any] | None = None,
    on_error: Callable[[BaseException], Any] | None = None,
    timeout_s: float = 10.0,
    name: str = "The request",
) -> BackgroundTask:
    """Run ``fn()`` in a daemon thread; call back with its result or its error.

    Use it for every network call and every slow computation started by an
    observer, so the page stays responsive. Give ``fn`` its own timeout too
    (the API client has one): a thread cannot be killed, only ignored.

    Parameters
    ----------
    fn : callable
        The work, without arguments (use ``functools.partial``).
    on_done : callable, optional
        Called with the result, in the worker thread. Keep widget updates small.
    on_error : callable, optional
        Called with the exception (or a :class:`TimeoutError` after
        ``timeout_s``). Unexpected exceptions are also logged with traceback.
        An exception raised by ``on_done`` is passed here too.
    timeout_s : float
        Deadline in seconds.
    name : str
        Names the work in the timeout message.

    Returns
    -------
    BackgroundTask

    Examples
    --------
    >>> got = []
    >>> task = run_in_background(lambda: 6 * 7, on_done=got.append, timeout_s=5)
    >>> task.wait(5), got
    (True, [42])
    >>> import time
    >>> errors = []
    >>> task = run_in_background(lambda: time.sleep(1), on_error=errors.append,
    ...                          timeout_s=0.05, name="Loading rooms")
    >>> task.wait(5), str(errors[0])
    (True, 'Loading rooms did not finish within 0.05 s.')
    """
    task = BackgroundTask(name)

    def fail(exc: BaseException) -> None:
        task.error = exc
        if not isinstance(exc, (CpapError, TimeoutError)):
            logger.exception("unexpected error in background task %r", name, exc_info=exc)
        if on_error is not None:
            try:
                on_error(exc)
            except Exception:  # an error handler failing must not kill the thread silently (logged)
                logger.exception("error handler of background task %r failed", name)

    def worker() -> None:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - handed to on_error; unexpected ones are logged
            if task._claim():
                timer.cancel()
                fail(exc)
                task._finished.set()
            return
        if task._claim():
            timer.cancel()
            task.result = result
            try:
                if on_done is not None:
                    on_done(result)
            except Exception as exc:  # noqa: BLE001 - handed to on_error; unexpected ones are logged
                fail(exc)
            task._finished.set()

    def expire() -> None:
        if task._claim():
            fail(TimeoutError(f"{name} did not finish within {timeout_s:g} s."))
            task._finished.set()

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    thread = threading.Thread(target=worker, name=f"cpap-bg-{name}", daemon=True)
    timer.start()
    thread.start()
    return task


class LatestWins:
    """Background work of which only the latest job started may show its result.

    Every :meth:`start` begins a new *generation*; when an older job finishes,
    its ``on_done`` / ``on_error`` are not called, so nothing of the previous
    file, patient or room can appear after the user chose another.
    :meth:`invalidate` drops running work without starting any (a Reset).
    Callbacks run in the worker thread while holding :attr:`lock`, so checking
    "still the latest?" and showing the result are one step; a page that
    shares the lock with its own widget updates never interleaves with them.

    Parameters
    ----------
    timeout_s : float
        Deadline of each job (see :func:`run_in_background`).
    lock : threading.RLock, optional
        The lock callbacks run under (a new one when omitted).
    on_busy : callable, optional
        Called with ``True`` when work starts and ``False`` when the latest
        job has finished (or was dropped by :meth:`invalidate`).

    Attributes
    ----------
    generation : int
        Number of the latest job (or invalidation).

    Examples
    --------
    >>> import time
    >>> shown = []
    >>> runner = LatestWins(timeout_s=5)
    >>> _ = runner.start(lambda: time.sleep(0.2) or "old file", on_done=shown.append)
    >>> _ = runner.start(lambda: "new file", on_done=shown.append)
    >>> runner.wait_idle(5); time.sleep(0.3); shown
    True
    ['new file']
    >>> _ = runner.start(lambda: time.sleep(0.1) or "dropped", on_done=shown.append)
    >>> _ = runner.invalidate(); runner.wait_idle(0), runner.is_current(1)
    (True, False)
    """

    def __init__(self, *, timeout_s: float = 10.0, lock: Any = None, on_busy: Callable[[bool], Any] | None = None):
        self.timeout_s = float(timeout_s)
        self.lock = lock if lock is not None else threading.RLock()
        self.generation = 0
        self._on_busy = on_busy
        self._idle = threading.Event()
        self._idle.set()

    def is_current(self, generation: int) -> bool:
        """Whether ``generation`` is still the latest (its result may be shown)."""
        return generation == self.generation

    def start(
        self,
        fn: Callable[[], Any],
        *,
        on_done: Callable[[Any], Any] | None = None,
        on_error: Callable[[BaseException], Any] | None = None,
        on_finish: Callable[[], Any] | None = None,
        name: str = "The work",
        timeout_s: float | None = None,
    ) -> int:
        """Run ``fn()`` in the background as the latest job; return its generation.

        ``on_done(result)`` or ``on_error(exc)`` run only if no job was started
        (and no :meth:`invalidate` called) since; ``on_finish()`` runs in
        every case, after them.
        """
        with self.lock:
            self.generation += 1
            generation = self.generation
            self._idle.clear()
        if self._on_busy is not None:
            self._on_busy(True)

        def finish() -> None:
            if on_finish is not None:
                on_finish()
            with self.lock:
                latest = self.is_current(generation)
                if latest:
                    self._idle.set()
            if latest and self._on_busy is not None:
                self._on_busy(False)

        def failed(exc: BaseException) -> None:
            with self.lock:
                if self.is_current(generation) and on_error is not None:
                    on_error(exc)

        def done(result: Any) -> None:
            try:
                with self.lock:
                    if self.is_current(generation) and on_done is not None:
                        on_done(result)
            except Exception as exc:  # noqa: BLE001 - shown like the work's own errors; unexpected ones logged
                if not isinstance(exc, (CpapError, TimeoutError)):
                    logger.exception("showing the result of %r failed", name)
                failed(exc)
            finally:
                finish()

        def failed_then_finish(exc: BaseException) -> None:
            try:
                failed(exc)
            finally:
                finish()

        run_in_background(
            fn,
            on_done=done,
            on_error=failed_then_finish,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            name=name,
        )
        return generation

    def invalidate(self) -> int:
        """Drop the results of all running work; return the new generation."""
        with self.lock:
            self.generation += 1
            self._idle.set()
        if self._on_busy is not None:
            self._on_busy(False)
        return self.generation

    def expect_work(self) -> None:
        """Mark the runner busy before work is started (a debounced job is pending)."""
        self._idle.clear()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the latest job has finished; return whether it did in time."""
        return self._idle.wait(timeout)


class Debouncer:
    """Call ``fn`` once, ``delay_s`` after the last of a burst of triggers.

    Slider drags send many changes; analysis should run once the slider rests.

    Parameters
    ----------
    fn : callable
        Called without arguments, in a timer thread.
    delay_s : float
        Quiet time before the call.

    Examples
    --------
    >>> calls = []
    >>> d = Debouncer(lambda: calls.append(1), delay_s=0.05)
    >>> for _ in range(5):
    ...     d.trigger()
    >>> d.flush(timeout=2), calls
    (True, [1])
    """

    def __init__(self, fn: Callable[[], Any], delay_s: float = 0.3):
        self.fn = fn
        self.delay_s = float(delay_s)
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def trigger(self) -> None:
        """(Re)start the quiet period."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._idle.clear()
            self._timer = threading.Timer(self.delay_s, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.fn()
        finally:
            with self._lock:
                if self._timer is None:
                    self._idle.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until a pending call has run; return whether it did in time."""
        return self._idle.wait(timeout)

    def cancel(self) -> None:
        """Drop a pending call."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._idle.set()
