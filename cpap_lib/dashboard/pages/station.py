"""The monitoring station: everything about one room, and commanding its pressure.

Shows the selected room's MRN, patient name, latest CPAP pressure and latest
measurement with its upload time; the latest flow trace; a list of earlier
measurement times (choosing one shows that flow chart beside the latest);
the night's trends (pressure, breath rate, apneas); and a pressure field
(whole cmH2O 4-25; anything else gets a message and nothing is sent).

Network calls run in background threads with the client's timeout. Every
load carries the generation number of the room choice it belongs to; a
result that arrives after the user chose another room is dropped, so
nothing of the previous patient can appear with the next.

The room list follows the ward the overview fetched (no extra request);
when the ward shows a newer measurement for the shown room (or another
patient in it), the station reloads by itself.

Examples
--------
>>> from cpap_lib.dashboard.pages.station import measurement_label
>>> from datetime import datetime, timezone
>>> measurement_label(datetime(2026, 11, 21, 22, 0, tzinfo=timezone.utc), 8.0, 3).split(" · ")[1]
'8 cmH2O, 3 apneas'
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as widgets
import traitlets

from ...clock import as_utc, format_clock, format_clock_elapsed, zone_label
from ...errors import CpapError
from ...images import image_format
from ..widgets.common import MessageBar, escape, run_in_background
from ..widgets.fields import (
    PRESSURE_MAX_CMH2O,
    PRESSURE_MIN_CMH2O,
    format_number,
    on_enter,
    parse_pressure,
    png_filename,
)
from ..widgets.theme import ALERT_COLOR
from .overview import APNEA_ALERT_COUNT, _pressure_text

__all__ = ["MonitoringStation", "measurement_label"]

log = logging.getLogger(__name__)

NO_ROOM = ("— choose a room —", 0)
"""The first entry of the room list (value 0: no room)."""
LOAD_TIMEOUT_S = 20.0
"""Deadline of one room load (several requests, each with the client's timeout)."""


def measurement_label(recorded_at: datetime | str | None, pressure_cmh2o: float | None, apnea_count: int | None) -> str:
    """One line of the earlier-measurements list: time, pressure, apneas."""
    apneas = "" if apnea_count is None else f", {apnea_count} apnea{'s' if apnea_count != 1 else ''}"
    return f"{format_clock(recorded_at)} · {_pressure_text(pressure_cmh2o)}{apneas}"


def _fact(label: str, value_html: str, css: str) -> str:
    return (
        f'<div class="{css}"><div class="cpap-fact-label">{label}</div>'
        f'<div class="cpap-fact-value">{value_html}</div></div>'
    )


class MonitoringStation(widgets.VBox):
    """The staff view of one room.

    Parameters
    ----------
    client : CpapClient
        The API client.

    Attributes
    ----------
    room : int or None
        The room shown (set it, or pick it in :attr:`room_select`).
    loaded_generation : int
        Increases with each room load that reached the page (tests wait on it).
    """

    room = traitlets.Int(None, allow_none=True)

    def __init__(self, client: Any, **kwargs: Any):
        self.client = client
        self._generation = 0
        self.loaded_generation = 0
        self._shown_measurement_id: int | None = None
        self._shown_admission: tuple[Any, Any] | None = None
        self._pending: tuple[Any, Any] | None = None
        self._summaries: list[Any] = []
        self._lock = threading.RLock()
        self._syncing = False
        self.messages = MessageBar()

        self.room_select = widgets.Dropdown(
            options=[NO_ROOM], value=0, description="Room", layout=widgets.Layout(width="340px")
        )
        self.room_select.add_class("cpap-room-select")
        self.room_select.observe(self._on_room_chosen, names="value")
        self.facts = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.facts.add_class("cpap-station-facts")

        # the bqplot charts are built when the first room is shown (see _ensure_charts)
        self.latest_chart: Any = None
        self.earlier_chart: Any = None
        self.trends: Any = None
        self.latest_box = widgets.VBox([], layout=widgets.Layout(flex="1 1 0", min_width="0"))
        self.earlier_box = widgets.VBox([], layout=widgets.Layout(flex="1 1 0", min_width="0", display="none"))
        self.trends_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        charts = widgets.HBox([self.latest_box, self.earlier_box], layout=widgets.Layout(width="100%"))
        self.flow_image = widgets.Image(layout=widgets.Layout(max_width="100%"))
        self.flow_image.add_class("cpap-flow-image")
        self.flow_image_caption = widgets.HTML()
        self.flow_image_box = widgets.VBox(
            [self.flow_image_caption, self.flow_image], layout=widgets.Layout(width="100%", display="none")
        )

        self.earlier_select = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="260px"))
        self.earlier_select.add_class("cpap-earlier-select")
        self.earlier_select.observe(self._on_earlier_chosen, names="value")
        self.earlier_hint = widgets.HTML()
        earlier_panel = widgets.VBox(
            [
                widgets.HTML('<div class="cpap-section-title">Earlier measurements</div>'),
                self.earlier_hint,
                self.earlier_select,
            ]
        )

        self.pressure_input = widgets.Text(
            placeholder=f"{PRESSURE_MIN_CMH2O}–{PRESSURE_MAX_CMH2O} cmH2O", layout=widgets.Layout(width="130px")
        )
        self.pressure_input.add_class("cpap-pressure-input")
        self.pressure_input.observe(self._on_pressure_typed, names="value")
        on_enter(self.pressure_input, self._on_send)
        self.pressure_error = MessageBar()
        self.pressure_error.add_class("cpap-pressure-error")
        self.send_button = widgets.Button(
            description="Send",
            button_style="primary",
            icon="paper-plane",
            disabled=True,
            tooltip="Command this CPAP pressure for the room",
            layout=widgets.Layout(width="120px"),
        )
        self.send_button.add_class("cpap-send-pressure")
        self.send_button.on_click(self._on_send)
        pressure_panel = widgets.VBox(
            [
                widgets.HTML(
                    '<div class="cpap-section-title">Command CPAP pressure</div>'
                    f'<div class="cpap-hint">Whole cmH2O from {PRESSURE_MIN_CMH2O} to {PRESSURE_MAX_CMH2O}; '
                    "the bedside device takes it at its next poll.</div>"
                ),
                widgets.HBox([self.pressure_input, self.send_button]),
                self.pressure_error,
            ]
        )

        # titration log: the guideline's prompt, the table per pressure step, the night chart
        self.prompt_html = widgets.HTML()
        self.prompt_html.add_class("cpap-titration-prompt")
        self.use_prompt_button = widgets.Button(
            description="Put it in the pressure field",
            icon="arrow-right",
            layout=widgets.Layout(display="none", width="auto"),
            tooltip="Fills the pressure field only: nothing is sent until you press Send",
        )
        self.use_prompt_button.add_class("cpap-use-prompt")
        self.use_prompt_button.on_click(lambda _: self._use_prompt())
        self._suggested: int | None = None
        self.steps_table = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.steps_table.add_class("cpap-titration")
        self.night_chart: Any = None
        self.night_box = widgets.VBox([], layout=widgets.Layout(width="100%"))
        titration_panel = widgets.VBox(
            [
                widgets.HTML('<div class="cpap-section-title">Titration log</div>'),
                widgets.HBox([self.prompt_html, self.use_prompt_button], layout=widgets.Layout(align_items="center")),
                self.steps_table,
                self.night_box,
            ],
            layout=widgets.Layout(width="100%"),
        )

        # technician notes
        self.notes_html = widgets.HTML()
        self.notes_html.add_class("cpap-notes")
        self.note_who = widgets.Text(placeholder="your name", layout=widgets.Layout(width="120px"))
        self.note_who.add_class("cpap-note-who")
        self.note_input = widgets.Text(placeholder="note (Enter adds it)", layout=widgets.Layout(width="100%"))
        self.note_input.add_class("cpap-note-input")
        on_enter(self.note_input, self.add_note)
        self.add_note_button = widgets.Button(
            description="Add note", icon="sticky-note", layout=widgets.Layout(width="100%")
        )
        self.add_note_button.add_class("cpap-add-note")
        self.add_note_button.on_click(lambda _: self.add_note())
        notes_panel = widgets.VBox(
            [
                widgets.HTML('<div class="cpap-section-title">Notes</div>'),
                self.notes_html,
                self.note_who,
                self.note_input,
                self.add_note_button,
            ]
        )

        side = widgets.VBox(
            [pressure_panel, notes_panel, earlier_panel], layout=widgets.Layout(width="290px", min_width="290px")
        )
        main = widgets.VBox(
            [self.facts, titration_panel, charts, self.flow_image_box, self.trends_box],
            layout=widgets.Layout(flex="1 1 0", min_width="0"),
        )
        title = widgets.HTML('<div class="cpap-section-title">Monitoring station</div>')
        self.close_button = widgets.Button(
            description="Close",
            icon="times",
            tooltip="Close the station, back to the board",
            layout=widgets.Layout(width="100px"),
        )
        self.close_button.add_class("cpap-station-close")
        self.close_button.on_click(lambda _: setattr(self, "room", None))
        super().__init__(
            [
                widgets.HBox(
                    [title, self.room_select, self.close_button],
                    layout=widgets.Layout(align_items="center", grid_gap="12px"),
                ),
                self.messages,
                widgets.HBox([main, side], layout=widgets.Layout(width="100%", grid_gap="16px")),
            ],
            **kwargs,
        )
        self.add_class("cpap-station")
        self.add_class("cpap-panel")
        self._clear_patient()

    # ------------------------------------------------------------ room list
    def set_ward(self, ward: Any) -> None:
        """Follow the ward state: the room list, and reload when the shown room has news."""
        rooms = sorted(ward.rooms, key=lambda r: r.room)
        options = [NO_ROOM] + [self._room_option(r) for r in rooms]
        with self._lock:
            if list(self.room_select.options) != options:
                current = self.room_select.value
                values = [value for _, value in options]
                self._syncing = True  # the list follows the server: not a choice of the user
                try:
                    self.room_select.options = options
                    self.room_select.value = self.room if self.room in values else (current if current in values else 0)
                finally:
                    self._syncing = False
            if self.room is None:
                return
            state = next((r for r in rooms if r.room == self.room), None)
            if state is None:
                return
            latest_id = None if state.latest_measurement is None else state.latest_measurement.id
            admission = (state.admission_id, state.mrn)
            if self._shown_admission is None or (admission, latest_id) == self._pending:
                return  # nothing shown yet, or this news is being loaded already
            if admission != self._shown_admission:
                self._pending = (admission, latest_id)
                self._load_room(self.room, clear=True)  # another patient in this room
            elif latest_id != self._shown_measurement_id:
                self._pending = (admission, latest_id)
                self._load_room(self.room, clear=False)  # new data for this patient

    @staticmethod
    def _room_option(state: Any) -> tuple[str, int]:
        who = f" — {state.name}" if state.name else (f" — {state.mrn}" if state.mrn else "")
        return (f"Room {state.room}{who}", state.room)

    def _on_room_chosen(self, change: dict) -> None:
        if self._syncing:
            return
        value = change["new"]
        self.room = int(value) if value else None

    @traitlets.observe("room")
    def _room_changed(self, change: dict) -> None:
        room = change["new"]
        with self._lock:
            if room is not None and any(value == room for _, value in self.room_select.options):
                self.room_select.value = room
            if room is None:
                self._generation += 1
                self._clear_patient()
                self.room_select.value = 0
                return
            self._load_room(room, clear=True)

    # -------------------------------------------------------------- loading
    def _ensure_charts(self) -> None:
        """Build the charts once, when the first room is shown (bqplot is a heavy first import)."""
        if self.latest_chart is not None:
            return
        from ..widgets.charts import FlowChart, NightChart, TrendChart

        self.latest_chart = FlowChart(
            "Latest measurement", height="300px", png_name="latest_flow.png", layout=widgets.Layout(width="100%")
        )
        self.earlier_chart = FlowChart(
            "Earlier measurement", height="300px", png_name="earlier_flow.png", layout=widgets.Layout(width="100%")
        )
        self.trends = TrendChart(
            "Night trends", height="150px", png_prefix="trend", layout=widgets.Layout(width="100%")
        )
        self.night_chart = NightChart(height="240px", layout=widgets.Layout(width="100%"))
        self.night_box.children = (self.night_chart,)
        self.latest_box.children = (self.latest_chart,)
        self.earlier_box.children = (self.earlier_chart,)
        self.trends_box.children = (self.trends,)

    def _load_room(self, room: int, *, clear: bool) -> None:
        with self._lock:
            self._ensure_charts()
            self._generation += 1
            generation = self._generation
            if clear:
                self._clear_patient()
                self.facts.value = f'<div class="cpap-hint">Loading room {int(room)}…</div>'
        run_in_background(
            functools.partial(self._fetch_room, room),
            on_done=functools.partial(self._show_room, generation),
            on_error=functools.partial(self._show_load_error, generation, room),
            timeout_s=LOAD_TIMEOUT_S,
            name=f"Loading room {room}",
        )

    def _fetch_room(self, room: int) -> tuple[Any, list[Any], Any, Any]:
        state = self.client.room(room)
        summaries = self.client.measurements(room)
        latest = None
        if state.latest_measurement is not None:
            latest = self.client.measurement(state.latest_measurement.id)
        return state, summaries, latest, self.client.timeline(room)

    def _show_load_error(self, generation: int, room: int, exc: BaseException) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._pending = None  # the next ward refresh tries again
            self.messages.show_error(f"Room {room} could not be loaded: {exc}")

    def _show_room(self, generation: int, result: tuple[Any, list[Any], Any, Any]) -> None:
        state, summaries, latest, night = result
        with self._lock:
            if generation != self._generation:
                return  # the user chose another room meanwhile
            if self._shown_admission is not None and self._shown_admission != (state.admission_id, state.mrn):
                self._clear_patient()
            self._shown_admission = (state.admission_id, state.mrn)
            self._shown_measurement_id = None if latest is None else latest.id
            self._summaries = sorted(summaries, key=lambda m: m.recorded_at)
            self.facts.value = self._facts_html(state, latest)
            who = _who(state)
            if latest is not None and latest.time_s.size >= 2:
                self.latest_chart.set_data(latest.time_s, latest.flow_lps, events=_events(latest))
                self.latest_chart.figure.title = (
                    f"{who} · latest measurement {format_clock(latest.recorded_at, date=True)}"
                )
                self.latest_chart.png_name = png_filename(
                    "latest", room=state.room, mrn=state.mrn, when=latest.recorded_at
                )
            else:
                self.latest_chart.clear()
                self.latest_chart.figure.title = "Latest measurement · no flow trace"
            self._show_flow_image(latest)
            earlier = [m for m in self._summaries if latest is None or m.id != latest.id]
            options = [
                (measurement_label(m.recorded_at, m.cpap_pressure_cmh2o, m.apnea_count), m.id)
                for m in reversed(earlier)
            ]
            self.earlier_hint.value = (
                '<div class="cpap-hint">Choose one to show it beside the latest.</div>'
                if options
                else '<div class="cpap-hint">No earlier measurements yet.</div>'
            )
            if list(self.earlier_select.options) != options:
                chosen = self.earlier_select.value
                self._syncing = True
                try:
                    self.earlier_select.options = options
                    self.earlier_select.value = chosen if any(o[1] == chosen for o in options) else None
                finally:
                    self._syncing = False
            self._show_night(state, night)
            self.trends.set_data(
                [m.recorded_at for m in self._summaries],
                pressure_cmh2o=[_nan(m.cpap_pressure_cmh2o) for m in self._summaries],
                breath_rate_bpm=[_nan(m.breath_rate_bpm) for m in self._summaries],
                apnea_count=[_nan(m.apnea_count) for m in self._summaries],
            )
            self.send_button.disabled = not self._pressure_ok()
            if self.messages.level == "error":
                self.messages.clear()
            self.loaded_generation += 1

    def _facts_html(self, state: Any, latest: Any) -> str:
        summary = state.latest_measurement
        apneas = None if summary is None else summary.apnea_count
        alert = apneas is not None and apneas >= APNEA_ALERT_COUNT
        alert_attrs = (
            f' class="cpap-apneas cpap-alert" style="color:{ALERT_COLOR}"' if alert else ' class="cpap-apneas"'
        )
        apnea_html = "—" if apneas is None else f"<span{alert_attrs}>{int(apneas)}</span>"
        commanded = (
            "—"
            if state.commanded_cmh2o is None
            else (f"{state.commanded_cmh2o} cmH2O at {escape(format_clock(state.commanded_at))}")
        )
        parts = [
            _fact("Room", f'<span class="cpap-station-room">{int(state.room)}</span>', "cpap-fact"),
            _fact(
                "MRN", f'<span class="cpap-station-mrn">{escape(state.mrn) if state.mrn else "—"}</span>', "cpap-fact"
            ),
            _fact(
                "Patient",
                f'<span class="cpap-station-name">{escape(state.name) if state.name else "—"}</span>',
                "cpap-fact",
            ),
            _fact(
                "Latest pressure",
                f'<span class="cpap-station-pressure">'
                f"{escape(_pressure_text(None if summary is None else summary.cpap_pressure_cmh2o))}</span>",
                "cpap-fact",
            ),
            _fact(
                "Breath rate",
                escape(format_number(None if summary is None else summary.breath_rate_bpm, 1, " /min")),
                "cpap-fact",
            ),
            _fact("Apneas", apnea_html, "cpap-fact"),
            _fact(
                "Apnea index",
                escape(format_number(None if summary is None else summary.apnea_index, 1, " /h")),
                "cpap-fact",
            ),
            _fact(
                "Uploaded",
                f'<span class="cpap-station-uploaded">'
                f"{escape(format_clock_elapsed(None if summary is None else summary.recorded_at, start=state.admitted_at))}"
                "</span>",
                "cpap-fact",
            ),
            _fact(
                "Admitted",
                f'<span class="cpap-station-admitted">{escape(format_clock(state.admitted_at))}</span>',
                "cpap-fact",
            ),
            _fact("Commanded", f'<span class="cpap-station-commanded">{commanded}</span>', "cpap-fact"),
        ]
        return f'<div class="cpap-facts">{"".join(parts)}</div>'

    # ------------------------------------------------------ earlier choice
    def _on_earlier_chosen(self, change: dict) -> None:
        if self._syncing:
            return
        measurement_id = change["new"]
        if measurement_id is None:
            self.earlier_box.layout.display = "none"
            self.earlier_chart.clear()
            return
        generation = self._generation
        self.earlier_chart.clear()
        self.earlier_box.layout.display = ""
        run_in_background(
            functools.partial(self.client.measurement, measurement_id),
            on_done=functools.partial(self._show_earlier, generation),
            on_error=functools.partial(self._show_load_error, generation, self.room),
            timeout_s=LOAD_TIMEOUT_S,
            name="Loading the earlier measurement",
        )

    def _show_earlier(self, generation: int, measurement: Any) -> None:
        with self._lock:
            if generation != self._generation or self.earlier_select.value != measurement.id:
                return
            if measurement.time_s.size < 2:
                self.earlier_chart.clear()
            else:
                self.earlier_chart.set_data(measurement.time_s, measurement.flow_lps, events=_events(measurement))
            self.earlier_chart.figure.title = f"Measurement · {format_clock(measurement.recorded_at, date=True)}"
            self.earlier_chart.png_name = png_filename(
                "earlier", room=measurement.room, mrn=measurement.mrn, when=measurement.recorded_at
            )

    # ------------------------------------------------------------ pressure
    def _pressure_ok(self) -> bool:
        try:
            parse_pressure(self.pressure_input.value)
        except CpapError:
            return False
        return self.room is not None

    def _on_pressure_typed(self, change: dict) -> None:
        """Check as typed; an error stays next to the field until the value changes (a refresh leaves it)."""
        text = change["new"]
        if not text.strip():
            self.pressure_input.remove_class("cpap-invalid")
            self.pressure_error.clear()
            self.send_button.disabled = True
            return
        try:
            parse_pressure(text)
        except CpapError as exc:
            self._pressure_refused(exc)
            return
        self.pressure_input.remove_class("cpap-invalid")
        self.pressure_error.clear()
        self.send_button.disabled = self.room is None

    def _pressure_refused(self, exc: BaseException) -> None:
        self.pressure_input.add_class("cpap-invalid")
        self.pressure_error.show_error(f"Pressure not accepted: {_reason(exc)}. Nothing was sent.")
        self.send_button.disabled = True

    def _on_send(self, _button: Any = None) -> None:
        room = self.room
        try:
            cmh2o = parse_pressure(self.pressure_input.value)
        except CpapError as exc:
            self._pressure_refused(exc)
            return
        if room is None:
            self.messages.show_error("Choose a room before sending a pressure.")
            return
        self.send_button.disabled = True
        self.messages.show_info(f"Sending {cmh2o} cmH2O to room {room}…")
        generation = self._generation
        run_in_background(
            functools.partial(self.client.command_pressure, room, cmh2o),
            on_done=lambda _result: self._sent(generation, room, cmh2o),
            on_error=lambda exc: self._send_failed(room, exc),
            timeout_s=LOAD_TIMEOUT_S,
            name="Sending the pressure",
        )

    def _sent(self, generation: int, room: int, cmh2o: int) -> None:
        self.send_button.disabled = not self._pressure_ok()
        self.messages.show_success(
            f"{cmh2o} cmH2O commanded for room {room} at {format_clock(datetime.now(UTC))}; "
            "the bedside device takes it at its next poll."
        )
        if generation == self._generation:
            self.pressure_input.value = ""
            self._load_room(room, clear=False)

    def _send_failed(self, room: int, exc: BaseException) -> None:
        self.send_button.disabled = not self._pressure_ok()
        self.messages.show_error(f"The pressure for room {room} was not sent: {exc}")

    def _show_flow_image(self, measurement: Any) -> None:
        """The image uploaded with ``measurement`` (the old clients' flow plot, JPEG), as its magic bytes say."""
        data = None if measurement is None else measurement.flow_png
        fmt = image_format(data)
        if fmt is None:
            self.flow_image_box.layout.display = "none"
            self.flow_image.value = b""
            return
        self.flow_image.format = fmt
        self.flow_image.value = data
        self.flow_image_caption.value = (
            f'<div class="cpap-hint">Flow image uploaded with the latest measurement ({fmt.upper()})</div>'
        )
        self.flow_image_box.layout.display = ""

    # ---------------------------------------------------------------- reset
    def _clear_patient(self) -> None:
        """Forget everything shown about the previous patient."""
        self._pending = None
        self._shown_measurement_id = None
        self._shown_admission = None
        self._summaries = []
        self.facts.value = '<div class="cpap-hint">Choose a room in the list or click its card in the overview.</div>'
        if self.latest_chart is not None:
            self.latest_chart.clear()
            self.latest_chart.figure.title = "Latest measurement"
            self.earlier_chart.clear()
            self.trends.clear()
        self._syncing = True
        try:
            self.earlier_select.options = []
            self.earlier_select.value = None
        finally:
            self._syncing = False
        self.earlier_box.layout.display = "none"
        self._show_flow_image(None)
        self.earlier_hint.value = '<div class="cpap-hint">Choose a room first.</div>'
        self.pressure_input.value = ""
        self.pressure_input.remove_class("cpap-invalid")
        self.pressure_error.clear()
        self.send_button.disabled = True
        self.messages.clear()
        self.prompt_html.value = ""
        self.use_prompt_button.layout.display = "none"
        self._suggested = None
        self.steps_table.value = ""
        self.notes_html.value = '<div class="cpap-hint">No notes yet.</div>'
        self.note_input.value = ""
        if self.night_chart is not None:
            self.night_chart.clear()

    # ------------------------------------------------------- titration log
    def _show_night(self, state: Any, night: Any) -> None:
        """The titration table, the guideline's prompt, the night chart and the notes of ``night``."""
        from ...titration import pressure_steps, titration_prompt  # pandas: imported when a room is first shown

        steps = pressure_steps(night.measurements, night.commands, admitted_at=night.admitted_at)
        self.steps_table.value = steps_table_html(steps, admitted_at=night.admitted_at or state.admitted_at)
        prompt = titration_prompt(steps)
        self._suggested = prompt.suggested_cmh2o
        self.prompt_html.value = (
            f'<div class="cpap-prompt cpap-prompt-{prompt.kind}" data-kind="{prompt.kind}">{escape(prompt.text)}</div>'
        )
        self.use_prompt_button.description = (
            f"Put {prompt.suggested_cmh2o} in the pressure field"
            if prompt.suggested_cmh2o
            else "Put it in the pressure field"
        )
        self.use_prompt_button.layout.display = "" if prompt.suggested_cmh2o else "none"
        notes = list(night.notes)
        self.notes_html.value = notes_html(notes, admitted_at=state.admitted_at)
        m = night.measurements
        self.night_chart.set_data(
            [x.recorded_at for x in m],
            pressure_cmh2o=[_nan(x.cpap_pressure_cmh2o) for x in m],
            apneas=[x.apnea_count or 0 for x in m],
            hypopneas=[x.hypopnea_count or 0 for x in m],
            commands=(  # the pressure in effect at admission is drawn where the night begins
                [night.admitted_at if c.before_admission else c.commanded_at for c in night.commands],
                [c.to_cmh2o for c in night.commands],
            ),
            notes=([n.created_at for n in notes], [str(i) for i in range(1, len(notes) + 1)]),
        )
        self.night_chart.figure.title = f"{_who(state)} · night: pressure and events"
        self.night_chart.png_name = png_filename(
            "night", room=state.room, mrn=state.mrn, when=night.measurements[-1].recorded_at if m else None
        )

    def _use_prompt(self) -> None:
        """Fill the pressure field with the suggestion (never sends it)."""
        if self._suggested is not None:
            self.pressure_input.value = str(self._suggested)

    # --------------------------------------------------------------- notes
    def add_note(self) -> None:
        """Add the typed note to the room's night (in the background); Enter in the note field does this."""
        room, text = self.room, self.note_input.value.strip()
        if room is None:
            self.messages.show_error("Choose a room before adding a note.")
            return
        if not text:
            self.messages.show_error("Type the note first.")
            return
        self.add_note_button.disabled = True
        run_in_background(
            functools.partial(self.client.add_note, room, text, by=self.note_who.value.strip() or None),
            on_done=lambda note: self._note_added(room, note),
            on_error=lambda exc: self._note_failed(room, exc),
            timeout_s=LOAD_TIMEOUT_S,
            name="Adding the note",
        )

    def _note_added(self, room: int, note: Any) -> None:
        self.add_note_button.disabled = False
        self.messages.show_success(f"Note added to room {room} at {format_clock(note.created_at)}.")
        if room == self.room:
            self.note_input.value = ""
            self._load_room(room, clear=False)

    def _note_failed(self, room: int, exc: BaseException) -> None:
        self.add_note_button.disabled = False
        self.messages.show_error(f"The note for room {room} was not saved: {exc}")


