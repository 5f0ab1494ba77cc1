"""The original system (``../shared/reference_system``, read-only) as a test oracle.

Nothing of it is copied into the repository: its files are imported or run
from where they lie.

- :func:`start_reference_server`: the old Flask server (``server.py``) as a
  child process with the same Python, in a scratch folder (it creates
  ``patients.db`` in its working directory), on a free 127.0.0.1 port.
- :func:`load_reference_module`: import one of its modules by path.
- :class:`TkClient`: the Tk bedside client (``patient_GUI.py``), unchanged,
  driven through its own buttons. There is no display here, and Tk's modal
  dialogs (message boxes, the file chooser) would wait for a person, so the
  GUI toolkit alone (``tkinter`` and matplotlib's Tk canvas) is replaced while
  the module is imported by :func:`fake_tk_modules`, a recording stand-in:
  widgets keep their texts and commands, entries their text, ``after``
  remembers the client's 30 s poll. Everything else (its request functions,
  ``create_json``, ``plot_to_b64`` with matplotlib's JPEG, ``analysis_driver``,
  the poll that cuts the last character, ``display_all_patients``) runs as written.
- :func:`assert_same`: two answers equal in status, content type and bytes.
- The Streamlit client runs for real through ``streamlit.testing.v1.AppTest``
  (see ``tests/legacy/test_old_clients.py``); it needs no stand-in.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import re
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from support import REFERENCE_DATA

REFERENCE_SYSTEM = REFERENCE_DATA.parent / "reference_system"
LAB_TZ = "Pacific/Auckland"
"""The time zone both servers run in for the tests: far from UTC (UTC+13 in December, +12 in July)."""

_SERVER_MAIN = """
import sys
sys.path.insert(0, sys.argv[1])
import server  # the original module, unchanged: creates patients.db here
from werkzeug.serving import make_server
server.init_server()
httpd = make_server("127.0.0.1", 0, server.app, threaded=True)
print(httpd.server_port, flush=True)
httpd.serve_forever()
"""
"""Runs ``server.app`` as ``app.run`` would (werkzeug, threaded), on a port the OS picks, printed first."""


class ReferenceServer:
    """The old Flask server running in a child process."""

    def __init__(self, process: subprocess.Popen, url: str, workdir: Path):
        self.process, self.url, self.workdir = process, url, workdir

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> ReferenceServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def start_reference_server(workdir: Path, env: dict[str, str] | None = None, timeout: float = 30.0) -> ReferenceServer:
    """Start ``reference_system/server.py`` in ``workdir``; return once ``/health`` answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "stdout.txt"
    with open(out, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVER_MAIN, str(REFERENCE_SYSTEM)],
            cwd=workdir,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + timeout
    while True:
        first = out.read_text(errors="replace").split("\n", 1)
        if len(first) == 2 and first[0].strip().isdigit():
            url = f"http://127.0.0.1:{int(first[0])}"
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    return ReferenceServer(process, url, workdir)
            except requests.RequestException:
                pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the reference server did not start:\n{out.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)


