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
from datetime import datetime
from typing import Any

import ipywidgets as widgets
import traitlets

from ...clock import format_clock
from ...errors import CpapError
from ...images import image_format
from ..widgets.common import MessageBar, escape, run_in_background
from ..widgets.fields import format_number, parse_pressure, PRESSURE_MAX_CMH2O, PRESSURE_MIN_CMH2O
from .overview import APNEA_ALERT_COUNT, _pressure_text
from ..widgets.theme import ALERT_COLOR

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
    return (f'<div class="{css}"><div class="cpap-fact-label">{label}</div>'
            f'<div class="cpap-fact-value">{value_html}</div></div>')


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

        self.room_select = widgets.Dropdown(options=[NO_ROOM], value=0, description="Room",
                                            layout=widgets.Layout(width="340px"))
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
        self.flow_image_box = widgets.VBox([self.flow_image_caption, self.flow_image],
                                           layout=widgets.Layout(width="100%", display="none"))

        self.earlier_select = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="260px"))
        self.earlier_select.add_class("cpap-earlier-select")
        self.earlier_select.observe(self._on_earlier_chosen, names="value")
        self.earlier_hint = widgets.HTML()
        earlier_panel = widgets.VBox([
            widgets.HTML('<div class="cpap-section-title">Earlier measurements</div>'),
            self.earlier_hint,
            self.earlier_select,
        ])

        self.pressure_input = widgets.Text(placeholder=f"{PRESSURE_MIN_CMH2O}–{PRESSURE_MAX_CMH2O} cmH2O",
                                           layout=widgets.Layout(width="130px"))
        self.pressure_input.add_class("cpap-pressure-input")
        self.pressure_input.observe(self._on_pressure_typed, names="value")
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane",
                                          disabled=True, tooltip="Command this CPAP pressure for the room",
                                          layout=widgets.Layout(width="120px"))
        self.send_button.add_class("cpap-send-pressure")
        self.send_button.on_click(self._on_send)
        pressure_panel = widgets.VBox([
            widgets.HTML('<div class="cpap-section-title">Command CPAP pressure</div>'
                         f'<div class="cpap-hint">Whole cmH2O from {PRESSURE_MIN_CMH2O} to {PRESSURE_MAX_CMH2O}; '
                         'the bedside device takes it at its next poll.</div>'),
            widgets.HBox([self.pressure_input, self.send_button]),
        ])

        side = widgets.VBox([pressure_panel, earlier_panel], layout=widgets.Layout(width="290px", min_width="290px"))
        main = widgets.VBox([self.facts, charts, self.flow_image_box, self.trends_box],
                            layout=widgets.Layout(flex="1 1 0", min_width="0"))
        title = widgets.HTML('<div class="cpap-section-title">Monitoring station</div>')
        super().__init__([title, widgets.HBox([self.room_select]), self.messages,
                          widgets.HBox([main, side], layout=widgets.Layout(width="100%", grid_gap="16px"))], **kwargs)
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
        from ..widgets.charts import FlowChart, TrendChart

        self.latest_chart = FlowChart("Latest measurement", height="300px", png_name="latest_flow.png",
                                      layout=widgets.Layout(width="100%"))
        self.earlier_chart = FlowChart("Earlier measurement", height="300px", png_name="earlier_flow.png",
                                       layout=widgets.Layout(width="100%"))
        self.trends = TrendChart("Night trends", height="150px", png_prefix="trend",
                                 layout=widgets.Layout(width="100%"))
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
            timeout_s=LOAD_TIMEOUT_S, name=f"Loading room {room}",
        )

    def _fetch_room(self, room: int) -> tuple[Any, list[Any], Any]:
        state = self.client.room(room)
        summaries = self.client.measurements(room)
        latest = None
        if state.latest_measurement is not None:
            latest = self.client.measurement(state.latest_measurement.id)
        return state, summaries, latest

    def _show_load_error(self, generation: int, room: int, exc: BaseException) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._pending = None  # the next ward refresh tries again
            self.messages.show_error(f"Room {room} could not be loaded: {exc}")

    def _show_room(self, generation: int, result: tuple[Any, list[Any], Any]) -> None:
        state, summaries, latest = result
        with self._lock:
            if generation != self._generation:
                return  # the user chose another room meanwhile
            if self._shown_admission is not None and self._shown_admission != (state.admission_id, state.mrn):
                self._clear_patient()
            self._shown_admission = (state.admission_id, state.mrn)
            self._shown_measurement_id = None if latest is None else latest.id
            self._summaries = sorted(summaries, key=lambda m: m.recorded_at)
            self.facts.value = self._facts_html(state, latest)
            if latest is not None and latest.time_s.size >= 2:
                self.latest_chart.set_data(latest.time_s, latest.flow_lps, events=_events(latest))
                self.latest_chart.figure.title = f"Latest measurement · {format_clock(latest.recorded_at)}"
            else:
                self.latest_chart.clear()
                self.latest_chart.figure.title = "Latest measurement · no flow trace"
            self._show_flow_image(latest)
            earlier = [m for m in self._summaries if latest is None or m.id != latest.id]
            options = [(measurement_label(m.recorded_at, m.cpap_pressure_cmh2o, m.apnea_count), m.id)
                       for m in reversed(earlier)]
            self.earlier_hint.value = ('<div class="cpap-hint">Choose one to show it beside the latest.</div>'
                                       if options else '<div class="cpap-hint">No earlier measurements yet.</div>')
            if list(self.earlier_select.options) != options:
                chosen = self.earlier_select.value
                self._syncing = True
                try:
                    self.earlier_select.options = options
                    self.earlier_select.value = chosen if any(o[1] == chosen for o in options) else None
                finally:
                    self._syncing = False
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
        alert_attrs = f' class="cpap-apneas cpap-alert" style="color:{ALERT_COLOR}"' if alert else ' class="cpap-apneas"'
        apnea_html = "—" if apneas is None else f"<span{alert_attrs}>{int(apneas)}</span>"
        commanded = "—" if state.commanded_cmh2o is None else (
            f"{state.commanded_cmh2o} cmH2O at {escape(format_clock(state.commanded_at))}")
        parts = [
            _fact("Room", f'<span class="cpap-station-room">{int(state.room)}</span>', "cpap-fact"),
            _fact("MRN", f'<span class="cpap-station-mrn">{escape(state.mrn) if state.mrn else "—"}</span>', "cpap-fact"),
            _fact("Patient", f'<span class="cpap-station-name">{escape(state.name) if state.name else "—"}</span>', "cpap-fact"),
            _fact("Latest pressure", f'<span class="cpap-station-pressure">'
                  f'{escape(_pressure_text(None if summary is None else summary.cpap_pressure_cmh2o))}</span>', "cpap-fact"),
            _fact("Breath rate", escape(format_number(None if summary is None else summary.breath_rate_bpm, 1, " /min")), "cpap-fact"),
            _fact("Apneas", apnea_html, "cpap-fact"),
            _fact("Apnea index", escape(format_number(None if summary is None else summary.apnea_index, 1, " /h")), "cpap-fact"),
            _fact("Uploaded", f'<span class="cpap-station-uploaded">'
                  f'{escape(format_clock(None if summary is None else summary.recorded_at))}</span>', "cpap-fact"),
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
            timeout_s=LOAD_TIMEOUT_S, name="Loading the earlier measurement",
        )

    def _show_earlier(self, generation: int, measurement: Any) -> None:
        with self._lock:
            if generation != self._generation or self.earlier_select.value != measurement.id:
                return
            if measurement.time_s.size < 2:
                self.earlier_chart.clear()
            else:
                self.earlier_chart.set_data(measurement.time_s, measurement.flow_lps, events=_events(measurement))
            self.earlier_chart.figure.title = f"Measurement · {format_clock(measurement.recorded_at)}"

    # ------------------------------------------------------------ pressure
    def _pressure_ok(self) -> bool:
        try:
            parse_pressure(self.pressure_input.value)
        except CpapError:
            return False
        return self.room is not None

    def _on_pressure_typed(self, change: dict) -> None:
        text = change["new"]
        if not text.strip():
            self.pressure_input.remove_class("cpap-invalid")
            self.send_button.disabled = True
            return
        try:
            parse_pressure(text)
        except CpapError as exc:
            self.pressure_input.add_class("cpap-invalid")
            self.messages.show_error(f"Pressure not accepted: {_reason(exc)}. Nothing was sent.")
            self.send_button.disabled = True
            return
        self.pressure_input.remove_class("cpap-invalid")
        if self.messages.text.startswith("Pressure not accepted"):
            self.messages.clear()
        self.send_button.disabled = self.room is None

    def _on_send(self, _button: Any = None) -> None:
        room = self.room
        try:
            cmh2o = parse_pressure(self.pressure_input.value)
        except CpapError as exc:
            self.messages.show_error(f"Pressure not accepted: {_reason(exc)}. Nothing was sent.")
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
            timeout_s=LOAD_TIMEOUT_S, name="Sending the pressure",
        )

    def _sent(self, generation: int, room: int, cmh2o: int) -> None:
        self.send_button.disabled = not self._pressure_ok()
        self.messages.show_success(
            f"{cmh2o} cmH2O commanded for room {room} at {format_clock(datetime.now().astimezone())}; "
            "the bedside device takes it at its next poll.")
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
        self.flow_image_caption.value = (f'<div class="cpap-hint">Flow image uploaded with the latest measurement '
                                         f'({fmt.upper()})</div>')
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
        self.send_button.disabled = True
        self.messages.clear()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)  # ParameterError.message: without the "name: " prefix


def _nan(value: float | int | None) -> float:
    return float("nan") if value is None else float(value)


def _events(measurement: Any) -> list[dict[str, Any]]:
    events = [{"kind": "apnea", "start_s": start, "end_s": end} for start, end in measurement.apneas]
    events += [{"kind": "hypopnea", "start_s": start, "end_s": end} for start, end in measurement.hypopneas]
    return events
