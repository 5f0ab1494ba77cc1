"""The alarm board: one tile per room, sorted by what needs a nurse first, refreshed on its own.

Each refresh is ONE request (:meth:`CpapClient.alarm_board`), made in a
:class:`~cpap_lib.dashboard.runtime.poller.Poller` thread with the client's
timeout; a failure (or an answer of another shape) becomes a sentence in the
page and the tiles keep their last values.

A tile shows the room, the patient (escaped) and MRN, the alarm state and
its sentence (rules: :mod:`cpap_lib.server.alarms`; "no data" is the
loudest), AHI over the last 30 and 60 minutes and over the night, the
current pressure, minutes since the last data and the leak when known.
Tiles come in the server's order: unacknowledged alarms loudest first, then
acknowledged ones, then rooms without alarm, then empty rooms. An alarm is
acknowledged from its tile (who and a note); it shows as acknowledged until
its state changes. Clicking a tile sets :attr:`WardOverview.selected_room`
(the monitoring station opens for it). Clock times are the lab's
(:mod:`cpap_lib.clock`).

Widgets change only when their text changes, so an idle ward sends nothing
to the browser.

Examples
--------
>>> from datetime import datetime, timezone
>>> from types import SimpleNamespace as NS
>>> from cpap_lib.dashboard.pages.overview import tile_html
>>> now = datetime(2026, 11, 21, 22, 0, tzinfo=timezone.utc)
>>> alarm = NS(state="ahi_high", alarms=["ahi_high"], detail="AHI 18.0/h over the last 30 min (alarm from 15/h)",
...            acknowledged=None, ahi_30min=18.0, ahi_60min=12.5, ahi_night=9.0, minutes_since_data=1.0,
...            leak_lpm=None, since=now)
>>> room = NS(room=103, mrn="A1", name="<img src=x onerror=alert(1)>", alarm=alarm,
...           latest_measurement=NS(cpap_pressure_cmh2o=9.0))
>>> html = tile_html(room)
>>> "&lt;img" in html and "<img" not in html, 'data-state="ahi_high"' in html
(True, True)
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle

from ...clock import as_utc, format_clock
from ...errors import CpapError, ParameterError
from ..runtime.poller import Poller, refresh_interval_s
from ..widgets.common import MessageBar, escape, run_in_background
from ..widgets.fields import format_number, on_enter
from ..widgets.theme import STATE_LABELS

__all__ = [
    "APNEA_ALERT_COUNT",
    "DEFAULT_STALE_S",
    "RoomCard",
    "WardOverview",
    "stale_after_s_from_env",
    "tile_html",
]

log = logging.getLogger(__name__)

APNEA_ALERT_COUNT = 2
"""The bedside page shows an apnea count from this value up in red (one recording, not a room's alarm)."""
DEFAULT_STALE_S = 120.0
"""Kept for ``CPAP_STALE_S`` (the server's no-data rule decides the alarm now)."""
ACK_TIMEOUT_S = 20.0


def stale_after_s_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The stale threshold from ``CPAP_STALE_S`` (5 s to 1 day), default 120 s.

    Examples
    --------
    >>> stale_after_s_from_env({"CPAP_STALE_S": "30"}), stale_after_s_from_env({})
    (30.0, 120.0)
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("CPAP_STALE_S", "").strip()
    if not raw:
        return DEFAULT_STALE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 5 <= value <= 86_400:
        raise ParameterError("CPAP_STALE_S", f"must be a number of seconds from 5 to 86400, got {raw!r}")
    return value


def _pressure_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} cmH2O" if float(value).is_integer() else f"{value:.1f} cmH2O"


