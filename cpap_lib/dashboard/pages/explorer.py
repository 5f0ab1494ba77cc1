"""The researchers' signal explorer: open any recording, tune the analysis, export.

:class:`SignalExplorer` opens a recording three ways (a sample from
``sample_data/``, a path the dashboard's server can read, or an upload),
analyses it with :func:`cpap_lib.analysis.analyze`, and shows:

- the flow (:class:`~cpap_lib.dashboard.widgets.charts.FlowChart`: decimated in the
  kernel, pan and zoom re-decimate, breaths marked, apneas and hypopnea
  candidates shaded);
- sliders for every analysis parameter (built from
  :data:`cpap_lib.analysis.PARAM_RANGES`); a change re-runs the analysis
  once the slider rests and updates everything, keeping the zoom;
- a summary (breath rate, apneas, AHI, severity, skipped rows ...), the
  events table with "zoom to event", and CSV downloads of the breaths and
  events (data-URI links: they work offline) with each row's clock time in
  the lab's zone where the recording's start is known (:func:`export_csv`).

A ResMed SD card's root (``DATALOG/``, ``STR.edf``, many nights) opens in one
step: the card is indexed (:func:`cpap_lib.io.resmed.read_card`, no flow
read), its nights are listed (day, hours of flow, the device's AHI:
:meth:`~cpap_lib.io.resmed.DeviceCard.overview`) newest first, the most
recent night that reads is opened at once, and one click on another night
opens it.  A night that cannot be read leaves the night on screen as it was
and says why (a sentence, never a traceback); the list marks it.

Reading and analysing run in a background thread, so the page never freezes;
every failure becomes a sentence in the message bar.

Examples
--------
>>> from cpap_lib.dashboard.pages.explorer import SignalExplorer
>>> explorer = SignalExplorer()
>>> explorer.open_sample("normal_breathing.txt")
>>> explorer.wait_idle(60)
True
>>> explorer.analysis.breath_count > 60, explorer.chart.flow_points <= 3000
(True, True)
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import ipywidgets as widgets
import pandas as pd
import traitlets

from ... import analysis as _analysis
from ...analysis.compare import compare
from ...clock import clock_iso, zone_name
from ...errors import CpapError, DeviceDataError, ParameterError, RecordingError
from ...io import FLOW_HINT, read_device_data, read_recording
from ...io.lab_text import read_lab_file
from ...io.resmed import DeviceCard, DeviceNight, NightIndex, is_card_root, read_card
from ...paths import SAMPLE_DATA_DIR
from ...recording import Recording
from ..runtime.voila_app import max_upload_bytes
from ..widgets.common import (
    Debouncer,
    LatestWins,
    MessageBar,
    catch_errors,
    describe_error,
    escape,
    log_to_server_console,
)
from ..widgets.device_comparison import comparison_html, device_event_spans
from ..widgets.night_chart import NightChart

__all__ = [
    "DATA_DIRS_ENV",
    "DEFAULT_SAMPLE_DIR",
    "EVENTS_NOT_IN_UPLOAD",
    "MAX_UPLOAD_BYTES",
    "PARAM_LABELS",
    "SignalExplorer",
    "allowed_paths_sentence",
    "data_folders",
    "export_csv",
    "export_note",
    "list_samples",
    "resolve_data_path",
]

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_DIR = SAMPLE_DATA_DIR
"""The repository's ``sample_data/`` folder."""

MAX_UPLOAD_BYTES = max_upload_bytes()
"""Largest file the upload accepts: half the websocket message limit in ``voila.json``.

Uploads travel base64-encoded (4/3 larger) over the kernel's websocket; a
message above Tornado's limit silently drops the connection (STACK_NOTES), so
the page states this limit and refuses larger files. Bigger files: open by path.
"""

MAX_INLINE_CSV_ROWS = 2000
"""Breaths tables up to this many rows are offered as a download at once; longer ones on request."""

SAMPLE_SUFFIXES = (".txt", ".csv", ".edf")

PARAM_LABELS = {
    "cutoff_hz": ("Low-pass cutoff (Hz)", "Low-pass filter cutoff of the flow before breaths are found, Hz"),
    "threshold": ("Breath threshold", "A breath must cross this fraction of the typical flow excursion"),
    "apnea_drop": ("Apnea drop", "Apnea: the flow amplitude drops by at least this fraction of the baseline"),
    "hypopnea_drop": ("Hypopnea drop", "Hypopnea candidate: the amplitude drops by at least this fraction"),
    "min_event_s": ("Shortest event (s)", "Apneas and hypopneas last at least this long, s"),
    "baseline_s": ("Baseline window (s)", "Window before an event that sets the normal amplitude, s"),
    "max_gap_s": ("Longest gap (s)", "Gap rule only: a gap between breath peaks longer than this is an apnea, s"),
}
"""Short label and explanation (tooltip) of each analysis parameter."""

METHOD_LABELS = {"amplitude": "Amplitude rule (AASM)", "gap": "Gap rule (old system)"}

_STYLE_CSS = (
    "<style>.cpap-event-list select,.cpap-night-picker select{font-family:monospace;font-size:12px}"
    ".cpap-explorer-controls .widget-label{font-size:12px}</style>"
)


