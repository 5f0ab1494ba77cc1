"""The bedside station: a stand-in for a CPAP device at the patient's bed.

Enter the patient's name, MRN, room and CPAP pressure (whole cmH2O 4-25,
checked as typed); choose a recording by upload or from ``sample_data/``;
see its breath rate, apnea count (red from 2), apnea index and the flow with
breaths marked and apneas shaded; upload it as a measurement.

- Upload needs MRN and room; after the first upload both stay visible but
  locked. A changed name is sent with the next upload and replaces the stored one.
- Every ``poll_s`` seconds (30 or less) the station asks the server for a
  commanded pressure and, when staff sent a new one, puts it in the pressure
  field; later uploads use it.
- Opened for a room (``?room=N``), the station fills in the patient already
  admitted there (MRN and name from the server).
- Errors of a field stay next to it until its value changes; Enter in any
  field uploads (when the form is complete).
- Reset asks first; it clears every field and result, unlocks MRN and room
  and keeps the room the page was opened for; a load or upload still running
  for the previous patient is dropped (:class:`~..widgets.common.LatestWins`).
- A file that cannot be read leaves the last good recording shown and
  uploadable, and says so.
- "Save PNG" names the room, MRN and lab clock time, at print resolution.

Reading, analysis and network calls run in background threads with deadlines.

Examples
--------
>>> from cpap_lib.dashboard.pages.bedside import room_from_query, sample_files
>>> room_from_query("room=12&x=1"), room_from_query("room=abc"), room_from_query(None)
(12, None, None)
>>> [p.name for p in sample_files()][:1]
['fast_breathing.txt']
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as widgets

from ...clock import format_clock
from ...errors import CpapError, NotFoundError, ParameterError, RecordingError
from ...paths import SAMPLE_DATA_DIR
from ..runtime.connection import client_from_env
from ..runtime.poller import Poller, refresh_interval_s
from ..runtime.voila_app import max_upload_bytes
from ..widgets.charts import FlowChart
from ..widgets.common import LatestWins, MessageBar, describe_error, escape, run_in_background
from ..widgets.fields import (
    PRESSURE_MAX_CMH2O,
    PRESSURE_MIN_CMH2O,
    on_enter,
    parse_mrn,
    parse_pressure,
    parse_room,
    png_filename,
)
from ..widgets.theme import ALERT_COLOR, error_page, page_header, style_widget
from .overview import APNEA_ALERT_COUNT

__all__ = ["BedsideStation", "build_bedside", "room_from_query", "sample_files", "SAMPLE_DIR", "TRACE_POINTS"]

log = logging.getLogger(__name__)

SAMPLE_DIR = SAMPLE_DATA_DIR
TRACE_POINTS = 2000
"""Points of the decimated flow trace sent with each upload."""
ANALYSIS_TIMEOUT_S = 120.0
UPLOAD_TIMEOUT_S = 30.0
NO_SAMPLE = ("— choose a sample —", "")


def room_from_query(query: str | None) -> int | None:
    """The ``room`` parameter of a page's query string, if it is a valid room number."""
    if not query:
        return None
    values = parse_qs(query.lstrip("?")).get("room")
    if not values:
        return None
    try:
        return parse_room(values[0])
    except ParameterError:
        return None


def sample_files(directory: Path = SAMPLE_DIR) -> list[Path]:
    """The lab recordings in ``sample_data/`` (``*.txt``), by name."""
    return sorted(directory.glob("*.txt")) if directory.is_dir() else []


def _read_and_analyze(source: Path | tuple[str, bytes]) -> Any:
    from ...analysis import analyze
    from ...io.lab_text import read_lab_file

    if isinstance(source, Path):
        recording = read_lab_file(source)
    else:
        name, content = source
        stream = io.BytesIO(content)
        stream.name = name
        recording = read_lab_file(stream)
    return analyze(recording)


