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
  events (data-URI links: they work offline).

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
import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from ... import analysis as _analysis
from ...analysis.compare import compare
from ...errors import CpapError, ParameterError
from ...io import read_device_data, read_recording
from ...io.lab_text import read_lab_file
from ...paths import SAMPLE_DATA_DIR
from ...recording import Recording
from ..runtime.voila_app import max_upload_bytes
from ..widgets.charts import FlowChart
from ..widgets.common import (
    Debouncer,
    LatestWins,
    MessageBar,
    catch_errors,
    escape,
    log_to_server_console,
)
from ..widgets.device_comparison import comparison_html, device_event_spans

__all__ = ["DEFAULT_SAMPLE_DIR", "MAX_UPLOAD_BYTES", "PARAM_LABELS", "SignalExplorer", "list_samples"]

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


def _read_path(path: str | os.PathLike) -> tuple[Recording, Any]:
    """Read a recording; device data (EDF file or folder) also keep the device's scoring.

    Returns
    -------
    (Recording, DeviceSession or DeviceNight or None)
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".edf":
        data = read_device_data(path)
        return data.recording, data
    return read_recording(path), None


def _read_upload(name: str, content: bytes) -> tuple[Recording, Any]:
    """Read an uploaded file: lab text from memory, EDF through a temporary file."""
    if name.lower().endswith(".edf"):
        with tempfile.TemporaryDirectory(prefix="cpap-upload-") as tmp:
            path = Path(tmp) / Path(name).name
            path.write_bytes(content)
            return _read_path(path)
    stream = io.BytesIO(content)
    stream.name = name
    return read_lab_file(stream), None


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


def _csv_link(frame: pd.DataFrame, filename: str, label: str) -> str:
    data = base64.b64encode(frame.to_csv(index=False, float_format="%.4f").encode("utf-8")).decode("ascii")
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
    chart : FlowChart
        The flow chart.
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
        self._event_spans: list[tuple[float, float]] = []
        self.device_data: Any = None
        """The device's own data (DeviceSession / DeviceNight) when the recording came from a ResMed device."""
        self.comparison: Any = None
        """Our analysis against the device's scoring (a Comparison), or the sentence saying why there is none."""
        self._loading = False
        self._params_changed_while_loading = False
        self._runner = LatestWins(timeout_s=self.timeout_s, on_busy=lambda busy: setattr(self, "busy", busy))

        self.messages = MessageBar()
        self._build_sources()
        self._build_params()
        self.summary = widgets.HTML(self._summary_html(None), layout=widgets.Layout(flex="1 1 auto"))
        self.chart = FlowChart("Flow", max_points=max_points, png_name="flow.png")
        self.show_raw = widgets.ToggleButtons(
            options=[("Cleaned flow", False), ("Raw flow", True)], value=False,
            tooltips=["The low-passed flow the breaths were found in", "The flow as read from the file"],
            style={"button_width": "110px"},
        )
        self.show_raw.observe(lambda _: self._draw(keep_view=True), names="value")
        self.events_table = widgets.HTML(self._events_html(None))
        self.event_picker = widgets.Dropdown(options=[("(choose an event)", -1)], value=-1, description="Zoom to",
                                             layout=widgets.Layout(width="380px"))
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
            '<h2 style="margin:4px 0">Signal explorer</h2><p style="margin:0 0 6px;color:#444">'
            "Open a recording (a sample, a path on the server, or an upload), pan and zoom its flow, "
            "tune the analysis and export breaths and events as CSV.</p>"
        )
        controls = widgets.VBox(
            [widgets.HTML("<b>Analysis</b>"), self.method, *self.sliders.values(), self.reset_params_button],
            layout=widgets.Layout(width="440px", min_width="360px"),
        )
        results = widgets.VBox(
            [widgets.HTML("<b>Summary</b>"), self.summary],
            layout=widgets.Layout(flex="1 1 auto", margin="0 0 0 24px"),
        )
        events_box = widgets.VBox(
            [widgets.HTML("<b>Events</b>"), self.event_picker, self.events_table,
             widgets.HTML("<b>Export</b>"), widgets.HBox([self.prepare_csv_button, self.downloads])],
        )
        super().__init__(
            [title, self.sources, self.messages, widgets.HBox([controls, results]),
             self.show_raw, self.chart, events_box, self.comparison_box],
            **kwargs,
        )
        self.add_class("cpap-explorer")
        self.observe(self._show_results, names="analysis")

    # ------------------------------------------------------------------ building
    def _build_sources(self) -> None:
        samples = list_samples(self.sample_dir)
        self.sample_picker = widgets.Dropdown(
            options=samples or ["(no samples found)"], description="Sample",
            layout=widgets.Layout(width="360px"), disabled=not samples,
        )
        self.open_sample_button = widgets.Button(description="Open sample", icon="folder-open",
                                                 disabled=not samples)
        self.open_sample_button.on_click(lambda _: self.open_sample(self.sample_picker.value))
        self.path_text = widgets.Text(
            placeholder="/path/to/night.txt, *_BRP.edf, DATALOG/<date> or SD-card folder",
            description="Path", layout=widgets.Layout(width="520px"),
        )
        self.open_path_button = widgets.Button(description="Open path", icon="folder-open")
        self.open_path_button.on_click(lambda _: self.open_path(self.path_text.value))
        self.upload = widgets.FileUpload(accept=".txt,.csv,.edf", multiple=False, description="Upload")
        self.upload.observe(self._on_upload, names="value")
        limit = f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB"
        self.upload_note = widgets.HTML(
            f'<span style="color:#555">A lab text file or one *_BRP.edf, up to {limit}. '
            "Bigger files (an 8-hour night is about 110 MB): open them by path.</span>"
        )
        self.sources = widgets.VBox(
            [
                widgets.HBox([self.sample_picker, self.open_sample_button]),
                widgets.HBox([self.path_text, self.open_path_button]),
                widgets.HBox([self.upload, self.upload_note]),
            ]
        )

    def _build_params(self) -> None:
        self.method = widgets.Dropdown(
            options=[(METHOD_LABELS.get(m, m), m) for m in _analysis.METHODS], value="amplitude",
            description="Method", style={"description_width": "150px"}, layout=widgets.Layout(width="420px"),
        )
        self.method.add_class("cpap-method")
        self.sliders: dict[str, widgets.FloatSlider] = {}
        for name, default in _analysis.DEFAULT_PARAMS.items():
            lo, hi = _analysis.PARAM_RANGES[name]
            label, tooltip = PARAM_LABELS.get(name, (name, name))
            step = 10 ** math.floor(math.log10((hi - lo) / 200)) if hi > lo else 0.01
            decimals = max(0, -math.floor(math.log10(step)))
            slider = widgets.FloatSlider(
                value=default, min=lo, max=hi, step=step, readout_format=f".{decimals}f",
                description=label, tooltip=tooltip, continuous_update=False,
                style={"description_width": "150px"}, layout=widgets.Layout(width="420px"),
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
        self._load(lambda: _read_path(self.sample_dir / name), name)

    @catch_errors
    def open_path(self, path: str | os.PathLike) -> None:
        """Open a recording by path (a lab file, a *_BRP.edf, a DATALOG/<date> folder, a card root)."""
        text = str(path).strip()
        if not text:
            self.messages.show_error("Enter the path of a recording first.")
            return
        full = Path(os.path.expanduser(text))
        self._load(lambda: _read_path(full), full.name or text)

    @catch_errors
    def open_bytes(self, name: str, content: bytes) -> None:
        """Open an uploaded file's content (what the upload button does)."""
        if len(content) > MAX_UPLOAD_BYTES:
            self.messages.show_error(
                f"{name} is {len(content) / 2**20:.0f} MB; uploads are limited to "
                f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB. Open it by path instead."
            )
            return
        data = bytes(content)
        self._load(lambda: _read_upload(name, data), name)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until pending reads and analyses have finished (for scripts and tests)."""
        if not self._debouncer.flush(timeout):
            return False
        return self._runner.wait_idle(timeout)

    def breaths_csv(self) -> str:
        """The breaths table of the latest analysis as CSV text."""
        return self._require_analysis().breaths.to_csv(index=False, float_format="%.4f")

    def events_csv(self) -> str:
        """The events table of the latest analysis as CSV text."""
        return self._require_analysis().events.to_csv(index=False, float_format="%.4f")

    def _require_analysis(self):
        if self.analysis is None:
            raise ParameterError("analysis", "open a recording first")
        return self.analysis

    # ------------------------------------------------------------------ background work
    def _start(self, fn, on_done, what: str, on_finish=None) -> None:
        """Run ``fn`` in the background; only the latest started work may show its result."""
        self._runner.start(fn, on_done=on_done, on_error=self.messages.show_error, on_finish=on_finish, name=what)

    def _load(self, read, name: str) -> None:
        self._debouncer.cancel()
        self.messages.show_info(f"Opening {name} ...")
        method, params = self.method.value, self.params
        self._loading = True
        self._params_changed_while_loading = False

        def work():
            rec, device_data = read()
            return (rec, device_data, *_analyse(rec, device_data, method, params))

        def done(result) -> None:
            rec, device_data, result_analysis, comparison = result
            self.recording, self.device_data, self.comparison = rec, device_data, comparison
            self.analysis = result_analysis
            self._report_opened(rec)

        def finished() -> None:
            self._loading = False
            if self._params_changed_while_loading and self.recording is not None:
                self._params_changed_while_loading = False
                self._runner.expect_work()
                self._debouncer.trigger()

        self._start(work, done, f"Opening {name}", on_finish=finished)

    def _report_opened(self, rec: Recording) -> None:
        text = f"Opened {os.path.basename(rec.source)}: {rec.duration_s / 60:.1f} min at {rec.fs_hz:g} Hz."
        if rec.skipped_rows:
            lines = ", ".join(map(str, rec.skipped_lines))
            more = ", ..." if rec.skipped_rows > len(rec.skipped_lines) else ""
            self.messages.show_warning(f"{text} {rec.skipped_rows} malformed rows were skipped (lines {lines}{more}).")
        else:
            self.messages.show_success(text)

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
        same_recording = change["old"] is not None and result is not None and change["old"].recording is result.recording
        self.summary.value = self._summary_html(result)
        self.events_table.value = self._events_html(result)
        self._fill_event_picker(result)
        self._draw(keep_view=same_recording)
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
        links = "" if large else _csv_link(result.breaths, f"{stem}_breaths.csv", f"Breaths ({rows:,} rows, CSV)")
        links += _csv_link(result.events, f"{stem}_events.csv", f"Events ({len(result.events):,} rows, CSV)")
        self.downloads.value = links
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
            rec.time_s, flow, breaths_peak_s=result.breaths["peak_s"].to_numpy(), events=result.events,
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
            self.comparison_view.value = comparison_html(self.comparison)

    def _fill_event_picker(self, result) -> None:
        options: list[tuple[str, int]] = [("(choose an event)", -1)]
        spans: list[tuple[float, float]] = []
        if result is not None:
            for row in result.events.itertuples(index=False):
                options.append((f"{len(spans) + 1}. {row.kind} {row.start_s:.1f}-{row.end_s:.1f} s", len(spans)))
                spans.append((float(row.start_s), float(row.end_s)))
            for row in device_event_spans(self.device_data).itertuples(index=False):
                options.append((f"device: {row.label} {row.start_s:.1f}-{row.end_s:.1f} s", len(spans)))
                spans.append((float(row.start_s), float(row.end_s)))
        self._event_spans = spans
        self.event_picker.options = options
        self.event_picker.value = -1

    @catch_errors
    def _on_event_picked(self, change: dict) -> None:
        index = change["new"]
        if index is None or index < 0 or index >= len(self._event_spans):
            return
        start, end = self._event_spans[index]
        margin = max(20.0, 0.5 * (end - start))
        self.chart.zoom(start - margin, end + margin)

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
            ("Severity", (f'<span style="color:{severity_colour.get(d["severity"], "#000")};font-weight:bold">'
                          f'{escape(d["severity"])}</span>')),
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

    @staticmethod
    def _events_html(result, max_rows: int = 200) -> str:
        if result is None or result.events.empty:
            return '<span style="color:#666">No apneas or hypopnea candidates.</span>' if result is not None else ""
        ev = result.events
        head = "".join(f"<th style='text-align:left;padding:2px 10px'>{h}</th>"
                       for h in ("#", "kind", "start (s)", "end (s)", "duration (s)", "amplitude ratio"))
        rows = []
        for i, row in enumerate(ev.head(max_rows).itertuples(index=False)):
            colour = "#c62828" if row.kind == "apnea" else "#b36b00"
            ratio = getattr(row, "amplitude_ratio", float("nan"))
            rows.append(
                f"<tr><td style='padding:1px 10px'>{i + 1}</td><td style='padding:1px 10px;color:{colour}'>{escape(row.kind)}</td>"
                f"<td style='padding:1px 10px'>{row.start_s:.1f}</td><td style='padding:1px 10px'>{row.end_s:.1f}</td>"
                f"<td style='padding:1px 10px'>{row.duration_s:.1f}</td><td style='padding:1px 10px'>{_fmt(float(ratio), '.2f')}</td></tr>"
            )
        more = f"<p>{len(ev) - max_rows} more in the CSV export.</p>" if len(ev) > max_rows else ""
        return (
            f'<div style="max-height:260px;overflow-y:auto"><table class="cpap-events">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"
        )

    # ------------------------------------------------------------------ upload
    @catch_errors
    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = str(item.get("name", "upload"))
        content = item.get("content", b"")
        self.upload.value = ()
        self.open_bytes(name, bytes(content))