def _minutes_text(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 1:
        return "< 1 min"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h"


def tile_html(room: Any) -> str:
    """The HTML of one room's tile (a room of :meth:`CpapClient.alarm_board`); user text is escaped.

    Returns
    -------
    str
        A ``div.cpap-card`` with ``data-room`` and ``data-state``; the state
        badge is ``span.cpap-state``, an acknowledgement ``div.cpap-ack``.
    """
    alarm = room.alarm
    state = alarm.state
    label = STATE_LABELS.get(state, state)
    acknowledged = alarm.acknowledged
    is_open = state not in ("ok", "empty") and acknowledged is None
    classes = (
        f"cpap-card cpap-state-{state}"
        + (" cpap-acknowledged" if acknowledged is not None else "")
        + (" cpap-open" if is_open else "")
    )
    latest = room.latest_measurement
    pressure = None if latest is None else latest.cpap_pressure_cmh2o
    rows = (
        ("AHI 30 min", "cpap-ahi30", format_number(alarm.ahi_30min, 1, " /h")),
        ("AHI 60 min", "cpap-ahi60", format_number(alarm.ahi_60min, 1, " /h")),
        ("AHI night", "cpap-ahi-night", format_number(alarm.ahi_night, 1, " /h")),
        ("Pressure", "cpap-pressure", _pressure_text(pressure)),
        (
            "Last data",
            "cpap-since",
            _minutes_text(alarm.minutes_since_data) + (" ago" if alarm.minutes_since_data is not None else ""),
        ),
        ("Leak", "cpap-leak", format_number(alarm.leak_lpm, 0, " L/min")),
    )
    cells = "".join(
        f'<div class="cpap-metric"><span class="cpap-metric-label">{label_}</span>'
        f'<span class="cpap-value {css}">{escape(value)}</span></div>'
        for label_, css, value in rows
    )
    if acknowledged is not None:
        note = f": {escape(acknowledged.note)}" if acknowledged.note else ""
        ack = (
            f'<div class="cpap-ack">Acknowledged by <span class="cpap-ack-by">{escape(acknowledged.acknowledged_by)}</span>'
            f" at {escape(format_clock(acknowledged.acknowledged_at))}{note}</div>"
        )
    else:
        ack = ""
    badge = f'<span class="cpap-state" title="{escape(alarm.detail)}">{escape(label)}</span>'
    if state == "empty":
        who = '<div class="cpap-name"><i>no patient</i></div>'
    else:
        who = (
            f'<div class="cpap-name">{escape(room.name) if room.name else "<i>no name</i>"}</div>'
            f'<div class="cpap-mrn">MRN <span class="cpap-mrn-value">{escape(room.mrn) if room.mrn else "—"}</span></div>'
        )
    return (
        f'<div class="{classes}" data-room="{int(room.room)}" data-state="{escape(state)}">'
        f'<div class="cpap-card-head"><span class="cpap-room">Room {int(room.room)}</span>{badge}</div>'
        f"{who}"
        f'<div class="cpap-detail">{escape(alarm.detail)}</div>'
        f'<div class="cpap-metrics">{cells}</div>{ack}'
        "</div>"
    )


class RoomCard(widgets.Box):
    """A room's tile: its HTML, a transparent button over it (open the room) and, on alarm, "Acknowledge".

    Parameters
    ----------
    room : int
        The room number.
    on_select : callable
        Called with the room number when the tile is clicked.
    on_acknowledge : callable, optional
        Called with the room number when its Acknowledge button is clicked.
    """

    def __init__(
        self,
        room: int,
        on_select: Callable[[int], None],
        shared: dict[str, Any] | None = None,
        on_acknowledge: Callable[[int], None] | None = None,
    ):
        self.room = int(room)
        shared = shared or RoomCard.shared_styles()
        self.body = widgets.HTML(layout=shared["full_width"], style=shared["html_style"])
        self.select_button = widgets.Button(
            description=f"Room {self.room}",
            tooltip=f"Open room {self.room} in the monitoring station",
            layout=shared["overlay"],
            style=shared["button_style"],
        )
        self.select_button.add_class("cpap-card-select")
        self.select_button.on_click(lambda _: on_select(self.room))
        self._shared = shared
        self.ack_button = widgets.Button(
            description="Acknowledge",
            icon="check",
            tooltip=f"Acknowledge room {self.room}'s alarm",
            layout=shared["hidden"],
            style=shared["button_style"],
        )
        self.ack_button.add_class("cpap-ack-button")
        if on_acknowledge is not None:
            self.ack_button.on_click(lambda _: on_acknowledge(self.room))
        super().__init__([self.body, self.select_button, self.ack_button], layout=shared["full_width"])
        self.add_class("cpap-card-box")
        self.add_class(f"cpap-room-{self.room}")
        self.state = ""

    @staticmethod
    def shared_styles() -> dict[str, Any]:
        """Layout and style widgets all tiles of a page share (fewer widget models to send)."""
        return {
            "full_width": widgets.Layout(width="100%"),
            "overlay": widgets.Layout(width="100%", height="100%"),
            "html_style": HTMLStyle(),
            "button_style": widgets.ButtonStyle(),
            "shown": widgets.Layout(width="auto"),
            "hidden": widgets.Layout(display="none", width="auto"),
        }

    def show(self, room: Any) -> None:
        """Show the room's latest tile (nothing is sent for what did not change)."""
        html = tile_html(room)
        if self.body.value != html:
            self.body.value = html
        alarm = room.alarm
        self.state = alarm.state
        can_ack = alarm.state not in ("ok", "empty") and alarm.acknowledged is None
        layout = self._shared["shown" if can_ack else "hidden"]  # shared layouts: no widget model per tile
        if self.ack_button.layout is not layout:
            self.ack_button.layout = layout

    def set_selected(self, selected: bool) -> None:
        """Outline the tile of the room the station shows."""
        (self.add_class if selected else self.remove_class)("cpap-selected")


class AcknowledgeForm(widgets.VBox):
    """Acknowledge one room's alarm: who (kept for the next one) and a note; Enter in the note sends."""

    def __init__(self, on_send: Callable[[int, str, str], None]):
        self.room: int | None = None
        self._on_send = on_send
        self.title = widgets.HTML()
        self.who_input = widgets.Text(
            description="Your name",
            placeholder="who acknowledges",
            layout=widgets.Layout(width="300px"),
            continuous_update=True,
        )
        self.who_input.add_class("cpap-ack-who")
        self.note_input = widgets.Text(
            description="Note", placeholder="what was done (optional)", layout=widgets.Layout(width="460px")
        )
        self.note_input.add_class("cpap-ack-note")
        on_enter(self.note_input, self.send)
        self.send_button = widgets.Button(description="Acknowledge", button_style="primary", icon="check")
        self.send_button.add_class("cpap-ack-send")
        self.send_button.on_click(lambda _: self.send())
        self.cancel_button = widgets.Button(description="Cancel")
        self.cancel_button.add_class("cpap-ack-cancel")
        self.cancel_button.on_click(lambda _: self.close_form())
        super().__init__(
            [self.title, widgets.HBox([self.who_input, self.note_input, self.send_button, self.cancel_button])],
            layout=widgets.Layout(display="none", width="100%"),
        )
        self.add_class("cpap-ack-form")
        self.add_class("cpap-panel")

    def open_for(self, room: int, label: str) -> None:
        self.room = int(room)
        self.title.value = f'<div class="cpap-section-title">Acknowledge room {int(room)}: {escape(label)}</div>'
        self.note_input.value = ""
        self.send_button.disabled = False
        self.layout.display = ""

    def close_form(self) -> None:
        self.room = None
        self.layout.display = "none"

    def send(self) -> None:
        if self.room is None:
            return
        self.send_button.disabled = True
        self._on_send(self.room, self.who_input.value.strip(), self.note_input.value.strip())


class WardOverview(widgets.VBox):
    """The alarm board: every room of the ward at once, refreshed every ``refresh_s`` seconds.

    Parameters
    ----------
    client : CpapClient
        The API client (its timeout bounds every refresh).
    refresh_s : float, optional
        Seconds between refreshes; ``CPAP_REFRESH_S`` or 5 s when omitted.
    stale_after_s : float, optional
        Accepted for compatibility (``CPAP_STALE_S``); the server's no-data rule marks rooms now.
    autostart : bool
        Start refreshing at once (a page does; tests may call :meth:`refresh`).

    Attributes
    ----------
    selected_room : int or None
        The room last clicked (observe it).
    ward : AlarmBoardPublic or None
        The latest board received (its ``rooms`` in the board's order).
    """

    selected_room = traitlets.Int(None, allow_none=True)

    def __init__(
        self,
        client: Any,
        *,
        refresh_s: float | None = None,
        stale_after_s: float | None = None,
        autostart: bool = True,
        **kwargs: Any,
    ):
        self.client = client
        self.refresh_s = refresh_interval_s() if refresh_s is None else float(refresh_s)
        self.stale_after_s = stale_after_s_from_env() if stale_after_s is None else float(stale_after_s)
        self.ward: Any = None
        self.refresh_count = 0
        self._cards: dict[int, RoomCard] = {}
        self._card_styles = RoomCard.shared_styles()
        self._first_refresh = threading.Event()
        self._listeners: list[Callable[[Any], None]] = []
        self._lock = threading.RLock()
        self.messages = MessageBar()
        self.status = widgets.HTML('<span class="cpap-status">Loading the ward…</span>')
        self.ack_form = AcknowledgeForm(self._send_acknowledgement)
        self.grid = widgets.Box(layout=widgets.Layout(width="100%"))
        self.grid.add_class("cpap-grid")
        self.empty_note = widgets.HTML(
            '<span class="cpap-hint">No rooms yet: they appear here when a bedside station first uploads.</span>',
            layout=widgets.Layout(display="none"),
        )
        super().__init__([self.status, self.messages, self.ack_form, self.empty_note, self.grid], **kwargs)
        self.add_class("cpap-overview")
        self.poller = Poller(self.refresh, self.refresh_s, name="ward-refresh")
        if autostart:
            self.poller.start()

    # ---------------------------------------------------------------- public
    def on_ward(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(board)`` after every successful refresh (in the refresh thread)."""
        self._listeners.append(callback)

    def wait_first_refresh(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the first refresh has finished or failed."""
        return self._first_refresh.wait(timeout_s)

    def refresh(self) -> bool:
        """Fetch the alarm board (one request) and show it; return whether it worked."""
        try:
            return self._refresh()
        finally:
            self._first_refresh.set()

    def _refresh(self) -> bool:
        try:
            board = self.client.alarm_board()
        except CpapError as exc:
            when = format_clock(getattr(self.ward, "generated_at", None)) if self.ward is not None else None
            kept = f" Showing the data received at {when}." if when else ""
            self.messages.show_error(
                f"The ward could not be refreshed: {exc}.{kept} Retrying every {self.refresh_s:g} s."
            )
            if self.ward is None:
                self.status.value = '<span class="cpap-status">The ward has not been loaded yet.</span>'
            return False
        self.show_ward(board)
        if self.messages.level == "error" and self.messages.text.startswith("The ward could not"):
            self.messages.clear()
        for callback in list(self._listeners):
            try:
                callback(board)
            except CpapError as exc:
                self.messages.show_error(exc)
        return True

    def show_ward(self, board: Any) -> None:
        """Show ``board`` (from :meth:`CpapClient.alarm_board`): update, add, remove and order tiles."""
        rooms = list(board.rooms)
        now = as_utc(getattr(board, "generated_at", None)) or datetime.now(UTC)
        with self._lock:
            self.ward = board
            self.refresh_count += 1
            for state in rooms:
                card = self._cards.get(state.room)
                if card is None:
                    card = self._cards[state.room] = RoomCard(
                        state.room, self._select, self._card_styles, on_acknowledge=self._open_acknowledge
                    )
                    card.set_selected(state.room == self.selected_room)
                card.show(state)
            present = {r.room for r in rooms}
            for gone in set(self._cards) - present:
                self._cards.pop(gone).close()
            ordered = tuple(self._cards[r.room] for r in rooms)
            if self.grid.children != ordered:
                self.grid.children = ordered
            self.empty_note.layout.display = "none" if rooms else ""
            open_alarms = sum(1 for r in rooms if r.alarm.state not in ("ok", "empty") and r.alarm.acknowledged is None)
            status = (
                f'<span class="cpap-status">{len(rooms)} room{"s" if len(rooms) != 1 else ""}'
                f' · <b class="cpap-open-alarms">{open_alarms}</b> alarm{"s" if open_alarms != 1 else ""} to acknowledge'
                f" · refreshed {escape(format_clock(now))} · every {self.refresh_s:g} s"
                " · rooms needing a nurse first · click a room to open it</span>"
            )
            if self.status.value != status:
                self.status.value = status

    @property
    def rooms(self) -> list[int]:
        """Room numbers with a tile, in the board's order."""
        return [card.room for card in self.grid.children]

    def card(self, room: int) -> RoomCard:
        """The tile of ``room``."""
        return self._cards[room]

    def stop(self) -> None:
        """Stop refreshing."""
        self.poller.stop()

    # ----------------------------------------------------- acknowledgement
    def acknowledge(self, room: int, who: str = "", note: str = "") -> None:
        """Acknowledge ``room``'s alarm in the background (who is sent with the note, as the form does)."""
        self._send_acknowledgement(room, who, note)

    def _open_acknowledge(self, room: int) -> None:
        card = self._cards.get(room)
        label = STATE_LABELS.get(card.state, card.state) if card else ""
        self.ack_form.open_for(room, label)

    def _send_acknowledgement(self, room: int, who: str, note: str) -> None:
        self.messages.show_info(f"Acknowledging room {room}…")
        run_in_background(
            lambda: self.client.acknowledge_alarm(room, note=note or None, by=who or None),
            on_done=lambda ack: self._acknowledged(room, ack),
            on_error=lambda exc: self._acknowledge_failed(room, exc),
            timeout_s=ACK_TIMEOUT_S,
            name="The acknowledgement",
        )

    def _acknowledged(self, room: int, ack: Any) -> None:
        self.ack_form.close_form()
        self.messages.show_success(
            f"Room {room} acknowledged by {ack.acknowledged_by} at {format_clock(ack.acknowledged_at)}."
        )
        self.poller.poke()

    def _acknowledge_failed(self, room: int, exc: BaseException) -> None:
        self.ack_form.send_button.disabled = False
        self.messages.show_error(f"Room {room} was not acknowledged: {exc}")

    # --------------------------------------------------------------- private
    def _select(self, room: int) -> None:
        self.selected_room = room

    @traitlets.observe("selected_room")
    def _outline_selected(self, change: dict) -> None:
        with self._lock:
            for number, card in self._cards.items():
                card.set_selected(number == change["new"])