STEP_HEADERS = ("Step", "CPAP", "From", "Time at step", "Apneas", "Hypopneas", "AHI", "Breath rate", "Commanded by")


def steps_table_html(steps: Any, *, admitted_at: Any = None) -> str:
    """The titration table: one row per pressure step (the current one outlined); clock times, lab zone.

    Examples
    --------
    >>> from cpap_lib.titration import pressure_steps
    >>> rows = [dict(recorded_at="2026-11-21T21:00:00Z", cpap_pressure_cmh2o=6, apnea_count=2, hypopnea_count=1,
    ...              duration_s=600.0, breath_rate_bpm=14.0)]
    >>> html = steps_table_html(pressure_steps(rows))
    >>> html.count("<tr"), "18.0 /h" in html
    (2, True)
    """
    import pandas as pd

    if steps.empty:
        return '<div class="cpap-hint">No uploads with a pressure yet: the table fills in step by step.</div>'
    head = "".join(f"<th>{h}</th>" for h in STEP_HEADERS)
    body = []
    last = len(steps) - 1
    for i, row in enumerate(steps.itertuples(index=False)):
        when = None if pd.isna(row.commanded_at) else row.commanded_at.to_pydatetime()
        by = "—" if pd.isna(row.commanded_by) else _commanded(row.commanded_by, when, admitted_at)
        cells = (
            row.step,
            f"{row.pressure_cmh2o:g} cmH2O",
            format_clock_elapsed(row.start.to_pydatetime(), start=admitted_at),
            f"{row.minutes:g} min",
            row.apneas,
            row.hypopneas,
            format_number(row.ahi, 1, " /h"),
            format_number(row.breath_rate_bpm, 1, " /min"),
            by,
        )
        css = ' class="cpap-current"' if i == last else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    zone = escape(zone_label())
    return (
        f'<table class="cpap-titration-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f'<div class="cpap-hint">Times are clock times ({zone}) with the time since admission. '
        "AHI: apneas + hypopneas the bedside analysis scored, per hour of recording at the step.</div>"
    )