class BedsideStation(widgets.VBox):
    """The bedside form, results and chart.

    Parameters
    ----------
    client : CpapClient
        The API client.
    room : int, optional
        Room to fill in (e.g. from the page's ``?room=`` query string).
    poll_s : float, optional
        Seconds between polls for a commanded pressure; ``CPAP_REFRESH_S`` or 5 s.
    autostart : bool
        Start polling at once.

    Attributes
    ----------
    analysis : Analysis or None
        The analysis of the chosen recording.
    locked : bool
        Whether MRN and room are locked (after the first upload).
    uploads : int
        Successful uploads since the last reset.
    """

    def __init__(
        self,
        client: Any,
        *,
        room: int | None = None,
        poll_s: float | None = None,
        autostart: bool = True,
        **kwargs: Any,
    ):
        self.client = client
        self.poll_s = refresh_interval_s() if poll_s is None else float(poll_s)
        self.analysis: Any = None
        self.initial_room = room
        self.locked = False
        self.uploads = 0
        self._seen_command: dict[int, int] = {}
        self._lock = threading.RLock()
        self._runner = LatestWins(lock=self._lock)
        self.messages = MessageBar()

        wide = {"description_width": "110px"}
        self.name_input = widgets.Text(description="Patient name", style=wide, layout=widgets.Layout(width="340px"))
        self.mrn_input = widgets.Text(
            description="MRN", placeholder="e.g. A1234", style=wide, layout=widgets.Layout(width="340px")
        )
        self.room_input = widgets.Text(
            description="Room",
            placeholder="e.g. 12",
            style=wide,
            layout=widgets.Layout(width="340px"),
            value="" if room is None else str(room),
        )
        self.pressure_input = widgets.Text(
            description="Pressure",
            value="8",
            style=wide,
            placeholder=f"{PRESSURE_MIN_CMH2O}–{PRESSURE_MAX_CMH2O} cmH2O",
            layout=widgets.Layout(width="340px"),
        )
        for field, css in (
            (self.name_input, "cpap-name-input"),
            (self.mrn_input, "cpap-mrn-input"),
            (self.room_input, "cpap-room-input"),
            (self.pressure_input, "cpap-pressure-input"),
        ):
            field.add_class(css)
        self.pressure_input.observe(self._on_pressure_typed, names="value")
        self.pressure_error = MessageBar()
        self.pressure_error.add_class("cpap-pressure-error")
        for field in (self.name_input, self.mrn_input, self.room_input, self.pressure_input):
            on_enter(field, self._submit)
        self.room_input.observe(self._on_room_typed, names="value")
        self.mrn_input.observe(self._on_mrn_typed, names="value")
        self.lock_note = widgets.HTML()

        limit_mb = max_upload_bytes() / 2**20
        self.file_upload = widgets.FileUpload(
            accept=".txt,.csv", multiple=False, description="Upload recording", layout=widgets.Layout(width="190px")
        )
        self.file_upload.add_class("cpap-file-upload")
        self.file_upload.observe(self._on_file_chosen, names="value")
        samples = sample_files()
        self.sample_select = widgets.Dropdown(
            options=[NO_SAMPLE] + [(p.name, str(p)) for p in samples],
            value="",
            description="or a sample",
            layout=widgets.Layout(width="320px"),
        )
        self.sample_select.add_class("cpap-sample-select")
        self.sample_select.observe(self._on_sample_chosen, names="value")
        upload_hint = widgets.HTML(
            f'<div class="cpap-hint">Lab text files (100 Hz venturi) up to {limit_mb:.0f} MB. '
            "Larger recordings (a whole night is about 110 MB): open them with the signal explorer by path.</div>"
        )

        self.results = widgets.HTML()
        self.results.add_class("cpap-bedside-results")
        self.chart = FlowChart("Flow", height="300px", png_name="bedside_flow.png", layout=widgets.Layout(width="100%"))

        self.upload_button = widgets.Button(
            description="Upload measurement",
            button_style="primary",
            icon="upload",
            disabled=True,
            layout=widgets.Layout(width="210px"),
        )
        self.upload_button.add_class("cpap-upload")
        self.upload_button.on_click(self._on_upload)
        self.reset_button = widgets.Button(
            description="Reset",
            button_style="warning",
            icon="undo",
            tooltip="Clear every field and result; unlock MRN and room",
            layout=widgets.Layout(width="120px"),
        )
        self.reset_button.add_class("cpap-reset")
        self.reset_button.on_click(lambda _: self.ask_reset())
        self.confirm_reset_button = widgets.Button(
            description="Yes, clear", button_style="danger", layout=widgets.Layout(width="120px")
        )
        self.confirm_reset_button.add_class("cpap-reset-confirm")
        self.confirm_reset_button.on_click(lambda _: self.reset())
        self.cancel_reset_button = widgets.Button(description="No, keep", layout=widgets.Layout(width="120px"))
        self.cancel_reset_button.add_class("cpap-reset-cancel")
        self.cancel_reset_button.on_click(lambda _: self._hide_reset_question())
        self.reset_question = widgets.HBox(
            [
                widgets.HTML(
                    '<span class="cpap-reset-question">Clear every field and the recording for the next patient?</span>'
                ),
                self.confirm_reset_button,
                self.cancel_reset_button,
            ],
            layout=widgets.Layout(display="none", align_items="center", grid_gap="8px"),
        )
        self.reset_question.add_class("cpap-reset-ask")

        form = widgets.VBox(
            [
                widgets.HTML('<div class="cpap-section-title">Patient and device</div>'),
                self.name_input,
                self.mrn_input,
                self.room_input,
                self.pressure_input,
                self.pressure_error,
                self.lock_note,
            ],
            layout=widgets.Layout(width="380px", min_width="380px"),
        )
        form.add_class("cpap-panel")
        recording = widgets.VBox(
            [
                widgets.HTML('<div class="cpap-section-title">Recording</div>'),
                widgets.HBox([self.file_upload, self.sample_select]),
                upload_hint,
                self.results,
                widgets.HBox([self.upload_button, self.reset_button]),
                self.reset_question,
            ],
            layout=widgets.Layout(flex="1 1 0", min_width="0"),
        )
        recording.add_class("cpap-panel")
        super().__init__(
            [
                self.messages,
                widgets.HBox([form, recording], layout=widgets.Layout(width="100%", grid_gap="12px")),
                self.chart,
            ],
            **kwargs,
        )
        self.add_class("cpap-bedside")
        self._show_results()
        self.poller = Poller(self.poll_pressure, self.poll_s, name="pressure-poll")
        if room is not None:
            self.fill_admitted_patient(room)
        if autostart:
            self.poller.start()

    # -------------------------------------------------- admitted patient
    def fill_admitted_patient(self, room: int) -> None:
        """Fill MRN and name with the patient admitted to ``room`` (in the background; typed values win)."""
        run_in_background(
            functools.partial(self.client.room_patient, room),
            on_done=functools.partial(self._admitted_patient, room),
            on_error=lambda exc: (
                None
                if isinstance(exc, NotFoundError)
                else self.messages.show_warning(f"The patient of room {room} could not be looked up: {exc}")
            ),
            timeout_s=UPLOAD_TIMEOUT_S,
            name="Looking up the room's patient",
        )

    def _admitted_patient(self, room: int, patient: Any) -> None:
        with self._lock:
            if patient.mrn is None or self.room_input.value.strip() != str(room):
                return
            if not self.mrn_input.value.strip():
                self.mrn_input.value = patient.mrn
            if not self.name_input.value.strip() and patient.name:
                self.name_input.value = patient.name
            self.messages.show_info(
                f"Room {room}: {patient.name or 'patient'} (MRN {patient.mrn}) is admitted here; "
                "uploads go to this patient."
            )

    # ------------------------------------------------------------- typing
    def _on_pressure_typed(self, change: dict) -> None:
        """Check as typed; an error stays next to the field until the value changes."""
        try:
            parse_pressure(change["new"])
        except ParameterError as exc:
            self.pressure_input.add_class("cpap-invalid")
            self.pressure_error.show_error(f"Pressure not accepted: {_reason(exc)}.")
        else:
            self.pressure_input.remove_class("cpap-invalid")
            self.pressure_error.clear()
        self._update_upload_button()

    def _submit(self) -> None:
        """Enter in a field: upload when the form is complete, else say what is missing."""
        if not self.upload_button.disabled:
            self._on_upload()
        else:
            self.messages.show_error("Not uploaded: " + "; ".join(self._form_problems()) + ".")

    def _on_room_typed(self, change: dict) -> None:
        self._mark_field(self.room_input, parse_room, change["new"])
        self._update_upload_button()
        if change["new"].strip():
            self.poller.poke()

    def _on_mrn_typed(self, change: dict) -> None:
        self._mark_field(self.mrn_input, parse_mrn, change["new"])
        self._update_upload_button()

    @staticmethod
    def _mark_field(field: widgets.Text, parse: Any, text: str) -> None:
        if not text.strip():
            field.remove_class("cpap-invalid")
            return
        try:
            parse(text)
        except ParameterError:
            field.add_class("cpap-invalid")
        else:
            field.remove_class("cpap-invalid")

    def _form_problems(self) -> list[str]:
        problems = []
        for parse, field in (
            (parse_mrn, self.mrn_input),
            (parse_room, self.room_input),
            (parse_pressure, self.pressure_input),
        ):
            try:
                parse(field.value)
            except ParameterError as exc:
                problems.append(str(exc))
        if self.analysis is None:
            problems.append("recording: choose a recording file or a sample")
        return problems

    def _update_upload_button(self) -> None:
        problems = self._form_problems()
        self.upload_button.disabled = bool(problems)
        self.upload_button.tooltip = "; ".join(problems) if problems else "Send this measurement to the ward"

    # ---------------------------------------------------------- recording
    def _on_file_chosen(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name, content = item["name"], bytes(item["content"])
        if len(content) > max_upload_bytes():
            self.messages.show_error(
                f"{name} is {len(content) / 2**20:.0f} MB; the largest upload is {max_upload_bytes() / 2**20:.0f} MB."
            )
            return
        self._load((name, content), name)

    def _on_sample_chosen(self, change: dict) -> None:
        if not change["new"]:
            return
        path = Path(change["new"])
        self._load(path, path.name)

    def load_path(self, path: str | Path) -> None:
        """Read and analyze the lab file at ``path`` (in the background)."""
        path = Path(path)
        self._load(path, path.name)

    def _load(self, source: Path | tuple[str, bytes], name: str) -> None:
        """Read and analyze in the background; the recording shown stays until the new one is good."""
        with self._lock:
            self.upload_button.disabled = True  # until the new recording is analyzed (or failed: the last good one)
            self.messages.show_info(f"Analyzing {name}…")
            self._runner.start(
                functools.partial(_read_and_analyze, source),
                on_done=self._analyzed,
                on_error=functools.partial(self._failed, f"{name} could not be analyzed"),
                timeout_s=ANALYSIS_TIMEOUT_S,
                name=f"Analyzing {name}",
            )

    def _analyzed(self, analysis: Any) -> None:
        rec = analysis.recording
        self.chart.png_name = png_filename(
            "bedside",
            room=_room_or_none(self.room_input.value),
            mrn=self.mrn_input.value.strip() or None,
            when=datetime.now(UTC),
        )
        self.chart.figure.title = f"{Path(rec.source).name} · read {format_clock(datetime.now(UTC), date=True)}"
        self.chart.set_data(
            rec.time_s,
            analysis.flow_clean_lps,
            breaths_peak_s=analysis.breaths["peak_s"].to_numpy(),
            events=analysis.events,
        )
        self._show_results(analysis)
        skipped = f" ({rec.skipped_rows} malformed rows skipped)" if rec.skipped_rows else ""
        self.messages.show_success(
            f"{Path(rec.source).name}: {analysis.breath_count} breaths, {analysis.apnea_count} apneas{skipped}."
        )
        self.analysis = analysis  # last: whoever waits for it sees the whole page updated
        self._update_upload_button()

    def _failed(self, what: str, exc: BaseException) -> None:
        text = describe_error(exc) if isinstance(exc, RecordingError) else f"{what}: {describe_error(exc)}"
        if self.analysis is not None and not what.startswith("The measurement"):
            kept = Path(self.analysis.recording.source).name
            text = f"{text.rstrip('.')}. Still showing {kept}, the last good recording."
        self.messages.show_error(text)
        self._update_upload_button()

    def _show_results(self, a: Any = None) -> None:
        if a is None:
            self.results.value = '<div class="cpap-hint">No recording yet.</div>'
            return
        alert = a.apnea_count >= APNEA_ALERT_COUNT
        apnea_attrs = (
            f' class="cpap-bedside-apneas cpap-alert" style="color:{ALERT_COLOR}"'
            if alert
            else ' class="cpap-bedside-apneas"'
        )
        facts = (
            ("Recording", escape(Path(a.recording.source).name)),
            ("Length", f"{a.recording.duration_s / 60:.1f} min"),
            ("Breath rate", f'<span class="cpap-bedside-rate">{a.to_dict()["breath_rate_bpm"]:.1f}</span> /min'),
            ("Apneas", f"<span{apnea_attrs}>{a.apnea_count}</span>"),
            ("Apnea index", f"{a.apnea_index:.1f} /h"),
        )
        self.results.value = (
            '<div class="cpap-facts">'
            + "".join(
                f'<div><div class="cpap-fact-label">{label}</div><div class="cpap-fact-value">{value}</div></div>'
                for label, value in facts
            )
            + "</div>"
        )

    # ------------------------------------------------------------- upload
    def _on_upload(self, _button: Any = None) -> None:
        problems = self._form_problems()
        if problems:
            self.messages.show_error("Not uploaded: " + "; ".join(problems) + ".")
            return
        room, mrn = parse_room(self.room_input.value), parse_mrn(self.mrn_input.value)
        cmh2o = parse_pressure(self.pressure_input.value)
        name = self.name_input.value.strip() or None
        analysis = self.analysis
        self.upload_button.disabled = True
        self.messages.show_info(f"Uploading to room {room}…")
        self._runner.start(
            functools.partial(self._upload_now, room, mrn, name, cmh2o, analysis),
            on_done=functools.partial(self._uploaded, room, mrn, cmh2o),
            on_error=functools.partial(self._failed, "The measurement was not uploaded"),
            timeout_s=UPLOAD_TIMEOUT_S,
            name="The upload",
        )

    def _upload_now(self, room: int, mrn: str, name: str | None, cmh2o: int, analysis: Any) -> Any:
        time_s, flow_lps = analysis.flow_trace(TRACE_POINTS)
        return self.client.upload_measurement(
            room,
            mrn,
            name=name,
            cpap_pressure=cmh2o,
            analysis=analysis.to_dict(),
            flow_trace=(time_s, flow_lps),
        )

    def _uploaded(self, room: int, mrn: str, cmh2o: int, _receipt: Any) -> None:
        self.locked = True
        self.mrn_input.disabled = self.room_input.disabled = True
        self.lock_note.value = (
            '<div class="cpap-hint">MRN and room are locked for this patient. '
            "Reset to start with another patient.</div>"
        )
        self.messages.show_success(
            f"Measurement {self.uploads + 1} uploaded for MRN {mrn} in room {room} at {cmh2o} cmH2O."
        )
        self._update_upload_button()
        self.uploads += 1  # last: whoever waits for it sees the whole page updated

    # ------------------------------------------------------ pressure poll
    def poll_pressure(self) -> None:
        """Ask the server for a commanded pressure for the room entered; apply a new one."""
        try:
            room = parse_room(self.room_input.value)
        except ParameterError:
            return
        generation = self._runner.generation
        try:
            poll = self.client.poll_pressure(room)
        except NotFoundError:
            return  # a room the server does not know yet: nothing commanded
        except CpapError as exc:
            self.messages.show_error(f"Could not ask the server for a commanded pressure: {exc}")
            return
        with self._lock:
            if self.messages.text.startswith("Could not ask the server"):
                self.messages.clear()  # the server answers again
            if not self._runner.is_current(generation) or self.room_input.value.strip() != str(room):
                return
            if poll.cmh2o is None or poll.command_id is None or self._seen_command.get(room) == poll.command_id:
                return
            self._seen_command[room] = poll.command_id
            self.pressure_input.value = str(poll.cmh2o)
            self.messages.show_info(
                f"Staff commanded {poll.cmh2o} cmH2O at {format_clock(poll.commanded_at)}; the next upload uses it."
            )

    # -------------------------------------------------------------- reset
    def ask_reset(self) -> None:
        """Reset asks first (the question stays until answered)."""
        self.reset_question.layout.display = ""

    def _hide_reset_question(self) -> None:
        self.reset_question.layout.display = "none"

    def reset(self) -> None:
        """Clear every field and result, unlock MRN and room; the room the page was opened for stays."""
        self._hide_reset_question()
        with self._lock:
            self._runner.invalidate()
            self.analysis = None
            self.uploads = 0
            self.locked = False
            self.mrn_input.disabled = self.room_input.disabled = False
            for field in (self.name_input, self.mrn_input, self.room_input):
                field.value = ""
                field.remove_class("cpap-invalid")
            self.room_input.value = "" if self.initial_room is None else str(self.initial_room)
            self.pressure_input.value = "8"
            self.lock_note.value = ""
            self.sample_select.value = ""
            self.file_upload.value = ()
            self.chart.clear()
            self._show_results()
            self._update_upload_button()
            self.messages.show_info("Cleared. Enter the next patient.")

    def stop(self) -> None:
        """Stop polling."""
        self.poller.stop()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)  # ParameterError.message: without the "name: " prefix


def _room_or_none(text: str) -> int | None:
    try:
        return parse_room(text)
    except ParameterError:
        return None


def build_bedside(client: Any = None, *, room: int | None = None, poll_s: float | None = None) -> widgets.VBox:
    """The bedside page: header and station.

    Parameters
    ----------
    client : CpapClient, optional
        Built from ``CPAP_API_URL`` / ``CPAP_API_TOKEN`` when omitted.
    room : int, optional
        Room to fill in; the ``?room=`` query string of the page when omitted.
    """
    import os

    try:
        if client is None:
            client = client_from_env(role="device")
        if room is None:
            room = room_from_query(os.environ.get("QUERY_STRING"))
        station = BedsideStation(client, room=room, poll_s=poll_s)
    except CpapError as exc:  # a bad setting (CPAP_API_URL, CPAP_REFRESH_S ...): a sentence, not a traceback
        return error_page("Bedside station", exc)
    header = page_header("Bedside station", f"CPAP device stand-in · server {client.base_url}")
    page = widgets.VBox([style_widget(), header, station], layout=widgets.Layout(width="100%"))
    page.add_class("cpap-page")
    page.station = station
    return page