def list_samples(folder: str | os.PathLike) -> list[str]:
    """Names of the recordings in ``folder`` (lab text files and ``*_BRP.edf``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.txt", "a.txt", "a.truth.json", "x_BRP.edf", "x_PLD.edf"):
    ...     _ = (d / name).write_text("")
    >>> list_samples(d)
    ['a.txt', 'b.txt', 'x_BRP.edf']
    >>> list_samples(d / "missing")
    []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = []
    for path in folder.iterdir():
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in SAMPLE_SUFFIXES:
            continue
        if suffix == ".edf" and not path.stem.upper().endswith("_BRP"):
            continue
        names.append(path.name)
    return sorted(names)


DATA_DIRS_ENV = "CPAP_DATA_DIRS"
"""Environment variable listing the folders "open by path" may read (``os.pathsep``-separated, absolute)."""


def data_folders() -> list[Path]:
    """The folders "open by path" may read: ``$CPAP_DATA_DIRS``, else the package's ``sample_data/``.

    Each folder is resolved (links followed) when asked, so a folder given by a
    link is the folder it leads to. Relative entries are ignored (the kernel's
    working directory is not a place anyone chose).

    Examples
    --------
    >>> import os
    >>> os.environ[DATA_DIRS_ENV] = os.pathsep.join(["/tmp", "relative/ignored", ""])
    >>> [str(p) for p in data_folders()]
    ['/tmp']
    >>> del os.environ[DATA_DIRS_ENV]
    >>> data_folders() == [SAMPLE_DATA_DIR.resolve()]
    True
    """
    text = os.environ.get(DATA_DIRS_ENV, "")
    entries = [e.strip() for e in text.split(os.pathsep)] if text.strip() else [str(SAMPLE_DATA_DIR)]
    return [
        Path(os.path.realpath(os.path.expanduser(e))) for e in entries if e and os.path.isabs(os.path.expanduser(e))
    ]


def allowed_paths_sentence(folders: list[Path] | None = None) -> str:
    """The sentence the page shows beside "Path": what open by path may read."""
    folders = data_folders() if folders is None else folders
    names = ", ".join(str(f) for f in folders) or "none"
    return (
        f"Open by path reads only regular files and folders inside the data folders ({names}; "
        f"set {DATA_DIRS_ENV} to change them): no '..', no links leading out, no FIFOs or devices."
    )


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)


def resolve_data_path(text: str | os.PathLike, folders: list[Path] | None = None) -> Path:
    """The real path of ``text`` if "open by path" may read it; a :class:`RecordingError` saying why not.

    Allowed: a regular file or a folder inside one of the data folders
    (:func:`data_folders`), given as an absolute path or relative to a data
    folder; no ``..`` component; links are followed and must stay inside; a
    folder's contents (a DATALOG night, a card root, three levels deep) must
    hold no links leading out and no FIFOs, sockets or devices. Nothing is
    opened here, so a FIFO never blocks (``os.stat`` only).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()).resolve()
    >>> _ = (root / "night.txt").write_text("x")
    >>> resolve_data_path(root / "night.txt", [root]) == root / "night.txt"
    True
    >>> resolve_data_path("night.txt", [root]) == root / "night.txt"
    True
    >>> resolve_data_path("/etc/passwd", [root])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cpap_lib.errors.RecordingError: /etc/passwd: not inside a data folder; open by path reads only ...
    >>> resolve_data_path(f"{root}/../x.txt", [root])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cpap_lib.errors.RecordingError: ...: '..' is not allowed in a path; give the path inside a data folder
    """
    folders = data_folders() if folders is None else [Path(os.path.realpath(f)) for f in folders]
    shown = str(text)
    raw = Path(os.path.expanduser(str(text).strip()))
    if ".." in raw.parts:
        raise RecordingError("'..' is not allowed in a path; give the path inside a data folder", file=shown)
    sentence = allowed_paths_sentence(folders)
    rule = sentence[0].lower() + sentence[1:]
    if raw.is_absolute():
        candidates = [raw]
    else:
        candidates = [f / raw for f in folders]
        candidates = [c for c in candidates if os.path.lexists(c)] or candidates[:1]
    if not candidates:
        raise RecordingError(f"no data folder is configured; {rule}", file=shown)
    given = candidates[0]
    real = Path(os.path.realpath(given))
    if not _inside(real, folders):
        what = (
            "a link leading outside the data folders"
            if _inside(Path(os.path.abspath(given)), folders)
            else "not inside a data folder"
        )
        raise RecordingError(f"{what}; {rule}", file=shown)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise RecordingError("file not found", file=shown) from None
    except OSError as exc:
        raise RecordingError(f"cannot be read ({exc.strerror})", file=shown) from None
    if stat.S_ISDIR(mode):
        _check_folder(real, folders, shown, rule)
    elif not stat.S_ISREG(mode):
        raise RecordingError(f"not a regular file (a FIFO, socket or device); {rule}", file=shown)
    return real


def _check_folder(folder: Path, folders: list[Path], shown: str, rule: str, depth: int = 3) -> None:
    """Refuse a folder holding links out or special files (the readers list folders three levels deep)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise RecordingError(f"cannot be read ({exc.strerror})", file=shown) from None
    for entry in entries:
        real = Path(os.path.realpath(entry.path))
        if entry.is_symlink() and not _inside(real, folders):
            raise RecordingError(f"holds {entry.name}, a link leading outside the data folders; {rule}", file=shown)
        try:
            mode = os.stat(real).st_mode
        except OSError:
            continue  # a dangling link: the readers skip what is not a file
        if stat.S_ISDIR(mode):
            if depth > 1:
                _check_folder(real, folders, shown, rule, depth - 1)
        elif not stat.S_ISREG(mode):
            raise RecordingError(
                f"holds {entry.name}, not a regular file (a FIFO, socket or device); {rule}", file=shown
            )


EVENTS_NOT_IN_UPLOAD = "device events not included in this upload"
"""Said, instead of "no events", for an uploaded session without its ``*_EVE.edf`` / ``*_CSL.edf``."""
EVENTS_NOT_IN_FOLDER = "device events not included: no *_EVE.edf or *_CSL.edf beside the *_BRP.edf"
"""Said for a ``*_BRP.edf`` opened by path whose folder holds no annotation file."""
_ANNOTATION_SUFFIXES = ("_EVE.EDF", "_CSL.EDF")


