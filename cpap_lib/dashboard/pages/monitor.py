"""The staff page: the alarm board fills the screen; the monitoring station opens over it.

The board (:class:`~.overview.WardOverview`) takes the whole width of the
screen (20 rooms fit a 1920x1080 wall screen, 8 a 1440x900 laptop, without
scrolling). Clicking a room opens the station as a panel on the right of the
screen, where it is seen whatever the page's scroll; "Close" (or choosing no
room) puts it away.

The overview is built, and its first ward fetched (waiting at most
:data:`FIRST_REFRESH_WAIT_S`), while the notebook runs, so the page opens
with every card in it. The station starts light (room list, pressure entry);
its bqplot charts are built when the first room is shown, and their modules
are imported in the background a moment after the page is built, so the
cards are not held up by them. The overview's one ward request per refresh
also feeds the station's room list; clicking a card shows that room.

Examples
--------
``page = build_monitor(); page`` in a notebook served by Voilà.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

import ipywidgets as widgets

from ...clock import zone_label
from ...errors import CpapError
from ..runtime.connection import client_from_env
from ..widgets.theme import error_page, page_header, style_widget
from .overview import WardOverview

__all__ = ["MonitorPage", "build_monitor", "FIRST_REFRESH_WAIT_S"]

log = logging.getLogger(__name__)

FIRST_REFRESH_WAIT_S = 3.0
"""How long building the page waits for the first ward (it opens anyway after that)."""
CHART_PRELOAD_DELAY_S = 2.0
"""Seconds after building the page before the chart modules are imported in the background."""


class MonitorPage(widgets.VBox):
    """Header, :class:`~.overview.WardOverview` and :class:`~.station.MonitoringStation`, linked.

    Attributes
    ----------
    overview : WardOverview
    station : MonitoringStation
    """

    def __init__(self, client: Any, *, refresh_s: float | None = None, stale_after_s: float | None = None):
        from .station import MonitoringStation

        self.client = client
        self.overview = overview = WardOverview(
            client, refresh_s=refresh_s, stale_after_s=stale_after_s, autostart=False
        )
        self.station = station = MonitoringStation(client)
        overview.on_ward(station.set_ward)
        overview.observe(lambda change: setattr(station, "room", change["new"]), names="selected_room")
        station.observe(lambda change: setattr(overview, "selected_room", change["new"]), names="room")
        station.observe(self._place_station, names="room")
        station.layout.display = "none"
        station.add_class("cpap-station-drawer")
        header = page_header(
            "Sleep Lab Monitor — staff", f"Alarm board · clock times {zone_label()} · server {client.base_url}"
        )
        super().__init__([style_widget(), header, overview, station], layout=widgets.Layout(width="100%"))
        self.add_class("cpap-page")
        self.add_class("cpap-wall")
        overview.poller.start()
        overview.wait_first_refresh(FIRST_REFRESH_WAIT_S)
        preload = threading.Timer(CHART_PRELOAD_DELAY_S, _preload_charts)
        preload.daemon = True
        preload.start()

    def _place_station(self, change: dict) -> None:
        """Open the station where it is seen (a panel over the board) for a room; hide it for none."""
        self.station.layout.display = "none" if change["new"] is None else ""


def _preload_charts() -> None:
    importlib.import_module("cpap_lib.dashboard.widgets.charts")


def build_monitor(
    client: Any = None, *, refresh_s: float | None = None, stale_after_s: float | None = None
) -> widgets.VBox:
    """The staff page (or, if a setting is wrong, a page saying which and why).

    Parameters
    ----------
    client : CpapClient, optional
        Built from ``CPAP_API_URL`` and the staff token when omitted
        (:func:`~.connection.client_from_env`).
    refresh_s, stale_after_s : float, optional
        See :class:`~.overview.WardOverview`.
    """
    try:
        if client is None:
            client = client_from_env(role="staff")
        return MonitorPage(client, refresh_s=refresh_s, stale_after_s=stale_after_s)
    except CpapError as exc:  # a bad setting (CPAP_API_URL, CPAP_REFRESH_S ...): a sentence, not a traceback
        return error_page("Sleep Lab Monitor — staff", exc)