def _commanded(by: str, at: Any, admitted_at: Any) -> str:
    """``"nurse-a at 21:50"``; a command before the admission says so (with its date when a night or more before).

    >>> _commanded("nurse-a", "2026-11-21T20:50:00Z", "2026-11-21T21:00:00Z").endswith("(before admission)")
    True
    """
    when, began = as_utc(at), as_utc(admitted_at)
    if when is None:
        return by
    if began is None or when >= began:
        return f"{by} at {format_clock(when, seconds=False)}"
    long_before = began - when > timedelta(hours=12)
    return f"{by} at {format_clock(when, seconds=False, date=long_before)} (before admission)"


def notes_html(notes: list[Any], *, admitted_at: Any = None) -> str:
    """Numbered notes (the night chart marks them with the same numbers); text and author escaped."""
    if not notes:
        return '<div class="cpap-hint">No notes yet.</div>'
    items = "".join(
        f'<div class="cpap-note"><span class="cpap-note-when">{i}. {escape(format_clock(n.created_at))}</span> '
        f'<span class="cpap-note-author">{escape(n.author)}</span>: <span class="cpap-note-text">{escape(n.text)}</span></div>'
        for i, n in enumerate(notes, start=1)
    )
    return items


def _who(state: Any) -> str:
    name = state.name or "no name"
    return f"Room {state.room} · {name} ({state.mrn or 'no MRN'})"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)  # ParameterError.message: without the "name: " prefix


def _nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


def _events(measurement: Any) -> list[dict[str, Any]]:
    events = [{"kind": "apnea", "start_s": start, "end_s": end} for start, end in measurement.apneas]
    events += [{"kind": "hypopnea", "start_s": start, "end_s": end} for start, end in measurement.hypopneas]
    return events