def _has_annotations(device_data: Any) -> bool:
    """Whether the device's own event files were read with this device data (EVE or CSL present)."""
    folder = getattr(device_data, "folder", None)
    if folder is None:
        files = getattr(device_data, "files", None)
        folder = files.brp.parent if files is not None else None
    if folder is None or not Path(folder).is_dir():
        return False
    return any(p.name.upper().endswith(_ANNOTATION_SUFFIXES) for p in Path(folder).iterdir())


def _read_path(path: str | os.PathLike, *, missing_events: str = EVENTS_NOT_IN_FOLDER) -> tuple[Recording, Any, str]:
    """Read a recording; device data (EDF file or folder) also keep the device's scoring.

    Returns
    -------
    (Recording, DeviceSession or DeviceNight or None, str)
        The last is ``missing_events`` when device data came without the
        device's event files (the device's scoring is then unknown, not empty),
        else ``""``.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".edf":
        data = read_device_data(path)
        return data.recording, data, "" if _has_annotations(data) else missing_events
    return read_recording(path), None, ""


def _read_upload(files: list[tuple[str, bytes]]) -> tuple[Recording, Any, str]:
    """Read uploaded files: one lab text file from memory, or a session's / night's EDF files together.

    EDF files are written to one temporary folder and read as a session (one
    ``*_BRP.edf``) or a night (several), with whichever PLD, SAD/SA2, EVE and
    CSL files came with them; the folder is removed once read.
    """
    names = [Path(name).name or "upload" for name, _ in files]
    edf_files = [(n, c) for n, (_, c) in zip(names, files) if n.lower().endswith(".edf")]
    if not edf_files:
        if len(files) > 1:
            raise RecordingError(
                "upload one lab text file at a time (or a session's EDF files together)", file=", ".join(names)
            )
        stream = io.BytesIO(files[0][1])
        stream.name = files[0][0]
        return read_lab_file(stream), None, ""
    if len(edf_files) != len(files):
        raise RecordingError(
            "a lab text file and EDF files together; upload one recording at a time", file=", ".join(names)
        )
    brps = [n for n, _ in edf_files if n.upper().endswith("_BRP.EDF")]
    if not brps:
        raise RecordingError(f"no *_BRP.edf among the uploaded files; {FLOW_HINT}", file=", ".join(names))
    with tempfile.TemporaryDirectory(prefix="cpap-upload-") as tmp:
        for name, content in edf_files:
            (Path(tmp) / name).write_bytes(content)
        target = Path(tmp) / brps[0] if len(brps) == 1 else Path(tmp)
        rec, data, note = _read_path(target, missing_events=EVENTS_NOT_IN_UPLOAD)
        if len(brps) > 1:
            rec = replace(rec, source=", ".join(sorted(brps)))
        return rec, data, note


class _Opened(NamedTuple):
    """What a read gives the page: the recording, the device's data, and the card it came from (if any)."""

    recording: Recording
    device_data: Any
    events_note: str
    card: DeviceCard | None = None
    nights: pd.DataFrame | None = None
    """The card's :meth:`~cpap_lib.io.resmed.DeviceCard.overview`."""
    night: str | None = None
    """The ISO day of the card's night shown."""
    unreadable: tuple[tuple[str, str], ...] = ()
    """Nights of the card tried and found unreadable on the way: (ISO day, sentence)."""


def _read_card_night(card: DeviceCard, index: NightIndex, nights: pd.DataFrame) -> _Opened:
    """One night of an indexed card, with the device's events where the card has them."""
    night: DeviceNight = card.read(index)
    note = "" if index.annotations else EVENTS_NOT_IN_FOLDER
    return _Opened(night.recording, night, note, card, nights, index.day.isoformat())


def _read_card(root: Path) -> _Opened:
    """Index a card and read its most recent night that reads (older ones are tried when the latest fails).

    Raises
    ------
    DeviceDataError
        The card holds no night with flow, or none of its nights can be read.
    """
    card = read_card(root)
    if not card.nights:
        raise DeviceDataError("the card holds no DATALOG/<date> folder with flow data", file=str(root))
    nights = card.overview()
    unreadable: list[tuple[str, str]] = []
    for index in reversed(card.nights):
        try:
            opened = _read_card_night(card, index, nights)
        except DeviceDataError as exc:
            unreadable.append((index.day.isoformat(), exc.reason))
            continue
        return opened._replace(unreadable=tuple(unreadable))
    reasons = "; ".join(f"{day}: {reason}" for day, reason in unreadable)
    raise DeviceDataError(f"none of the card's {len(card.nights)} nights can be read ({reasons})", file=str(root))


def _night_label(row: Any, unreadable: str | None) -> str:
    """A night picker row: day, hours of flow, the device's AHI and where it comes from."""
    hours = f"{row.flow_h:4.1f} h"
    if math.isfinite(row.device_ahi):
        ahi = f"AHI {row.device_ahi:4.1f} ({'STR' if row.device_ahi_source == 'STR.edf' else row.device_ahi_source})"
    else:
        ahi = "AHI  n/a"
    return f"{row.day}  {hours}  {ahi}" + ("  cannot be read" if unreadable else "")


def _analyse(rec: Recording, device_data: Any, method: str, params: dict[str, Any]):
    """Our analysis, and (for device data) the comparison with the device's scoring.

    A comparison that fails leaves the analysis standing: its reason is
    returned instead.
    """
    result = _analysis.analyze(rec, method=method, **params)
    if device_data is None:
        return result, None
    try:
        return result, compare(device_data, method=method, **params)
    except CpapError as exc:
        return result, f"The comparison with the device failed: {exc}"


EXPORT_CLOCK_COLUMNS = {"breaths": ("start_s",), "events": ("start_s", "end_s")}
"""Which time columns of each exported table get a clock-time column beside them (``start_s`` -> ``start_clock``)."""


