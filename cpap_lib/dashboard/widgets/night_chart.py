"""The explorer's chart: flow with stacked, linked channels and event lanes on one clock-time axis.

:class:`NightChart` shows, top to bottom and sharing one x scale (a zoom or
pan in any panel moves them all):

- the flow (breaths marked, our apneas and hypopnea candidates shaded);
- one small panel per channel the recording has (:data:`CHANNELS`): the mask
  pressure (``Recording.pressure_cmh2o``, else the ``"pressure"`` signal),
  leak, respiratory rate, tidal volume, SpO2 and pulse from
  ``Recording.signals``; a channel the recording lacks is hidden;
- event lanes: one row per event type, ours and the device's, each in its
  own colour (:data:`LANES`) with a legend. A click on an event's mark zooms
  every panel to it (:attr:`NightChart.on_event_click` callbacks are told).

**Time axis.** Where the recording has a start time the axis reads clock
time: an aware ``start_time`` is converted to the lab's zone
(:func:`cpap_lib.clock.to_lab_time`, ``CPAP_LAB_TZ``); a naive one (ResMed
EDF headers record the device's own wall clock, set where the lab is) is shown
as recorded. Without a start time (the lab's text files) the axis reads
elapsed time, ``H:MM:SS`` since the recording's time 0. Positions in the API
(:meth:`NightChart.zoom`, :attr:`NightChart.visible_range`) are always seconds
in the recording's own time base.

**Decimation.** The figures, scales and marks are built once; new data and
every change of the visible window only assign new arrays. Each line gets at
most ``max_points`` (flow) or ``max_channel_points`` (channels) points of the
visible window (MinMaxLTTB, :func:`cpap_lib.analysis.decimate.window`),
re-decimated on every zoom, so an 8-hour night at 25 Hz stays smooth.

Examples
--------
>>> import numpy as np
>>> from datetime import datetime, tzinfo
>>> from cpap_lib.recording import Recording, Signal
>>> t = np.arange(0, 8 * 3600, 0.04)
>>> rec = Recording(time_s=t, flow_lps=0.4 * np.sin(2 * np.pi * t / 4), fs_hz=25.0,
...                 pressure_cmh2o=np.full(t.size, 9.0), start_time=datetime(2024, 10, 17, 22, 18, 49),
...                 signals={"leak": Signal("leak", "L/min", np.arange(0, 28800, 2.0), np.full(14400, 6.0))})
>>> chart = NightChart(max_points=2000, max_channel_points=1000)
>>> chart.set_data(rec, events=[{"kind": "apnea", "start_s": 100.0, "end_s": 115.0}],
...                device_events=[{"kind": "central_apnea", "label": "Central Apnea", "start_s": 3600.0, "end_s": 3610.0}])
>>> chart.flow_points, chart.channels_shown, chart.axis_label
(2000, ['pressure', 'leak'], 'clock time')
>>> chart.channel_points("leak") <= 1000, chart.lanes_shown
(True, ['ours:apnea', 'device:central_apnea'])
>>> chart.click_event(1)                      # what a click on the device's apnea does
>>> chart.visible_range
(3580.0, 3630.0)
>>> chart.clock_label(3600.0)
'23:18:49'
>>> chart.clear(); chart.points_sent
0
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ...analysis.decimate import window
from ...clock import format_elapsed, to_lab_time, zone_label
from ...errors import ParameterError
from ...recording import Recording
from .charts import (
    BREATH_COLOR,
    EVENT_COLORS,
    FLOW_COLOR,
    TimeWindow,
    _gap_midpoints,
    events_to_spans,
    set_shading,
    with_gap_breaks,
)
from .common import escape

__all__ = ["CHANNELS", "LANES", "NightChart", "clock_origin"]

CHANNELS = (
    ("pressure", "P", "cmH2O", "#1f77b4"),
    ("leak", "Leak", "L/min", "#8c564b"),
    ("resp_rate", "Rate", "bpm", "#2ca02c"),
    ("tidal_volume", "Vt", "L", "#9467bd"),
    ("spo2", "SpO2", "%", "#d62728"),
    ("pulse", "Pulse", "bpm", "#e377c2"),
)
"""The stacked channels: (``Recording.signals`` name, short title, unit, colour), top to bottom
(pressure, leak, respiratory rate, tidal volume, SpO2, pulse)."""

LANES = (
    ("ours:apnea", "apnea (ours)", "apnea (ours)", EVENT_COLORS["apnea"]),
    ("ours:hypopnea", "hypopnea candidate (ours)", "hypopnea (ours)", EVENT_COLORS["hypopnea"]),
    ("device:obstructive_apnea", "obstructive apnea (device)", "obstructive (dev.)", "#6a1b9a"),
    ("device:central_apnea", "central apnea (device)", "central (dev.)", "#1565c0"),
    ("device:apnea", "apnea, unclassified (device)", "apnea (dev.)", "#ad1457"),
    ("device:hypopnea", "hypopnea (device)", "hypopnea (dev.)", "#00897b"),
    ("device:arousal", "arousal / RERA (device)", "arousal (dev.)", "#6d4c41"),
    ("device:other", "other (device)", "other (dev.)", "#616161"),
)
"""Event lanes: (key ``source:kind``, legend text, lane label, colour). Device kinds are
:data:`cpap_lib.io.resmed.files.EVENT_KINDS`."""
_LANE_INDEX = {lane[0]: i for i, lane in enumerate(LANES)}
_MS = np.timedelta64(1, "ms")
_EVENT_COLUMNS = ("lane", "kind", "label", "start_s", "end_s", "source", "amplitude_ratio")


def clock_origin(start_time: datetime | None, tz: tzinfo | None = None) -> tuple[np.datetime64, bool]:
    """The axis value of time 0 and whether the axis is a clock (see the module docstring).

    ``tz`` is the lab's zone (default :func:`cpap_lib.clock.lab_timezone`).

    >>> from datetime import timezone
    >>> from cpap_lib.clock import lab_timezone
    >>> [(str(t), clock) for t, clock in [clock_origin(None),
    ...   clock_origin(datetime(2026, 3, 3, 21, 5, tzinfo=timezone.utc), lab_timezone("Europe/Berlin")),
    ...   clock_origin(datetime(2024, 10, 17, 22, 18, 49))]]
    [('1970-01-01T00:00:00.000', False), ('2026-03-03T22:05:00.000', True), ('2024-10-17T22:18:49.000', True)]
    """
    if start_time is None:
        return np.datetime64(0, "ms"), False
    if start_time.tzinfo is not None:
        start_time = to_lab_time(start_time, tz).replace(tzinfo=None)
    return np.datetime64(start_time, "ms"), True


def _finite(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(v) & np.isfinite(t)
    return t[keep], v[keep]


def _y_range(values: np.ndarray, floor: float = 0.05) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = max(0.1 * (hi - lo), floor)
    return lo - pad, hi + pad


def _event_frame(events: Any) -> pd.DataFrame:
    if events is None:
        return pd.DataFrame(columns=["kind", "start_s", "end_s"])
    frame = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    if frame.empty:
        return pd.DataFrame(columns=["kind", "start_s", "end_s"])
    missing = {"kind", "start_s", "end_s"} - set(frame.columns)
    if missing:
        raise ParameterError("events", f"missing columns {sorted(missing)}; need kind, start_s, end_s")
    return frame


def _show(figure: bq.Figure, height: str | None, pan_zoom: bq.Scale | None = None) -> None:
    """Show a panel at ``height``, or hide it (``None``).

    Hidden panels get height 0, not ``display: none``: a bqplot figure
    rendered while not displayed never lays itself out again, while a change
    of height makes it do so. With ``pan_zoom`` (the shared x scale) the
    panel gets its own PanZoom the first time it is shown: one PanZoom shared
    by several figures zooms none, and one created in a figure of height 0
    fails to render in the browser.
    """
    figure.layout.height = height or "0px"
    figure.layout.visibility = "visible" if height else "hidden"
    if height and pan_zoom is not None and figure.interaction is None:
        figure.interaction = bq.PanZoom(scales={"x": [pan_zoom]})


class NightChart(TimeWindow, widgets.VBox):
    """Flow, stacked channels and event lanes sharing one zoomable time axis.

    Parameters
    ----------
    max_points : int
        Most flow points sent to the browser.
    max_channel_points : int
        Most points of each channel sent to the browser.
    max_breath_marks : int
        Breaths are marked only when at most this many are in the window.
    flow_height, channel_height, lanes_height : str
        CSS heights of the flow panel, each channel panel and the event lanes.

    Attributes
    ----------
    figure : bqplot.Figure
        The flow panel; ``channel_figures[name]`` the channel panels,
        ``lanes_figure`` the event lanes (all on :attr:`x_scale`: seconds, with clock-time tick labels).
    flow_line, breath_marks, apnea_shading, hypopnea_shading, channel_lines, lane_lines, event_marks
        The bqplot marks (built once).
    events : DataFrame
        Every event on the lanes (``lane``, ``kind``, ``start_s``, ``end_s``,
        ``source``), in the order of :attr:`event_marks`' points.
    on_event_click : list of callables
        Called with the event's row index in :attr:`events` after a click zoomed to it.
    """

    def __init__(
        self,
        *,
        max_points: int = 3000,
        max_channel_points: int = 1500,
        max_breath_marks: int = 1000,
        flow_height: str = "250px",
        channel_height: str = "92px",
        lanes_height: str = "130px",
        png_name: str = "night.png",
        **kwargs: Any,
    ):
        if max_points < 3 or max_channel_points < 3:
            raise ParameterError("max_points", f"must be at least 3, got {min(max_points, max_channel_points)}")
        self.max_points = int(max_points)
        self.max_channel_points = int(max_channel_points)
        self.max_breath_marks = int(max_breath_marks)
        self.png_name = png_name
        self._channel_height = channel_height
        self.on_event_click: list[Callable[[int], None]] = []
        self._origin, self._is_clock = clock_origin(None)
        self._time = np.zeros(0)
        self._flow = np.zeros(0)
        self._gaps = np.zeros(0)
        self._peak_s = np.zeros(0)
        self._peak_flow = np.zeros(0)
        self._tick = 0.1
        self._channels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._drawn_window: tuple[float, float] | None = None
        self._updating = False
        self._breaths_marked = 0
        self.events = pd.DataFrame(columns=list(_EVENT_COLUMNS))
        self.device_events_note = ""
        self.last_update_s = 0.0
        """Kernel time of the latest re-decimation (seconds)."""

        self.x_scale = bq.LinearScale()
        """The marks' time scale: seconds in the recording's time base (PanZoom moves it)."""
        self.time_scale = bq.DateScale()
        """The axes' scale: the same window as clock (or elapsed) time, set from :attr:`x_scale` on every change."""
        margin = {"top": 8, "bottom": 22, "left": 110, "right": 20}  # one left margin: the panels' times line up
        self.pan_zoom = bq.PanZoom(scales={"x": [self.x_scale]})

        # flow panel
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        shade = {"scales": scales, "fill": "inside", "close_path": True, "stroke_width": 1, "x": [], "y": []}
        self.hypopnea_shading = bq.Lines(
            colors=[EVENT_COLORS["hypopnea"]], fill_colors=[EVENT_COLORS["hypopnea"]], fill_opacities=[0.3], **shade
        )
        self.apnea_shading = bq.Lines(
            colors=[EVENT_COLORS["apnea"]], fill_colors=[EVENT_COLORS["apnea"]], fill_opacities=[0.3], **shade
        )
        self.flow_line = bq.Lines(x=[], y=[], scales=scales, colors=[FLOW_COLOR], stroke_width=1.2)
        self.breath_marks = bq.Lines(x=[], y=[], scales=scales, colors=[BREATH_COLOR], stroke_width=2)
        self.x_axis = bq.Axis(scale=self.time_scale, grid_lines="solid", grid_color="#eee", tick_format="%H:%M:%S")
        self.figure = bq.Figure(
            marks=[self.hypopnea_shading, self.apnea_shading, self.flow_line, self.breath_marks],
            axes=[self.x_axis, bq.Axis(scale=self.y_scale, side="left", label="flow (L/s)", grid_lines="dashed")],
            interaction=self.pan_zoom,
            fig_margin={**margin, "top": 10, "bottom": 40},
            animation_duration=0,
            layout=widgets.Layout(width="100%", height=flow_height),
        )
        self.figure.add_class("cpap-flow-chart")

        # channel panels
        self.channel_lines: dict[str, bq.Lines] = {}
        self.channel_figures: dict[str, bq.Figure] = {}
        self._channel_scales: dict[str, bq.LinearScale] = {}
        for name, title, unit, colour in CHANNELS:
            y_scale = bq.LinearScale()
            line = bq.Lines(x=[], y=[], scales={"x": self.x_scale, "y": y_scale}, colors=[colour], stroke_width=1.2)
            fig = bq.Figure(
                marks=[line],
                axes=[
                    bq.Axis(
                        scale=self.time_scale, grid_lines="solid", grid_color="#eee", tick_style={"display": "none"}
                    ),
                    bq.Axis(
                        scale=y_scale,
                        side="left",
                        label=f"{title} {unit}",
                        num_ticks=3,
                        grid_lines="dashed",
                        label_offset="55px",
                    ),
                ],
                # a PanZoom of its own, given when first shown (see _show)
                fig_margin={**margin, "bottom": 6, "top": 6},
                animation_duration=0,
                layout=widgets.Layout(width="100%", height="0px", visibility="hidden"),
            )
            fig.add_class("cpap-channel")
            fig.add_class(f"cpap-channel-{name.replace('_', '-')}")
            self.channel_lines[name], self.channel_figures[name], self._channel_scales[name] = line, fig, y_scale

        # event lanes: one path per lane (NaN-separated bars) and one clickable mark per event
        self.lanes_y = bq.LinearScale(min=-0.5, max=0.5, reverse=True)
        lane_scales = {"x": self.x_scale, "y": self.lanes_y}
        self.lane_lines = bq.Lines(
            x=[],
            y=[],
            scales=lane_scales,
            colors=[lane[-1] for lane in LANES],
            stroke_width=9,
            opacities=[0.85] * len(LANES),
        )
        self.event_marks = bq.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            scales=lane_scales,
            marker="diamond",
            default_size=90,
            colors=["#000"],
            stroke="white",
        )
        self.event_marks.on_element_click(self._on_mark_click)
        self.lanes_axis = bq.Axis(
            scale=self.lanes_y, side="left", tick_values=[], grid_lines="none", tick_style={"font-size": "10px"}
        )
        self.lanes_x_axis = bq.Axis(
            scale=self.time_scale, grid_lines="solid", grid_color="#eee", tick_format="%H:%M:%S"
        )
        self.lanes_figure = bq.Figure(
            marks=[self.lane_lines, self.event_marks],
            axes=[self.lanes_x_axis, self.lanes_axis],
            fig_margin={**margin, "bottom": 24, "top": 4},
            animation_duration=0,
            layout=widgets.Layout(width="100%", height="0px", visibility="hidden"),
        )
        self.lanes_figure.add_class("cpap-event-lanes")

        toolbar = self._toolbar("Download the panels as PNG images")
        self.legend = widgets.HTML()
        self.legend.add_class("cpap-chart-legend")
        self.x_scale.observe(self._on_scale_change, names=["min", "max"])
        super().__init__(
            [
                toolbar,
                self.figure,
                *self.channel_figures.values(),
                self.lanes_figure,
                self.legend,
            ],
            **kwargs,
        )
        self.add_class("cpap-night-chart")
        self._update_legend()
        self._update_status()

    # ------------------------------------------------------------------ time axis
    @staticmethod
    def _x(seconds: Any) -> np.ndarray:
        """Axis values of times in seconds (the axis is in seconds; its tick labels read clock time)."""
        return np.asarray(seconds, dtype=np.float64)

    def seconds(self, axis_values: Any) -> np.ndarray:
        """Seconds in the recording's time base of axis values (e.g. a mark's ``x``)."""
        return self._x(axis_values)

    def _clock_text(self, seconds: float, with_seconds: bool = True) -> str:
        if not self._is_clock:
            text = format_elapsed(seconds)
            return text if with_seconds else text.rsplit(":", 1)[0]
        stamp = pd.Timestamp(self._origin) + pd.Timedelta(seconds=float(seconds))
        return stamp.strftime("%H:%M:%S" if with_seconds else "%H:%M")

    def _update_time_axis(self, lo: float, hi: float) -> None:
        """Move the axes' clock scale to the window: the marks live on seconds, the axes read clock time."""
        start, end = (
            pd.Timestamp(
                self._origin + np.round(np.array([lo, hi]) * 1000.0).astype("timedelta64[ms]")[k]
            ).to_pydatetime()
            for k in (0, 1)
        )
        with self.time_scale.hold_sync():
            self.time_scale.min, self.time_scale.max = start, end

    @property
    def axis_label(self) -> str:
        """What the time axis reads: ``"clock time"`` (with the lab's zone for aware starts) or ``"elapsed time"``."""
        return self._axis_label

    _axis_label = "elapsed time"

    def clock_label(self, seconds: float) -> str:
        """How the axis names a time: ``"23:18:49"`` on a clock axis, ``"+0:05:00"`` elapsed."""
        if not self._is_clock:
            return format_elapsed(seconds)
        return self._clock_text(seconds)

    # ------------------------------------------------------------------ data
    def set_data(
        self,
        recording: Recording,
        *,
        flow_lps: Any = None,
        breaths_peak_s: Any = None,
        events: Any = None,
        device_events: Any = None,
        device_events_note: str = "",
        keep_view: bool = False,
    ) -> None:
        """Show a recording: its flow (or ``flow_lps``), channels and events.

        Parameters
        ----------
        recording : Recording
            Time base, start time, pressure and ``signals``.
        flow_lps : array-like, optional
            The flow to draw (e.g. the analysis' cleaned flow); default ``recording.flow_lps``.
        breaths_peak_s : array-like, optional
            Breath peak times (s), marked on the flow.
        events, device_events : DataFrame or iterable of mappings, optional
            Ours (``kind`` "apnea" / "hypopnea") and the device's (``kind`` one
            of the device kinds), with ``start_s`` and ``end_s``.
        device_events_note : str
            Shown in the legend instead of device lanes when the device's
            events are unknown (e.g. "device events not included in this upload").
        keep_view : bool
            Keep the visible window (the same recording re-analysed).
        """
        t = np.asarray(recording.time_s, dtype=np.float64)
        f = np.asarray(recording.flow_lps if flow_lps is None else flow_lps, dtype=np.float64)
        if t.ndim != 1 or t.shape != f.shape:
            raise ParameterError("flow_lps", f"length {f.size} differs from time_s length {t.size}")
        if t.size == 0:
            self.clear()
            return
        previous = self.visible_range if keep_view else None
        self._origin, self._is_clock = clock_origin(recording.start_time)
        zone = ""
        if self._is_clock and recording.start_time.tzinfo is not None:
            zone = f" ({zone_label(when=recording.start_time)})"
        self._axis_label = ("clock time" + zone) if self._is_clock else "elapsed time"
        self.x_axis.label = ("clock time" + zone) if self._is_clock else "elapsed time (h:mm:ss)"
        self._time, self._flow, self._gaps = t, f, _gap_midpoints(t)
        peaks = np.zeros(0) if breaths_peak_s is None else np.sort(np.asarray(breaths_peak_s, dtype=np.float64))
        self._peak_s = peaks
        self._peak_flow = np.interp(peaks, t, f) if peaks.size else np.zeros(0)
        y_min, y_max = _y_range(f)
        self._tick = 0.06 * (y_max - y_min)
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = y_min, y_max
        ours = _event_frame(events)
        for mark, kind in ((self.apnea_shading, "apnea"), (self.hypopnea_shading, "hypopnea")):
            set_shading(mark, events_to_spans(ours, kind), EVENT_COLORS[kind], y_min, y_max)
        self._set_channels(recording)
        self._set_lanes(ours, _event_frame(device_events), device_events_note)
        self._drawn_window = None
        if previous is not None:
            self.zoom(*previous)
        else:
            self.reset_zoom()

    def _set_channels(self, recording: Recording) -> None:
        self._channels = {}
        for name, _title, _unit, _colour in CHANNELS:
            if name == "pressure" and recording.pressure_cmh2o is not None:
                t, v = (
                    np.asarray(recording.time_s, dtype=np.float64),
                    np.asarray(recording.pressure_cmh2o, dtype=np.float64),
                )
            elif name in recording.signals or (name == "pressure" and "mask_pressure" in recording.signals):
                sig = recording.signals.get(name) or recording.signals["mask_pressure"]
                t, v = np.asarray(sig.time_s, dtype=np.float64), np.asarray(sig.values, dtype=np.float64)
            else:
                t = v = np.zeros(0)
            t, v = _finite(t, v)
            if t.size:
                self._channels[name] = (t, v, _gap_midpoints(t))
                lo, hi = _y_range(v, floor=0.5 if name != "tidal_volume" else 0.02)
                with self._channel_scales[name].hold_sync():
                    self._channel_scales[name].min, self._channel_scales[name].max = lo, hi
            _show(self.channel_figures[name], self._channel_height if t.size else None, pan_zoom=self.x_scale)
            if not t.size:
                self._assign(self.channel_lines[name], np.zeros(0), np.zeros(0))

    def _set_lanes(self, ours: pd.DataFrame, device: pd.DataFrame, note: str) -> None:
        rows = []
        for source, frame in (("ours", ours), ("device", device)):
            for r in frame.itertuples(index=False):
                kind = str(r.kind)
                lane = f"{source}:{kind}" if f"{source}:{kind}" in _LANE_INDEX else f"{source}:other"
                if lane not in _LANE_INDEX:
                    continue
                label = str(getattr(r, "label", kind.replace("_", " ")))
                rows.append(
                    {
                        "lane": lane,
                        "kind": kind,
                        "label": label,
                        "start_s": float(r.start_s),
                        "end_s": float(r.end_s),
                        "source": source,
                        "amplitude_ratio": float(getattr(r, "amplitude_ratio", np.nan)),
                    }
                )
        self.events = pd.DataFrame(rows, columns=list(_EVENT_COLUMNS))
        self.device_events_note = note
        present = [key for key, *_ in LANES if key in set(self.events["lane"])]
        self._lane_rows = {key: i for i, key in enumerate(present)}
        n = max(len(present), 1)
        with self.lanes_y.hold_sync():
            self.lanes_y.min, self.lanes_y.max = -0.6, n - 0.4
        self.lanes_axis.tick_values = list(range(len(present)))
        labels = {key: short for key, _label, short, _c in LANES}
        self.lanes_axis.tick_labels = {i: labels[key] for i, key in enumerate(present)}
        _show(self.lanes_figure, f"{40 + 22 * n}px" if present else None)
        # lane bars: one path per lane, (start, row) (end, row) (end, NaN) per event; a (lanes x vertices)
        # array padded with NaN rows (x stays a real time: bqplot sends NaT as a huge negative number)
        x_parts, y_parts = [], []
        for key, *_ in LANES:
            lane = self.events[self.events["lane"] == key]
            starts, ends = lane["start_s"].to_numpy(float), lane["end_s"].to_numpy(float)
            ends = np.maximum(ends, starts + 1.0)  # a zero-length device mark still shows
            x_parts.append(np.column_stack([starts, ends, ends]).ravel())
            row = float(self._lane_rows.get(key, np.nan))
            y_parts.append(
                np.column_stack(
                    [np.full(starts.size, row), np.full(starts.size, row), np.full(starts.size, np.nan)]
                ).ravel()
            )
        width = max(max(x.size for x in x_parts), 2)
        x_rows = np.zeros((len(LANES), width))
        y_rows = np.full((len(LANES), width), np.nan)
        for i, (xs, ys) in enumerate(zip(x_parts, y_parts)):
            x_rows[i, : xs.size], y_rows[i, : ys.size] = xs, ys
            x_rows[i, xs.size :] = xs[-1] if xs.size else 0.0
        colours = {key: c for key, *_, c in LANES}
        mids = (self.events["start_s"].to_numpy(float) + self.events["end_s"].to_numpy(float)) / 2.0
        with self.lane_lines.hold_sync():
            self.lane_lines.x = self._x(x_rows)
            self.lane_lines.y = y_rows
        with self.event_marks.hold_sync():
            self.event_marks.colors = [colours[k] for k in self.events["lane"]] or ["#000"]
            self.event_marks.x = self._x(mids)
            self.event_marks.y = np.array([self._lane_rows[k] for k in self.events["lane"]], dtype=float)
        self._update_legend()

    @staticmethod
    def _assign(mark: bq.Lines, xs: np.ndarray, ys: np.ndarray) -> None:
        with mark.hold_sync():
            mark.x, mark.y = xs, ys

    def clear(self) -> None:
        """Remove every trace, channel and event."""
        self._time, self._flow, self._gaps = np.zeros(0), np.zeros(0), np.zeros(0)
        self._peak_s, self._peak_flow = np.zeros(0), np.zeros(0)
        self._channels = {}
        self._drawn_window = None
        empty = np.zeros(0)
        for mark in (
            self.flow_line,
            self.breath_marks,
            self.apnea_shading,
            self.hypopnea_shading,
            *self.channel_lines.values(),
            self.lane_lines,
            self.event_marks,
        ):
            with mark.hold_sync():
                mark.x, mark.y = empty, np.zeros(0)
        for fig in (*self.channel_figures.values(), self.lanes_figure):
            _show(fig, None)
        self.events = self.events.iloc[0:0]
        self.device_events_note = ""
        self._updating = True
        try:
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = None, None
        finally:
            self._updating = False
        self._update_legend()
        self._update_status()

    # ------------------------------------------------------------------ zoom (TimeWindow: zoom, reset_zoom, ranges)
    def zoom_to_event(self, start_s: float, end_s: float) -> None:
        """Show an event with some breathing either side (at least 20 s, or half its length)."""
        margin = max(20.0, 0.5 * (end_s - start_s))
        self.zoom(start_s - margin, max(end_s, start_s + 1.0) + margin)

    def click_event(self, index: int) -> None:
        """Zoom to event ``index`` of :attr:`events` (what a click on its mark does) and tell the listeners."""
        if not 0 <= index < len(self.events):
            raise ParameterError("index", f"no event {index}; the chart shows {len(self.events)}")
        row = self.events.iloc[index]
        self.zoom_to_event(float(row["start_s"]), float(row["end_s"]))
        for callback in self.on_event_click:
            callback(index)

    def _on_mark_click(self, _mark: Any, event: dict) -> None:
        index = (event or {}).get("data", {}).get("index")
        if isinstance(index, int):
            self.click_event(index)

    def _decimated(
        self, t: np.ndarray, v: np.ndarray, gaps: np.ndarray, lo: float, hi: float, max_points: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return with_gap_breaks(*window(t, v, lo, hi, max_points), gaps)  # no line between device sessions

    def _redraw_window(self) -> None:
        window_now = self.visible_range
        if window_now is None or window_now == self._drawn_window:
            return
        started = time.perf_counter()
        lo, hi = sorted(window_now)
        self._update_time_axis(lo, hi)
        self._assign(self.flow_line, *self._decimated(self._time, self._flow, self._gaps, lo, hi, self.max_points))
        for name, (t, v, gaps) in self._channels.items():
            self._assign(self.channel_lines[name], *self._decimated(t, v, gaps, lo, hi, self.max_channel_points))
        i0, i1 = np.searchsorted(self._peak_s, [lo, hi])
        shown = 0 < i1 - i0 <= self.max_breath_marks
        if shown:
            gap = 0.25 * self._tick
            peaks, heights = self._peak_s[i0:i1], self._peak_flow[i0:i1]
            xs = np.repeat(peaks, 3)
            ys = np.column_stack([heights + gap, heights + gap + self._tick, np.full(heights.size, np.nan)]).ravel()
            self._assign(self.breath_marks, self._x(xs[:-1]), ys[:-1])
        else:
            self._assign(self.breath_marks, np.zeros(0), np.zeros(0))
        self._breaths_marked = int(i1 - i0) if shown else 0
        self._drawn_window = window_now
        self.last_update_s = time.perf_counter() - started
        self._update_status(hidden_breaths=int(i1 - i0) if i1 - i0 > self.max_breath_marks else 0)

    # ------------------------------------------------------------------ facts
    @property
    def channels_shown(self) -> list[str]:
        """Names of the channel panels shown (in :data:`CHANNELS` order)."""
        return [name for name, *_ in CHANNELS if name in self._channels]

    @property
    def lanes_shown(self) -> list[str]:
        """Keys of the event lanes shown (in :data:`LANES` order)."""
        return [key for key, *_ in LANES if key in set(self.events["lane"])]

    def channel_points(self, name: str) -> int:
        """Points of channel ``name`` currently sent to the browser."""
        return int(np.count_nonzero(np.isfinite(self.channel_lines[name].y)))

    @property
    def breaths_marked(self) -> int:
        """Breaths marked in the visible window (0 while there are too many to mark)."""
        return self._breaths_marked

    @property
    def total_samples(self) -> int:
        """Flow samples kept in the kernel (full resolution)."""
        return int(self._time.size)

    @property
    def flow_points(self) -> int:
        """Flow points currently sent to the browser (gap breaks not counted)."""
        return int(np.count_nonzero(np.isfinite(self.flow_line.y)))

    @property
    def points_sent(self) -> int:
        """All points currently sent: flow, breath marks, shading, channels, lanes and event marks."""
        marks = (
            self.flow_line,
            self.breath_marks,
            self.apnea_shading,
            self.hypopnea_shading,
            *self.channel_lines.values(),
            self.event_marks,
        )
        lanes = int(np.count_nonzero(np.isfinite(self.lane_lines.y))) if np.size(self.lane_lines.y) else 0
        return int(sum(np.size(m.x) for m in marks)) + lanes

    def _update_legend(self) -> None:
        items = [
            f'<span style="color:{FLOW_COLOR}">&#9472; flow</span>',
            f'<span style="color:{BREATH_COLOR}"><b>|</b> breath</span>',
        ]
        for key, label, _short, colour in LANES:
            if key in set(self.events["lane"]):
                items.append(
                    f'<span class="cpap-lane-{key.replace(":", "-").replace("_", "-")}" '
                    f'style="color:{colour}">&#9632; {escape(label)}</span>'
                )
        if self.device_events_note:
            items.append(
                f'<span class="cpap-device-events-note" style="color:#7a4f01">{escape(self.device_events_note)}</span>'
            )
        items.append('<span style="color:#666">drag to pan, wheel to zoom; click an event mark to zoom to it</span>')
        self.legend.value = " &nbsp; ".join(items)

    def _update_status(self, hidden_breaths: int = 0) -> None:
        if self._time.size == 0:
            self.status.value = '<span style="color:#666">No data.</span>'
            return
        lo, hi = self.visible_range
        text = (
            f"{self.flow_points:,} of {self.total_samples:,} points, "
            f"{self.clock_label(lo)}&ndash;{self.clock_label(hi)} ({self.axis_label}; {hi - lo:,.1f} s)"
        )
        if hidden_breaths:
            text += f"; zoom in to see the {hidden_breaths:,} breath marks"
        self.status.value = f'<span style="color:#444">{text}</span>'

    def save_png(self) -> None:
        """Ask the browser to download each visible panel as a PNG (no effect without a browser)."""
        stem = self.png_name.removesuffix(".png")
        self.figure.save_png(f"{stem}_flow.png")
        for name, fig in self.channel_figures.items():
            if name in self._channels:
                fig.save_png(f"{stem}_{name}.png")