@contextlib.contextmanager
def _modules(replacements: dict[str, types.ModuleType]) -> Iterator[None]:
    """Put ``replacements`` into ``sys.modules`` for the duration, then restore what was there."""
    saved = {name: sys.modules.get(name) for name in replacements}
    sys.modules.update(replacements)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # leave ../shared as it is
    try:
        yield
    finally:
        sys.dont_write_bytecode = writes_bytecode
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_reference_module(name: str, replacements: dict[str, types.ModuleType] | None = None) -> types.ModuleType:
    """Import ``reference_system/<name>.py`` by path, as a fresh module object.

    Its own import of ``cpap_measurements`` gets the original module too;
    ``replacements`` are visible to it only while it is imported.
    """
    extra = dict(replacements or {})
    if name != "cpap_measurements":
        extra.setdefault("cpap_measurements", load_reference_module("cpap_measurements"))
    spec = importlib.util.spec_from_file_location(f"reference_{name}", REFERENCE_SYSTEM / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    with _modules(extra):
        spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the Tk stand-in
class _Var:
    def __init__(self, *args: Any, value: str = "", **kwargs: Any):
        self.value = value

    def get(self) -> str:
        return self.value

    def set(self, value: str) -> None:
        self.value = value


class _Widget:
    """Any Tk/ttk widget: remembers its options; geometry and styling calls do nothing."""

    def __init__(self, gui: FakeTk, master: Any = None, **options: Any):
        self.gui, self.master, self.options = gui, master, dict(options)
        self.kind = type(self).__name__
        gui.widgets.append(self)

    def configure(self, *style: Any, **options: Any) -> None:
        if not style:  # ttk.Style().configure("Name.TLabel", ...) styles nothing here
            self.options.update(options)

    config = configure

    def cget(self, key: str) -> Any:
        return self.options.get(key, "")

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None  # pack, grid, bind, destroy, yview, title, geometry, mainloop...


class _Entry(_Widget):
    def _text(self) -> str:
        var = self.options.get("textvariable")
        return var.get() if var is not None else self.options.get("_text", "")

    def _set(self, text: str) -> None:
        var = self.options.get("textvariable")
        if var is not None:
            var.set(text)
        else:
            self.options["_text"] = text

    def get(self) -> str:
        return self._text()

    def delete(self, first: Any, last: Any = None) -> None:
        text = self._text()
        start = int(first)
        end = len(text) if last in ("end", None) else int(last)
        self._set(text[:start] + text[end:])

    def insert(self, index: Any, value: str) -> None:
        text = self._text()
        at = len(text) if index == "end" else int(index)
        self._set(text[:at] + value + text[at:])


class _Root(_Widget):
    def after(self, ms: int, func: Callable[[], Any]) -> None:
        self.gui.scheduled.append((ms, func))


class _Canvas(_Widget):
    def bbox(self, *args: Any) -> tuple[int, int, int, int]:
        return (0, 0, 0, 0)


class FakeTk:
    """A recording stand-in for ``tkinter`` (see the module docstring)."""

    def __init__(self) -> None:
        self.widgets: list[_Widget] = []
        self.scheduled: list[tuple[int, Callable[[], Any]]] = []
        self.dialogs: list[tuple[str, str, str]] = []
        self.next_file = ""

    def modules(self) -> dict[str, types.ModuleType]:
        gui = self

        def widget(cls: type[_Widget]) -> Callable[..., _Widget]:
            return lambda *args, **kwargs: cls(gui, *args[:1], **kwargs)

        tk = types.ModuleType("tkinter")
        for name in ("Frame", "Label", "Button", "Scrollbar", "Toplevel"):
            setattr(tk, name, widget(type(name, (_Widget,), {})))
        tk.Canvas = widget(type("Canvas", (_Canvas,), {}))
        tk.Tk = widget(type("Tk", (_Root,), {}))
        tk.StringVar = _Var
        for name, value in {
            "END": "end",
            "X": "x",
            "Y": "y",
            "BOTH": "both",
            "W": "w",
            "E": "e",
            "LEFT": "left",
            "RAISED": "raised",
            "GROOVE": "groove",
            "DISABLED": "disabled",
            "NORMAL": "normal",
        }.items():
            setattr(tk, name, value)
        messagebox = types.ModuleType("tkinter.messagebox")
        messagebox.showinfo = lambda title="", message="", **kw: gui.dialogs.append(("info", title, message))
        messagebox.showerror = lambda title="", message="", **kw: gui.dialogs.append(("error", title, message))
        tk.messagebox = messagebox
        ttk = types.ModuleType("tkinter.ttk")
        ttk.Label = widget(type("Label", (_Widget,), {}))
        ttk.Entry = widget(type("Entry", (_Entry,), {}))
        ttk.Style = widget(type("Style", (_Widget,), {}))
        tk.ttk = ttk
        filedialog = types.ModuleType("tkinter.filedialog")
        filedialog.askopenfilename = lambda *args, **kwargs: gui.next_file
        tk.filedialog = filedialog
        tkagg = types.ModuleType("matplotlib.backends.backend_tkagg")

        class FigureCanvasTkAgg:
            def __init__(self, figure: Any, master: Any = None):
                self.figure, self.master = figure, master

            def draw(self) -> None:
                self.figure.canvas.draw()

            def get_tk_widget(self) -> _Widget:
                return _Widget(gui, self.master)

        tkagg.FigureCanvasTkAgg = FigureCanvasTkAgg
        return {
            "tkinter": tk,
            "tkinter.ttk": ttk,
            "tkinter.filedialog": filedialog,
            "tkinter.messagebox": messagebox,
            "matplotlib.backends.backend_tkagg": tkagg,
        }


class TkClient:
    """``patient_GUI.py`` pointed at ``url``, operated through its own widgets.

    Examples (not run here: they need a server)::

        gui = TkClient(url).start()
        gui.type("Name:", "Ann"); gui.type("Medical Record Number:", "1234"); gui.type("Room Number:", "31")
        gui.choose_file(path); gui.click("Upload to Server"); gui.run_poll(); gui.pressure_shown()
    """

    def __init__(self, url: str):
        self.gui = FakeTk()
        self.module = load_reference_module("patient_GUI", self.gui.modules())
        self.module.server = url  # its only setting (a module constant; the code is unchanged)

    def start(self) -> TkClient:
        self.module.set_up_window()  # builds the window; the fake mainloop returns at once
        return self

    def _after_label(self, text: str, kind: str) -> _Widget:
        widgets = self.gui.widgets
        for i, w in enumerate(widgets):
            if w.options.get("text") == text:
                return next(x for x in widgets[i + 1 :] if x.kind == kind)
        raise LookupError(f"no widget labelled {text!r}")

    def type(self, label: str, text: str) -> None:
        entry = self._after_label(label, "Entry")
        entry.delete(0, "end")
        entry.insert(0, text)

    def entry_text(self, label: str) -> str:
        return self._after_label(label, "Entry").get()

    def value_shown(self, label: str) -> str:
        return self._after_label(label, "Label").cget("text")

    def pressure_shown(self) -> str:
        return self.entry_text("CPAP Pressure (cmH2O):")

    def click(self, text: str) -> None:
        button = next(w for w in self.gui.widgets if w.kind == "Button" and w.options.get("text") == text)
        button.options["command"]()

    def choose_file(self, path: str | os.PathLike) -> None:
        self.gui.next_file = str(path)
        self.click("Select CPAP Data File")

    def run_poll(self) -> None:
        """Run what the client scheduled with ``root.after`` (its 30 s poll), once."""
        due, self.gui.scheduled = self.gui.scheduled, []
        for _ms, func in due:
            func()

    def view_all(self) -> list[str]:
        """Click "View All Patients"; return the texts of the labels of the window it opened."""
        start = len(self.gui.widgets)
        self.click("View All Patients")
        return [w.options["text"] for w in self.gui.widgets[start:] if w.kind == "Label" and "text" in w.options]


class OldClientRequests:
    """``/add_patient`` payloads as the old clients build them, with their own functions.

    ``analysis_driver`` (cpap_measurements), ``plot_to_b64`` (JPEG) and
    ``create_json`` of the Tk client and of the Streamlit client (imported
    outside ``streamlit run``: Streamlit's calls at import are no-ops then).
    The flow figure is drawn as each client draws it (size, one line).
    A payload is a pure function of its arguments (the old analysis of the
    file, a JPEG of the figure): each is built once and handed out again as a
    copy, so the SQLite and the PostgreSQL run of a test send the same bytes
    without the old analysis and JPEG encoding running twice (seconds each).
    """

    def __init__(self) -> None:
        import streamlit.logger

        streamlit.logger.set_log_level("error")  # outside `streamlit run` each st call warns ("bare mode")
        self.tk = load_reference_module("patient_GUI", FakeTk().modules())
        self.st = load_reference_module("patient_streamlit")
        self.analysis_driver = self.tk.analysis_driver
        self._built: dict[tuple, dict[str, Any]] = {}

    def _once(self, build: Callable[[], dict[str, Any]], *key: Any) -> dict[str, Any]:
        if key not in self._built:
            self._built[key] = build()
        return copy.deepcopy(self._built[key])

    def _figure(self, size: tuple[float, float], recording: os.PathLike | None) -> tuple[Any, Any, Any]:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
        if recording is None:
            return fig, None, None
        rate, apnea, time_s, flow = self.analysis_driver(str(recording))
        fig.add_subplot(111).plot(time_s, flow, linewidth=1.5)
        return fig, rate, apnea

    def tk_upload(
        self, mrn: int | str, room: int | str, name: str = "", pressure: str = "", recording: os.PathLike | None = None
    ) -> dict[str, Any]:
        """What the Tk client's "Upload to Server" posts: the values as its labels show them (text)."""

        def build() -> dict[str, Any]:
            fig, rate, apnea = self._figure((14, 6), recording)
            rate_text = "Not measured" if recording is None else str(rate)
            apnea_text = "Not measured" if recording is None else str(apnea)
            return self.tk.create_json(
                int(mrn), int(room), name, pressure, rate_text, apnea_text, self.tk.plot_to_b64(fig)
            )

        return self._once(build, "tk", mrn, room, name, pressure, recording)

    def streamlit_upload(
        self, mrn: int | str, room: int | str, name: str = "", pressure: str = "", recording: os.PathLike | None = None
    ) -> dict[str, Any]:
        """What the Streamlit client's "Upload to Server" posts: numbers from ``analysis_driver``."""

        def build() -> dict[str, Any]:
            fig, rate, apnea = self._figure((12, 5), recording)
            return self.st.create_json(int(mrn), int(room), name, pressure, rate, apnea, self.st.plot_to_b64(fig))

        return self._once(build, "streamlit", mrn, room, name, pressure, recording)


# ------------------------------------------------------------- comparing answers
TIMESTAMP = re.compile(rb'"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})"')
CLOCK_SLACK = timedelta(seconds=120)


def stamped_now(body: bytes, tz: str) -> bytes:
    """``body`` with each local ``YYYY-MM-DD HH:MM:SS`` replaced by ``<ts>``, after checking it is now in ``tz``.

    The two servers stamp the same upload a few milliseconds apart, so equal
    answers may differ in a second; the stamps must be the local clock time
    of ``tz`` (not UTC) and recent.
    """
    now = datetime.now(ZoneInfo(tz)).replace(tzinfo=None)
    for match in TIMESTAMP.finditer(body):
        stamp = datetime.strptime(match.group(1).decode(), "%Y-%m-%d %H:%M:%S")
        assert abs(stamp - now) < CLOCK_SLACK, f"timestamp {stamp} is not the local time in {tz} ({now:%H:%M:%S})"
    return TIMESTAMP.sub(b'"<ts>"', body)


def _show(response: requests.Response) -> str:
    body = response.content
    text = body[:300].decode(errors="replace") + (f"... ({len(body)} bytes)" if len(body) > 300 else "")
    return f"{response.status_code} {response.headers.get('Content-Type')} {text!r}"


def assert_same(old: requests.Response, ours: requests.Response, tz: str, what: str = "") -> None:
    """Status, content type and body bytes equal (timestamps: see :func:`stamped_now`)."""
    same = (
        old.status_code == ours.status_code
        and old.headers.get("Content-Type") == ours.headers.get("Content-Type")
        and stamped_now(old.content, tz) == stamped_now(ours.content, tz)
    )
    assert same, f"{what}\n  old server: {_show(old)}\n  ours:       {_show(ours)}"
