"""The ward overview: one card per room, refreshed on its own.

Each refresh is ONE request (:meth:`CpapClient.ward`), made in a
:class:`~.poller.Poller` thread with the client's timeout; a failure becomes
a sentence in the page and the cards keep their last values. A card shows
the room, MRN, patient name (escaped), latest CPAP pressure, breath rate,
apnea count (red from :data:`APNEA_ALERT_COUNT`), apnea index and the time of
the latest data, and a "no data" mark when the room has sent nothing for
``stale_after_s``. New rooms get a card by themselves; clicking a card sets
:attr:`WardOverview.selected_room` (the monitoring station follows it).

Widgets change only when their text changes, so an idle ward sends nothing
to the browser.

Examples
--------
>>> from datetime import datetime, timezone
>>> from cpap_lib.dashboard.pages.overview import card_html
>>> now = datetime(2026, 11, 21, 22, 0, tzinfo=timezone.utc)
>>> html = card_html(room=3, mrn="A1", name="<img src=x onerror=alert(1)>", pressure_cmh2o=8,
...                  breath_rate_bpm=14.2, apnea_count=2, apnea_index=6.0,
...                  latest_at=now, now=now, stale_after_s=120)
>>> "&lt;img" in html and "<img" not in html
True
>>> 'class="cpap-value cpap-apneas cpap-alert"' in html
True
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle

from ...clock import as_utc, format_clock
from ...errors import CpapError, ParameterError
from ..widgets.common import MessageBar, escape
from ..widgets.fields import format_number
from ..runtime.poller import Poller, refresh_interval_s
from ..widgets.theme import ALERT_COLOR

__all__ = [
    "APNEA_ALERT_COUNT",
    "DEFAULT_STALE_S",
    "card_html",
    "stale_after_s_from_env",
    "RoomCard",
    "WardOverview",
]

log = logging.getLogger(__name__)

APNEA_ALERT_COUNT = 2
"""An apnea count from this value up is shown in red."""
DEFAULT_STALE_S = 120.0
"""A room that has sent nothing for this long is marked (``CPAP_STALE_S``)."""


def stale_after_s_from_env(environ: dict[str, str] | None = None) -> float:
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


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds // 3600)} h"


def _pressure_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} cmH2O" if float(value).is_integer() else f"{value:.1f} cmH2O"


def card_html(
    *,
    room: int,
    mrn: str | None,
    name: str | None,
    pressure_cmh2o: float | None,
    breath_rate_bpm: float | None,
    apnea_count: int | None,
    apnea_index: float | None,
    latest_at: datetime | str | None,
    now: datetime,
    stale_after_s: float,
) -> str:
    """The HTML of one room card; every text from users is escaped.

    Returns
    -------
    str
        A ``div.cpap-card`` with ``data-room``; the apnea cell has class
        ``cpap-alert`` (red) when ``apnea_count >= APNEA_ALERT_COUNT``, and a
        ``span.cpap-stale`` mark appears when the latest data are older than
        ``stale_after_s`` (or there are none).
    """
    latest = as_utc(latest_at)
    age_s = None if latest is None else max(0.0, (now - latest).total_seconds())
    stale = age_s is None or age_s > stale_after_s
    alert = apnea_count is not None and apnea_count >= APNEA_ALERT_COUNT
    classes = "cpap-card" + (" cpap-card-stale" if stale else "") + (" cpap-card-alert" if alert else "")
    if age_s is None:
        stale_mark = '<span class="cpap-stale" title="This room has sent no measurement yet">no data yet</span>'
    elif stale:
        stale_mark = (f'<span class="cpap-stale" title="Nothing received for more than {stale_after_s:g} s">'
                      f"no data {_age_text(age_s)}</span>")
    else:
        stale_mark = ""
    apnea_class = "cpap-value cpap-apneas" + (" cpap-alert" if alert else "")
    apnea_style = f' style="color:{ALERT_COLOR}"' if alert else ""
    apneas = "—" if apnea_count is None else str(int(apnea_count))
    rows = (
        ("Pressure", "cpap-value cpap-pressure", "", escape(_pressure_text(pressure_cmh2o))),
        ("Breath rate", "cpap-value cpap-rate", "", escape(format_number(breath_rate_bpm, 1, " /min"))),
        ("Apneas", apnea_class, apnea_style, escape(apneas)),
        ("Apnea index", "cpap-value cpap-index", "", escape(format_number(apnea_index, 1, " /h"))),
    )
    table = "".join(f'<tr><td>{label}</td><td class="{cls}"{style}>{value}</td></tr>' for label, cls, style, value in rows)
    return (
        f'<div class="{classes}" data-room="{int(room)}">'
        f'<div class="cpap-card-head"><span class="cpap-room">Room {int(room)}</span>{stale_mark}</div>'
        f'<div class="cpap-name">{escape(name) if name else "<i>no name</i>"}</div>'
        f'<div class="cpap-mrn">MRN <span class="cpap-mrn-value">{escape(mrn) if mrn else "—"}</span></div>'
        f'<table class="cpap-metrics">{table}</table>'
        f'<div class="cpap-updated">Latest data <span class="cpap-time">{escape(format_clock(latest))}</span></div>'
        "</div>"
    )


def room_card_html(state: Any, now: datetime, stale_after_s: float) -> str:
    """:func:`card_html` for one room of :meth:`CpapClient.ward` (a ``RoomState``)."""
    latest = state.latest_measurement
    return card_html(
        room=state.room,
        mrn=state.mrn,
        name=state.name,
        pressure_cmh2o=None if latest is None else latest.cpap_pressure_cmh2o,
        breath_rate_bpm=None if latest is None else latest.breath_rate_bpm,
        apnea_count=None if latest is None else latest.apnea_count,
        apnea_index=None if latest is None else latest.apnea_index,
        latest_at=None if latest is None else latest.recorded_at,
        now=now,
        stale_after_s=stale_after_s,
    )


class RoomCard(widgets.Box):
    """A room's card: its HTML, and a transparent button over it for clicks.

    Parameters
    ----------
    room : int
        The room number.
    on_select : callable
        Called with the room number when the card is clicked.
    """

    def __init__(self, room: int, on_select: Callable[[int], None], shared: dict[str, widgets.Widget] | None = None):
        self.room = int(room)
        shared = shared or RoomCard.shared_styles()
        self.body = widgets.HTML(layout=shared["full_width"], style=shared["html_style"])
        self.select_button = widgets.Button(
            description=f"Room {self.room}", tooltip=f"Show room {self.room} in the monitoring station",
            layout=shared["overlay"], style=shared["button_style"],
        )
        self.select_button.add_class("cpap-card-select")
        self.select_button.on_click(lambda _: on_select(self.room))
        super().__init__([self.body, self.select_button], layout=shared["full_width"])
        self.add_class("cpap-card-box")
        self.add_class(f"cpap-room-{self.room}")

    @staticmethod
    def shared_styles() -> dict[str, widgets.Widget]:
        """Layout and style widgets all cards of a page share (fewer widget models to send)."""
        return {"full_width": widgets.Layout(width="100%"), "overlay": widgets.Layout(width="100%", height="100%"),
                "html_style": HTMLStyle(), "button_style": widgets.ButtonStyle()}

    def set_html(self, html: str) -> None:
        """Show new card HTML (nothing is sent if it did not change)."""
        if self.body.value != html:
            self.body.value = html

    def set_selected(self, selected: bool) -> None:
        """Outline the card of the room the station shows."""
        (self.add_class if selected else self.remove_class)("cpap-selected")


class WardOverview(widgets.VBox):
    """Every room of the ward at once, refreshed every ``refresh_s`` seconds.

    Parameters
    ----------
    client : CpapClient
        The API client (its timeout bounds every refresh).
    refresh_s : float, optional
        Seconds between refreshes; ``CPAP_REFRESH_S`` or 5 s when omitted.
    stale_after_s : float, optional
        Age of the latest data after which a room is marked; ``CPAP_STALE_S`` or 120 s.
    autostart : bool
        Start refreshing at once (a page does; tests may call :meth:`refresh`).

    Attributes
    ----------
    selected_room : int or None
        The room last clicked (observe it).
    ward : Ward or None
        The latest ward state received.
    """

    selected_room = traitlets.Int(None, allow_none=True)

    def __init__(self, client: Any, *, refresh_s: float | None = None, stale_after_s: float | None = None,
                 autostart: bool = True, **kwargs: Any):
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
        self.grid = widgets.Box(layout=widgets.Layout(width="100%"))
        self.grid.add_class("cpap-grid")
        self.empty_note = widgets.HTML('<span class="cpap-hint">No rooms yet: they appear here when a bedside station first uploads.</span>',
                                       layout=widgets.Layout(display="none"))
        title = widgets.HTML('<div class="cpap-section-title">Ward overview</div>')
        super().__init__([title, self.status, self.messages, self.empty_note, self.grid], **kwargs)
        self.add_class("cpap-overview")
        self.poller = Poller(self.refresh, self.refresh_s, name="ward-refresh")
        if autostart:
            self.poller.start()

    # ---------------------------------------------------------------- public
    def on_ward(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(ward)`` after every successful refresh (in the refresh thread)."""
        self._listeners.append(callback)

    def wait_first_refresh(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the first refresh has finished or failed.

        A page built with the first ward already in it shows every card at once.
        """
        return self._first_refresh.wait(timeout_s)

    def refresh(self) -> bool:
        """Fetch the ward (one request) and show it; return whether it worked."""
        try:
            return self._refresh()
        finally:
            self._first_refresh.set()

    def _refresh(self) -> bool:
        try:
            ward = self.client.ward()
        except CpapError as exc:
            when = format_clock(getattr(self.ward, "generated_at", None)) if self.ward is not None else None
            kept = f" Showing the data received at {when}." if when else ""
            self.messages.show_error(f"The ward could not be refreshed: {exc}.{kept} Retrying every {self.refresh_s:g} s.")
            return False
        self.show_ward(ward)
        if self.messages.level == "error":
            self.messages.clear()
        for callback in list(self._listeners):
            try:
                callback(ward)
            except CpapError as exc:
                self.messages.show_error(exc)
        return True

    def show_ward(self, ward: Any, now: datetime | None = None) -> None:
        """Show ``ward`` (from :meth:`CpapClient.ward`): update, add and remove cards."""
        now = now or as_utc(getattr(ward, "generated_at", None)) or datetime.now(timezone.utc)
        rooms = sorted(ward.rooms, key=lambda r: r.room)
        with self._lock:
            self.ward = ward
            self.refresh_count += 1
            for state in rooms:
                card = self._cards.get(state.room)
                if card is None:
                    card = self._cards[state.room] = RoomCard(state.room, self._select, self._card_styles)
                    card.set_selected(state.room == self.selected_room)
                card.set_html(room_card_html(state, now, self.stale_after_s))
            present = {r.room for r in rooms}
            for gone in set(self._cards) - present:
                self._cards.pop(gone).close()
            ordered = tuple(self._cards[r.room] for r in rooms)
            if self.grid.children != ordered:
                self.grid.children = ordered
            self.empty_note.layout.display = "none" if rooms else ""
            alerts = sum(1 for r in rooms if r.latest_measurement is not None
                         and (r.latest_measurement.apnea_count or 0) >= APNEA_ALERT_COUNT)
            status = (f'<span class="cpap-status">{len(rooms)} room{"s" if len(rooms) != 1 else ""}'
                      f' · {alerts} with {APNEA_ALERT_COUNT}+ apneas · refreshed {escape(format_clock(now))}'
                      f' · every {self.refresh_s:g} s · click a card to open the room</span>')
            if self.status.value != status:
                self.status.value = status

    @property
    def rooms(self) -> list[int]:
        """Room numbers with a card, in order."""
        return [card.room for card in self.grid.children]

    def card(self, room: int) -> RoomCard:
        """The card of ``room``."""
        return self._cards[room]

    def stop(self) -> None:
        """Stop refreshing."""
        self.poller.stop()

    # --------------------------------------------------------------- private
    def _select(self, room: int) -> None:
        self.selected_room = room

    @traitlets.observe("selected_room")
    def _outline_selected(self, change: dict) -> None:
        with self._lock:
            for number, card in self._cards.items():
                card.set_selected(number == change["new"])