def export_csv(frame: pd.DataFrame, start_time: Any, times: tuple[str, ...] = ("start_s",), tz: Any = None) -> str:
    """A results table as the explorer exports it (CSV text).

    Where the recording's wall-clock start is known, each time column named
    in ``times`` gets a clock-time column in front of the table
    (``start_s`` -> ``start_clock``): ISO 8601 in the lab's zone
    (``CPAP_LAB_TZ``) with its offset, to the millisecond
    (:func:`cpap_lib.clock.clock_iso`). The ``*_s`` columns stay as they are:
    seconds since the recording's start (its own time base). Without a known
    start there are no clock columns (elapsed seconds only;
    :func:`export_note` says so on the page).

    >>> from datetime import datetime
    >>> from cpap_lib.clock import lab_timezone
    >>> events = pd.DataFrame({"kind": ["apnea"], "start_s": [1338.0], "end_s": [1356.5]})
    >>> print(export_csv(events, datetime(2024, 10, 17, 22, 18, 49), ("start_s", "end_s"), lab_timezone("Europe/Berlin")))
    start_clock,end_clock,kind,start_s,end_s
    2024-10-17T22:41:07.000+02:00,2024-10-17T22:41:25.500+02:00,apnea,1338.0000,1356.5000
    <BLANKLINE>
    >>> export_csv(events, None, ("start_s", "end_s")).splitlines()[0]
    'kind,start_s,end_s'
    """
    table = frame
    if start_time is not None:
        clocks = {f"{name[:-2]}_clock": clock_iso(frame[name].to_numpy(), start_time, tz) for name in times}
        table = pd.concat([pd.DataFrame(clocks, index=frame.index), frame], axis=1)
    return table.to_csv(index=False, float_format="%.4f")


def export_note(start_time: Any, tz: Any = None) -> str:
    """The sentence beside the CSV links: which time base the files use.

    >>> from datetime import datetime
    >>> from cpap_lib.clock import lab_timezone
    >>> export_note(datetime(2024, 10, 17, 22, 18, 49), lab_timezone("Europe/Berlin"))
    'Times: clock time in Europe/Berlin (start_clock, ISO 8601 with offset) and seconds since the recording began (start_s).'
    >>> export_note(None)
    'Times: seconds since the recording began (start_s) only: this recording does not say when it started, so there is no clock time.'
    """
    if start_time is None:
        return (
            "Times: seconds since the recording began (start_s) only: this recording does not say when it "
            "started, so there is no clock time."
        )
    return (
        f"Times: clock time in {zone_name(tz)} (start_clock, ISO 8601 with offset) and seconds since the "
        "recording began (start_s)."
    )


def _csv_link(text: str, filename: str, label: str) -> str:
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (
        f'<a class="cpap-download" download="{escape(filename)}" href="data:text/csv;base64,{data}" '
        f'style="margin-right:18px">&#11015; {escape(label)}</a>'
    )


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{format(value, spec)}{(' ' + unit) if unit else ''}"


class SignalExplorer(widgets.VBox):
    """Open a recording, look at its flow, tune the analysis and export the results.

    Parameters
    ----------
    sample_dir : path, optional
        Where the sample recordings are (default: the repository's ``sample_data/``).
    max_points : int
        Most flow points sent to the browser (the chart re-decimates on zoom).
    debounce_s : float
        Quiet time after a slider change before the analysis re-runs.
    timeout_s : float
        Longest a read or an analysis may take before the page reports it.

    Attributes
    ----------
    recording : Recording or None
        What is open.
    analysis : Analysis or None
        Its latest analysis (a trait: observe it to follow results).
    messages : MessageBar
        What happened, as a sentence.
    chart : NightChart
        The flow with the stacked channels and event lanes.
    card : DeviceCard or None
        The SD card whose nights :attr:`night_picker` lists (None unless a
        card root was opened); ``card_nights`` its overview,
        ``night_shown`` the ISO day on screen.
    """

    analysis = traitlets.Any(None, allow_none=True)
    busy = traitlets.Bool(False)

    def __init__(
        self,
        *,
        sample_dir: str | os.PathLike | None = None,
        max_points: int = 3000,
        debounce_s: float = 0.4,
        timeout_s: float = 300.0,
        **kwargs: Any,
    ):
        log_to_server_console()
        self.sample_dir = Path(sample_dir) if sample_dir is not None else DEFAULT_SAMPLE_DIR
        self.timeout_s = float(timeout_s)
        self.recording: Recording | None = None
        self.device_data: Any = None
        """The device's own data (DeviceSession / DeviceNight) when the recording came from a ResMed device."""
        self.device_events_note = ""
        """Why the device's events are unknown (e.g. :data:`EVENTS_NOT_IN_UPLOAD`), or ``""``."""
        self.comparison: Any = None
        """Our analysis against the device's scoring (a Comparison), or the sentence saying why there is none."""
        self.card: DeviceCard | None = None
        self.card_nights: pd.DataFrame | None = None
        self.night_shown: str | None = None
        self.unreadable_nights: dict[str, str] = {}
        """Nights of the open card that could not be opened: ISO day -> why."""
        self._syncing_nights = False
        self._loading = False
        self._params_changed_while_loading = False
        self._runner = LatestWins(timeout_s=self.timeout_s, on_busy=lambda busy: setattr(self, "busy", busy))

        self.messages = MessageBar()
        self._build_sources()
        self._build_params()
        self.summary = widgets.HTML(self._summary_html(None))
        self.chart = NightChart(max_points=max_points, png_name="explorer.png")
        self.chart.on_event_click.append(self._on_chart_event_click)
        self.show_raw = widgets.ToggleButtons(
            options=[("Cleaned flow", False), ("Raw flow", True)],
            value=False,
            tooltips=["The low-passed flow the breaths were found in", "The flow as read from the file"],
            style={"button_width": "110px"},
        )
        self.show_raw.observe(lambda _: self._draw(keep_view=True), names="value")
        self.events_header = widgets.HTML("")
        self.event_picker = widgets.Select(options=[], value=None, rows=8, layout=widgets.Layout(width="100%"))
        """The events table: one row per event, ours and the device's; a click on a row zooms the chart to it."""
        self.event_picker.add_class("cpap-event-list")
        self.event_picker.observe(self._on_event_picked, names="value")
        self.downloads = widgets.HTML("")
        self.prepare_csv_button = widgets.Button(icon="file", layout=widgets.Layout(width="300px", display="none"))
        self.prepare_csv_button.on_click(lambda _: self._show_downloads(prepare_large=True))
        self.comparison_view = widgets.HTML("")
        self.comparison_box = widgets.VBox(
            [widgets.HTML("<b>Against the device's own scoring</b>"), self.comparison_view],
            layout=widgets.Layout(display="none"),
        )
        self._debouncer = Debouncer(self._rerun, delay_s=debounce_s)

        title = widgets.HTML(
            '<h2 style="margin:2px 0">Signal explorer</h2>'
            '<span style="color:#444">Open a recording, pan and zoom its channels, tune the analysis, export.</span>'
        )
        controls = widgets.VBox(
            [
                title,
                self.sources,
                widgets.HTML("<b>Analysis</b>"),
                self.method,
                *self.sliders.values(),
                self.reset_params_button,
                widgets.HTML("<b>Summary</b>"),
                self.summary,
            ],
            layout=widgets.Layout(width="400px", min_width="400px", margin="0 16px 0 0"),
        )
        controls.add_class("cpap-explorer-controls")
        events_box = widgets.VBox(
            [
                self.events_header,
                self.event_picker,
                widgets.HTML("<b>Export</b>"),
                widgets.HBox([self.prepare_csv_button, self.downloads]),
            ],
        )
        main = widgets.VBox(
            [self.messages, self.show_raw, self.chart, events_box, self.comparison_box],
            layout=widgets.Layout(flex="1 1 auto", min_width="0"),
        )
        main.add_class("cpap-explorer-main")
        super().__init__(
            [
                widgets.HTML(_STYLE_CSS, layout=widgets.Layout(display="none")),
                widgets.HBox([controls, main], layout=widgets.Layout(width="100%")),
            ],
            **kwargs,
        )
        self.add_class("cpap-explorer")
        self.observe(self._show_results, names="analysis")

    # ------------------------------------------------------------------ building
    def _build_sources(self) -> None:
        samples = list_samples(self.sample_dir)
        narrow = {"description_width": "50px"}
        self.sample_picker = widgets.Dropdown(
            options=samples or ["(no samples found)"],
            description="Sample",
            style=narrow,
            layout=widgets.Layout(width="260px"),
            disabled=not samples,
        )
        self.open_sample_button = widgets.Button(
            description="Open sample", icon="folder-open", disabled=not samples, layout=widgets.Layout(width="130px")
        )
        self.open_sample_button.on_click(lambda _: self.open_sample(self.sample_picker.value))
        self.path_text = widgets.Text(
            placeholder="/path/to/night.txt, *_BRP.edf, DATALOG/<date> or SD-card folder",
            description="Path",
            style=narrow,
            layout=widgets.Layout(width="260px"),
        )
        self.open_path_button = widgets.Button(
            description="Open path", icon="folder-open", layout=widgets.Layout(width="130px")
        )
        self.open_path_button.on_click(lambda _: self.open_path(self.path_text.value))
        self.path_note = widgets.HTML(
            f'<span style="color:#555;font-size:90%">{escape(allowed_paths_sentence())}</span>'
        )
        self.path_note.add_class("cpap-path-rule")
        self.card_title = widgets.HTML("")
        self.night_picker = widgets.Select(options=[], value=None, rows=5, layout=widgets.Layout(width="390px"))
        """The open card's nights, newest first: one click opens a night."""
        self.night_picker.add_class("cpap-night-picker")
        self.night_picker.observe(self._on_night_picked, names="value")
        self.card_box = widgets.VBox([self.card_title, self.night_picker], layout=widgets.Layout(display="none"))
        self.card_box.add_class("cpap-card-nights")
        self.upload = widgets.FileUpload(accept=".txt,.csv,.edf", multiple=True, description="Upload")
        self.upload.observe(self._on_upload, names="value")
        limit = f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB"
        self.upload_note = widgets.HTML(
            f'<span style="color:#555;font-size:90%">A lab text file, or a session\'s files together '
            f"(*_BRP.edf with its *_EVE.edf, *_PLD.edf, *_SAD/SA2.edf), up to {limit} in all. "
            "Bigger (an 8-hour night is about 110 MB): open by path.</span>"
        )
        self.sources = widgets.VBox(
            [
                widgets.HBox([self.sample_picker, self.open_sample_button]),
                widgets.HBox([self.path_text, self.open_path_button]),
                self.path_note,
                self.card_box,
                widgets.HBox([self.upload]),
                self.upload_note,
            ]
        )

    def _build_params(self) -> None:
        self.method = widgets.Dropdown(
            options=[(METHOD_LABELS.get(m, m), m) for m in _analysis.METHODS],
            value="amplitude",
            description="Method",
            style={"description_width": "140px"},
            layout=widgets.Layout(width="390px"),
        )
        self.method.add_class("cpap-method")
        self.sliders: dict[str, widgets.FloatSlider] = {}
        for name, default in _analysis.DEFAULT_PARAMS.items():
            lo, hi = _analysis.PARAM_RANGES[name]
            label, tooltip = PARAM_LABELS.get(name, (name, name))
            step = 10 ** math.floor(math.log10((hi - lo) / 200)) if hi > lo else 0.01
            decimals = max(0, -math.floor(math.log10(step)))
            slider = widgets.FloatSlider(
                value=default,
                min=lo,
                max=hi,
                step=step,
                readout_format=f".{decimals}f",
                description=label,
                tooltip=tooltip,
                continuous_update=False,
                style={"description_width": "140px"},
                layout=widgets.Layout(width="390px"),
            )
            slider.param_name = name
            slider.observe(self._on_param_change, names="value")
            self.sliders[name] = slider
        self.method.observe(self._on_param_change, names="value")
        self.reset_params_button = widgets.Button(description="Default parameters", icon="undo")
        self.reset_params_button.on_click(lambda _: self.reset_params())
        self._sync_method_controls()

    def _sync_method_controls(self) -> None:
        if "max_gap_s" in self.sliders:
            self.sliders["max_gap_s"].disabled = self.method.value != "gap"

    # ------------------------------------------------------------------ public API
    @property
    def params(self) -> dict[str, float]:
        """The analysis parameters the sliders show."""
        return {name: float(s.value) for name, s in self.sliders.items()}

    @catch_errors
    def reset_params(self) -> None:
        """Put every slider back to its default (one re-analysis)."""
        for name, slider in self.sliders.items():
            slider.value = _analysis.DEFAULT_PARAMS[name]

    @catch_errors
    def open_sample(self, name: str) -> None:
        """Open a recording from the sample folder by file name."""
        if name not in list_samples(self.sample_dir):
            self.messages.show_error(f"No sample named {name!r} in {self.sample_dir}.")
            return
        self.sample_picker.value = name
        self._load(lambda: _Opened(*_read_path(self.sample_dir / name)), name)

    @catch_errors
    def open_path(self, path: str | os.PathLike) -> None:
        """Open a recording by path (a lab file, a *_BRP.edf, a DATALOG/<date> folder, a card root).

        Only paths inside the data folders are read (:func:`resolve_data_path`);
        anything else is refused with a sentence saying what is allowed. A
        card root lists its nights in :attr:`night_picker` and opens the most
        recent one that reads.
        """
        text = str(path).strip()
        if not text:
            self.messages.show_error("Enter the path of a recording first.")
            return
        full = resolve_data_path(text)
        name = Path(text).name or text
        if full.is_dir() and is_card_root(full):
            self._load(lambda: _read_card(full), f"the SD card {name}")
            return
        self._load(lambda: _Opened(*_read_path(full)), name)

    @catch_errors
    def open_night(self, day: str) -> None:
        """Open another night of the open card (what a click in :attr:`night_picker` does).

        ``day`` is an ISO day or a ``DATALOG`` folder name. If the night cannot
        be read, the night on screen stays, the message says why and the list
        marks the night.
        """
        card, nights = self.card, self.card_nights
        if card is None or nights is None:
            self.messages.show_error("Open an SD card's folder by path first; then pick one of its nights.")
            return
        index = card.find(day)
        self._load(
            lambda: _read_card_night(card, index, nights),
            index.day.isoformat(),
            on_error=lambda exc: self._night_failed(index.day.isoformat(), exc),
        )

    @catch_errors
    def open_bytes(self, name: str, content: bytes) -> None:
        """Open an uploaded file's content (one file)."""
        self.open_files([(name, content)])

    @catch_errors
    def open_files(self, files: list[tuple[str, bytes]]) -> None:
        """Open uploaded files (what the upload button does): a lab file, or a session's / night's EDF files together."""
        if not files:
            return
        total = sum(len(content) for _name, content in files)
        names = ", ".join(name for name, _ in files)
        if total > MAX_UPLOAD_BYTES:
            self.messages.show_error(
                f"{names} is {total / 2**20:.0f} MB; uploads are limited to "
                f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB. Open it by path instead."
            )
            return
        data = [(str(name), bytes(content)) for name, content in files]
        self._load(lambda: _Opened(*_read_upload(data)), names)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until pending reads and analyses have finished (for scripts and tests)."""
        if not self._debouncer.flush(timeout):
            return False
        return self._runner.wait_idle(timeout)

    def breaths_csv(self) -> str:
        """The breaths table of the latest analysis as CSV text, clock times where known (:func:`export_csv`)."""
        return self._export("breaths")

    def events_csv(self) -> str:
        """The events table of the latest analysis as CSV text, clock times where known (:func:`export_csv`)."""
        return self._export("events")

    def _export(self, table: str) -> str:
        result = self._require_analysis()
        return export_csv(getattr(result, table), result.recording.start_time, EXPORT_CLOCK_COLUMNS[table])

    def _require_analysis(self):
        if self.analysis is None:
            raise ParameterError("analysis", "open a recording first")
        return self.analysis

    # ------------------------------------------------------------------ background work
    def _start(self, fn, on_done, what: str, on_finish=None, on_error=None) -> None:
        """Run ``fn`` in the background; only the latest started work may show its result."""
        self._runner.start(
            fn, on_done=on_done, on_error=on_error or self.messages.show_error, on_finish=on_finish, name=what
        )

    def _load(self, read, name: str, *, on_error=None) -> None:
        """Read (``read()`` gives an :class:`_Opened`) and analyse in the background; show it if still the latest.

        A failure leaves what is on screen as it was; ``on_error(exc)`` says so
        (default: the error's sentence in the message bar).
        """
        self._debouncer.cancel()
        self.messages.show_info(f"Opening {name} ...")
        method, params = self.method.value, self.params
        self._loading = True
        self._params_changed_while_loading = False

        def work():
            opened = read()
            return (opened, *_analyse(opened.recording, opened.device_data, method, params))

        def done(result) -> None:
            opened, result_analysis, comparison = result
            rec = opened.recording
            self.recording, self.device_data, self.comparison = rec, opened.device_data, comparison
            self.device_events_note = opened.events_note
            self._show_card(opened)
            self.analysis = result_analysis
            self._report_opened(rec)

        def finished() -> None:
            self._loading = False
            if self._params_changed_while_loading and self.recording is not None:
                self._params_changed_while_loading = False
                self._runner.expect_work()
                self._debouncer.trigger()

        self._start(work, done, f"Opening {name}", on_finish=finished, on_error=on_error)

    def _report_opened(self, rec: Recording) -> None:
        what = os.path.basename(rec.source)
        if self.card is not None:
            what = f"the night of {self.night_shown} from the card ({len(self.card.nights)} nights)"
        text = f"Opened {what}: {rec.duration_s / 60:.1f} min at {rec.fs_hz:g} Hz."
        if self.device_events_note:
            text += f" {self.device_events_note[0].upper()}{self.device_events_note[1:]}."
        unreadable = [f"{day} ({why})" for day, why in self.unreadable_nights.items()]
        if rec.skipped_rows:
            lines = ", ".join(map(str, rec.skipped_lines))
            more = ", ..." if rec.skipped_rows > len(rec.skipped_lines) else ""
            self.messages.show_warning(f"{text} {rec.skipped_rows} malformed rows were skipped (lines {lines}{more}).")
        elif unreadable and self.card is not None and self.night_shown not in self.unreadable_nights:
            self.messages.show_warning(f"{text} Nights that cannot be read: {'; '.join(unreadable)}.")
        else:
            self.messages.show_success(text)

    # ------------------------------------------------------------------ the card's nights
    def _show_card(self, opened: _Opened) -> None:
        """List the card's nights (newest first) with the one on screen selected; hide the list without a card."""
        if opened.card is None or opened.card is not self.card:
            self.unreadable_nights = {}
        self.card, self.card_nights, self.night_shown = opened.card, opened.nights, opened.night
        self.unreadable_nights.update(opened.unreadable)
        self.unreadable_nights.pop(opened.night or "", None)
        if opened.card is None or opened.nights is None:
            self.card_box.layout.display = "none"
            self._set_night_picker([], None)
            return
        ident = opened.card.identification
        device = " ".join(ident[k] for k in ("product_name", "serial_number") if ident.get(k))
        self.card_title.value = (
            f"<b>Nights on the card</b> <span style='color:#555'>({len(opened.nights)}"
            f"{'; ' + escape(device) if device else ''}; click one to open it)</span>"
        )
        self._refresh_night_picker()
        self.card_box.layout.display = None

    def _refresh_night_picker(self) -> None:
        nights = self.card_nights
        rows = [] if nights is None else list(nights.itertuples(index=False))[::-1]
        options = [(_night_label(row, self.unreadable_nights.get(row.day)), row.day) for row in rows]
        self._set_night_picker(options, self.night_shown)

    def _set_night_picker(self, options: list[tuple[str, str]], value: str | None) -> None:
        """Set the list without opening anything (a change made here is not a user's click)."""
        self._syncing_nights = True
        try:
            if list(self.night_picker.options) != options:
                self.night_picker.options = options
                self.night_picker.rows = max(2, min(5, len(options)))  # a short card takes little room
            self.night_picker.value = value
        finally:
            self._syncing_nights = False

    @catch_errors
    def _on_night_picked(self, change: dict) -> None:
        day = change["new"]
        if self._syncing_nights or day is None or (day == self.night_shown and not self._loading):
            return
        self.open_night(day)  # also back to the night on screen while another is loading: the latest click wins

    def _night_failed(self, day: str, exc: BaseException) -> None:
        """A night of the card did not open: say why, mark it, and select again the night still on screen."""
        reason = exc.reason if isinstance(exc, RecordingError) else describe_error(exc)
        self.unreadable_nights[day] = reason
        self._refresh_night_picker()
        shown = f"still showing the night of {self.night_shown}" if self.night_shown else "nothing else is open"
        self.messages.show_error(f"The night of {day} cannot be opened: {reason}; {shown}.")

    @catch_errors
    def _on_param_change(self, change: dict) -> None:
        self._sync_method_controls()
        if self._loading:
            self._params_changed_while_loading = True
            return
        if self.recording is None:
            return
        self._runner.expect_work()
        self._debouncer.trigger()

    def _rerun(self) -> None:
        rec = self.recording
        if self._loading or rec is None:
            self._params_changed_while_loading = self._loading
            return
        method, params = self.method.value, self.params
        self.messages.show_info("Analysing with the new parameters ...")

        device_data = self.device_data

        def done(result) -> None:
            result_analysis, self.comparison = result
            self.analysis = result_analysis
            self.messages.show_success(
                f"Re-analysed: {result_analysis.breath_count} breaths, {result_analysis.apnea_count} apneas, "
                f"{result_analysis.hypopnea_count} hypopnea candidates."
            )

        self._start(lambda: _analyse(rec, device_data, method, params), done, "The analysis")

    # ------------------------------------------------------------------ showing results
    def _show_results(self, change: dict) -> None:
        result = change["new"]
        same_recording = (
            change["old"] is not None and result is not None and change["old"].recording is result.recording
        )
        self.summary.value = self._summary_html(result)
        self._draw(keep_view=same_recording)
        self._fill_event_picker(result)
        self._show_comparison()
        self._show_downloads(prepare_large=False)

    @catch_errors
    def _show_downloads(self, *, prepare_large: bool) -> None:
        """Data-URI links to the CSV files; a long breaths table only on request.

        An 8-hour night has about 7,000 breaths (a 0.5 MB CSV): sending it with
        every re-analysis would slow the sliders, so it waits for a click.
        """
        result = self.analysis
        if result is None:
            self.downloads.value = ""
            self.prepare_csv_button.layout.display = "none"
            return
        stem = Path(os.path.basename(result.recording.source)).stem or "recording"
        rows = len(result.breaths)
        large = rows > MAX_INLINE_CSV_ROWS and not prepare_large
        links = (
            "" if large else _csv_link(self._export("breaths"), f"{stem}_breaths.csv", f"Breaths ({rows:,} rows, CSV)")
        )
        links += _csv_link(self._export("events"), f"{stem}_events.csv", f"Events ({len(result.events):,} rows, CSV)")
        note = export_note(result.recording.start_time)
        self.downloads.value = f'{links}<span class="cpap-export-note" style="color:#555">{escape(note)}</span>'

        self.prepare_csv_button.description = f"Prepare breaths CSV ({rows:,} rows)"
        self.prepare_csv_button.layout.display = None if large else "none"

    @catch_errors
    def _draw(self, keep_view: bool) -> None:
        result = self.analysis
        if result is None:
            self.chart.clear()
            return
        rec = result.recording
        flow = rec.flow_lps if self.show_raw.value else result.flow_clean_lps
        self.chart.set_data(
            rec,
            flow_lps=flow,
            breaths_peak_s=result.breaths["peak_s"].to_numpy(),
            events=result.events,
            device_events=device_event_spans(self.device_data),
            device_events_note=self.device_events_note,
            keep_view=keep_view,
        )

    def _show_comparison(self) -> None:
        if self.device_data is None or self.analysis is None:
            self.comparison_box.layout.display = "none"
            self.comparison_view.value = ""
            return
        self.comparison_box.layout.display = None
        if isinstance(self.comparison, str):
            self.comparison_view.value = f'<span style="color:#8b0000">{escape(self.comparison)}</span>'
        else:
            self.comparison_view.value = comparison_html(self.comparison, events_note=self.device_events_note)

    def _fill_event_picker(self, result) -> None:
        """The events table (a list with one row per event the chart shows, in the chart's order)."""
        events = self.chart.events if result is not None else self.chart.events.iloc[0:0]
        options = [(self._event_row(i, row), i) for i, row in enumerate(events.itertuples(index=False))]
        with self.event_picker.hold_trait_notifications():
            self.event_picker.options = options
            self.event_picker.value = None
        ours = int((events["source"] == "ours").sum())
        device = f", {len(events) - ours} scored by the device" if (events["source"] == "device").any() else ""
        note = f"; {escape(self.device_events_note)}" if self.device_events_note else ""
        head = f"{'time':<9} {'source':<7} {'type':<28} {'duration':>8}  drop" if options else ""
        self.events_header.value = (
            f"<b>Events</b> <span style='color:#555'>({ours} ours{device}{note}; click a row to zoom to it)</span>"
            + (
                f"<pre class='cpap-event-head' style='margin:2px 0 0 4px;font-size:12px;font-family:monospace'>{escape(head)}</pre>"
                if head
                else ""
            )
            if result is not None
            else ""
        )
        self.event_picker.layout.display = None if options else "none"

    def _event_row(self, index: int, row) -> str:
        kind = str(row.label if row.source == "device" else ("apnea" if row.kind == "apnea" else "hypopnea candidate"))
        ratio = float(getattr(row, "amplitude_ratio", float("nan")))
        drop = f"{100 * (1 - ratio):3.0f} %" if math.isfinite(ratio) else "  n/a"
        source = "device" if row.source == "device" else "ours"
        return (
            f"{self.chart.clock_label(row.start_s):<9} {source:<7} {kind[:28]:<28} "
            f"{row.end_s - row.start_s:6.1f} s  {drop}"
        )

    @catch_errors
    def _on_event_picked(self, change: dict) -> None:
        index = change["new"]
        if index is None or not 0 <= index < len(self.chart.events):
            return
        row = self.chart.events.iloc[index]
        self.chart.zoom_to_event(float(row["start_s"]), float(row["end_s"]))

    def _on_chart_event_click(self, index: int) -> None:
        """A click on an event's mark in the chart selects its row in the table."""
        if self.event_picker.value != index and 0 <= index < len(self.event_picker.options):
            self.event_picker.value = index

    @staticmethod
    def _summary_html(result) -> str:
        if result is None:
            return '<span style="color:#666">Open a recording to see its analysis.</span>'
        d = result.to_dict()
        apnea_style = "color:#c62828;font-weight:bold" if d["apnea_count"] >= 2 else ""
        severity_colour = {"normal": "#1b5e20", "mild": "#7a4f01", "moderate": "#b34700", "severe": "#c62828"}
        skipped = str(d["skipped_rows"])
        if d["skipped_rows"]:
            skipped += f" (lines {', '.join(map(str, d['skipped_lines']))}"
            skipped += ", ...)" if d["skipped_rows"] > len(d["skipped_lines"]) else ")"
        rows = [
            ("Recording", escape(d["source"])),
            ("Length", f"{d['duration_s'] / 60:.1f} min, {d['samples']:,} samples at {d['fs_hz']:g} Hz"),
            ("Skipped rows", escape(skipped)),
            ("Breaths", f"{d['breath_count']:,}"),
            ("Breath rate", _fmt(d["breath_rate_bpm"], ".1f", "breaths/min")),
            ("Apneas", f'<span class="cpap-apnea-count" style="{apnea_style}">{d["apnea_count"]}</span>'),
            ("Hypopnea candidates", str(d["hypopnea_count"])),
            ("Apnea index", _fmt(d["apnea_index"], ".1f", "/h")),
            ("AHI", _fmt(d["ahi"], ".1f", "/h")),
            (
                "Severity",
                (
                    f'<span style="color:{severity_colour.get(d["severity"], "#000")};font-weight:bold">'
                    f"{escape(d['severity'])}</span>"
                ),
            ),
            ("Tidal volume", _fmt(d["tidal_volume_l"], ".3f", "L")),
            ("Minute ventilation", _fmt(d["minute_ventilation_lpm"], ".2f", "L/min")),
            ("Mean leak", _fmt(d["leak_lpm"], ".3f", "L/min")),
            ("Method", escape(METHOD_LABELS.get(d["method"], d["method"]))),
        ]
        body = "".join(
            f'<tr><td style="padding:1px 12px 1px 0;color:#555">{k}</td><td class="cpap-summary-{k.lower().replace(" ", "-")}">{v}</td></tr>'
            for k, v in rows
        )
        return f'<table class="cpap-summary">{body}</table>'

    # ------------------------------------------------------------------ upload
    @catch_errors
    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        items = [(str(item.get("name", "upload")), bytes(item.get("content", b""))) for item in files]
        self.upload.value = ()
        self.open_files(items)
