"""bqplot charts for the dashboards: a flow chart and a night-trend chart.

Each chart is an ipywidgets container whose bqplot ``Figure``, scales, axes
and marks are built once; :meth:`FlowChart.set_data` and
:meth:`TrendChart.set_data` only assign new arrays to the existing marks.

:class:`FlowChart` keeps the full-resolution signal in the kernel and sends
the browser at most ``max_points`` points of the visible window, decimated
with MinMaxLTTB (:func:`cpap_lib.analysis.decimate.window`). Panning and zooming
(mouse drag and wheel, bqplot ``PanZoom`` on the time axis) change the time
scale's ``min``/``max``; the chart observes them and re-decimates the new
window, so an 8-hour night at 100 Hz (2.9 million samples) stays smooth.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.dashboard.widgets.charts import FlowChart
>>> t = np.arange(0, 8 * 3600, 0.01)          # an 8-hour night at 100 Hz
>>> flow = 0.4 * np.sin(2 * np.pi * t / 4)
>>> chart = FlowChart(max_points=2000)
>>> chart.set_data(t, flow, breaths_peak_s=np.arange(1, 600, 4.0),
...                events=[{"kind": "apnea", "start_s": 100.0, "end_s": 115.0}])
>>> chart.flow_points, chart.total_samples
(2000, 2880000)
>>> chart.zoom(100.0, 160.0)                  # what a mouse zoom does
>>> chart.flow_points <= 2000, chart.visible_range
(True, (100.0, 160.0))
>>> chart.clear(); chart.points_sent
0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ...analysis.decimate import window
from ...clock import to_lab_datetime64, zone_label
from ...errors import ParameterError
from .common import escape
from .fields import png_filename

__all__ = [
    "EVENT_COLORS",
    "PNG_SCALE",
    "TREND_SERIES",
    "FlowChart",
    "NightChart",
    "TrendChart",
    "events_to_spans",
    "png_filename",
]

logger = logging.getLogger(__name__)

EVENT_COLORS = {"apnea": "#d62728", "hypopnea": "#ff9f1c"}
"""Shading colour of each event kind (apneas red, hypopnea candidates amber)."""
FLOW_COLOR = "#1f4e79"
PRESSURE_COLOR = "#0b3d62"
NOTE_COLOR = "#6a1b9a"
PNG_SCALE = 3
"""Saved PNGs have 3x the screen's pixels (a 1,200 px chart prints 3,600 px wide, 300 dpi at 12 in)."""
BREATH_COLOR = "#2ca02c"

TREND_SERIES = (
    ("pressure_cmh2o", "CPAP pressure", "cmH2O", "#1f77b4"),
    ("breath_rate_bpm", "Breath rate", "breaths/min", "#2ca02c"),
    ("apnea_count", "Apneas", "count", "#d62728"),
)
"""Default series of :class:`TrendChart`: (key, title, unit, colour)."""


def _as_1d_float(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ParameterError(name, f"must be one-dimensional, got shape {arr.shape}")
    return arr


def events_to_spans(events: Any, kind: str) -> np.ndarray:
    """Return the ``(start_s, end_s)`` rows of the events of one ``kind``.

    Parameters
    ----------
    events : DataFrame, iterable of mappings, or None
        Each event has ``kind``, ``start_s`` and ``end_s`` (the
        ``Analysis.events`` table, or the ``apneas`` lists of ``to_dict()``
        with a ``kind`` added).
    kind : str
        ``"apnea"`` or ``"hypopnea"``.

    Returns
    -------
    ndarray, shape (n, 2)

    Examples
    --------
    >>> events_to_spans([{"kind": "apnea", "start_s": 1, "end_s": 12},
    ...                  {"kind": "hypopnea", "start_s": 20, "end_s": 31}], "apnea")
    array([[ 1., 12.]])
    >>> events_to_spans(None, "apnea").shape
    (0, 2)
    """
    if events is None:
        return np.zeros((0, 2))
    frame = events if isinstance(events, pd.DataFrame) else pd.DataFrame(list(events))
    if frame.empty:
        return np.zeros((0, 2))
    missing = {"kind", "start_s", "end_s"} - set(frame.columns)
    if missing:
        raise ParameterError("events", f"missing columns {sorted(missing)}; need kind, start_s, end_s")
    rows = frame[frame["kind"] == kind]
    return rows[["start_s", "end_s"]].to_numpy(dtype=np.float64).reshape(-1, 2)


class TimeWindow:
    """Zoom over a time axis in seconds, and the toolbar that resets it, for charts holding ``_time``,
    ``x_scale``, ``_redraw_window()`` and ``save_png()``.

    Shared by :class:`FlowChart` and :class:`~.night_chart.NightChart`: :meth:`zoom`
    sets the scale's window (as a mouse zoom does) and redraws it once;
    scale changes from the browser redraw through :meth:`_on_scale_change`;
    :meth:`_toolbar` builds the "Reset zoom" / "Save PNG" row with the status line.
    """

    _time: np.ndarray
    x_scale: bq.LinearScale
    _updating: bool

    def _redraw_window(self) -> None:
        raise NotImplementedError

    @property
    def data_range(self) -> tuple[float, float] | None:
        """First and last time of the data, or None when empty."""
        if self._time.size == 0:
            return None
        return float(self._time[0]), float(self._time[-1])

    @property
    def visible_range(self) -> tuple[float, float] | None:
        """The time window on screen, or None when empty."""
        if self._time.size == 0:
            return None
        lo = self.x_scale.min if self.x_scale.min is not None else self._time[0]
        hi = self.x_scale.max if self.x_scale.max is not None else self._time[-1]
        return float(lo), float(hi)

    def zoom(self, x_min: float, x_max: float) -> None:
        """Show the window ``[x_min, x_max]`` (seconds), as a mouse zoom does."""
        if not x_max > x_min:
            raise ParameterError("x_max", f"must be greater than x_min ({x_min:g}), got {x_max:g}")
        self._updating = True
        try:
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = float(x_min), float(x_max)
        finally:
            self._updating = False
        self._redraw_window()

    def reset_zoom(self) -> None:
        """Show the whole recording."""
        if self._time.size:
            lo, hi = self.data_range
            self.zoom(lo, hi if hi > lo else lo + 1.0)

    def _on_scale_change(self, change: dict) -> None:
        if not self._updating:
            self._redraw_window()

    def save_png(self) -> None:
        """Ask the browser to download the chart as PNG (each chart says how)."""
        raise NotImplementedError

    def _toolbar(self, save_tooltip: str) -> widgets.HBox:
        """The chart's toolbar: "Reset zoom", "Save PNG" and the status line, in one row.

        Sets :attr:`reset_button`, :attr:`save_button` (which call
        :meth:`reset_zoom` and ``save_png()``) and :attr:`status` (an HTML line
        with the class ``cpap-chart-status``); ``save_tooltip`` says what the
        chart saves.
        """
        self.reset_button = widgets.Button(
            description="Reset zoom", icon="search-minus", tooltip="Show the whole recording"
        )
        self.save_button = widgets.Button(description="Save PNG", icon="download", tooltip=save_tooltip)
        self.reset_button.on_click(lambda _: self.reset_zoom())
        self.save_button.on_click(lambda _: self.save_png())
        self.status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.status.add_class("cpap-chart-status")
        return widgets.HBox([self.reset_button, self.save_button, self.status])


def set_shading(mark: bq.Lines, spans: np.ndarray, color: str, y_min: float, y_max: float) -> None:
    """Shade ``spans`` (rows of start, end) over ``[y_min, y_max]`` as one closed path per span in ``mark``."""
    n = spans.shape[0]
    with mark.hold_sync():
        if n == 0:
            mark.x, mark.y = np.zeros(0), np.zeros(0)
            return
        xs = np.column_stack([spans[:, 0], spans[:, 0], spans[:, 1], spans[:, 1]])
        ys = np.tile([y_min, y_max, y_max, y_min], (n, 1))
        mark.colors = [color] * n
        mark.fill_colors = [color] * n
        mark.fill_opacities = [0.3] * n
        mark.x, mark.y = xs, ys


def with_gap_breaks(xs: np.ndarray, ys: np.ndarray, gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN at each of ``gaps`` inside ``xs`` (a break in the line where there is no data).

    >>> with_gap_breaks(np.array([0.0, 1.0, 9.0]), np.array([1.0, 2.0, 3.0]), np.array([5.0]))[1].tolist()
    [1.0, 2.0, nan, 3.0]
    """
    if not gaps.size:
        return xs, ys
    cut = np.searchsorted(xs, gaps)
    inside = (cut > 0) & (cut < xs.size)
    return np.insert(xs, cut[inside], gaps[inside]), np.insert(ys, cut[inside], np.nan)


class FlowChart(TimeWindow, widgets.VBox):
    """Flow over time with breath marks and shaded apneas / hypopneas.

    Mouse drag pans and the wheel zooms the time axis; every change of the
    visible window is re-decimated in the kernel to at most ``max_points``.
    Buttons reset the zoom and save the chart as a PNG (a browser download).

    Parameters
    ----------
    title : str
        Figure title.
    max_points : int
        Most flow points sent to the browser at any time.
    max_breath_marks : int
        Breaths are marked (3 vertices each) only when at most this many are
        in the window.
    height : str
        CSS height of the figure.
    png_name : str
        File name the "Save PNG" button downloads.

    Attributes
    ----------
    figure, x_scale, y_scale, flow_line, breath_marks, apnea_shading, hypopnea_shading
        The bqplot objects (built once).
    messages_html : ipywidgets.HTML
        The status line under the chart (points shown, window).
    """

    def __init__(
        self,
        title: str = "Flow",
        *,
        max_points: int = 3000,
        max_breath_marks: int = 1000,
        height: str = "320px",
        png_name: str = "flow.png",
        **kwargs: Any,
    ):
        if max_points < 3:
            raise ParameterError("max_points", f"must be at least 3, got {max_points}")
        self.max_points = int(max_points)
        self.max_breath_marks = int(max_breath_marks)
        self.png_name = png_name
        self._time = np.zeros(0)
        self._flow = np.zeros(0)
        self._peak_s = np.zeros(0)
        self._peak_flow = np.zeros(0)
        self._drawn_window: tuple[float, float] | None = None
        self._gaps = np.zeros(0)
        self._breaths_marked = 0
        self._tick_lps = 0.1
        self._updating = False
        self.last_update_s = 0.0
        """Kernel time of the latest re-decimation (seconds)."""

        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        shade = {"scales": scales, "fill": "inside", "close_path": True, "stroke_width": 1, "x": [], "y": []}
        self.hypopnea_shading = bq.Lines(
            colors=[EVENT_COLORS["hypopnea"]],
            fill_colors=[EVENT_COLORS["hypopnea"]],
            fill_opacities=[0.3],
            labels=["hypopnea"],
            **shade,
        )
        self.apnea_shading = bq.Lines(
            colors=[EVENT_COLORS["apnea"]],
            fill_colors=[EVENT_COLORS["apnea"]],
            fill_opacities=[0.3],
            labels=["apnea"],
            **shade,
        )
        self.flow_line = bq.Lines(x=[], y=[], scales=scales, colors=[FLOW_COLOR], stroke_width=1.2, labels=["flow"])
        # breath marks: short vertical ticks above each peak, all in ONE path (NaN breaks it);
        # a Scatter would draw one SVG element per breath, which slows every zoom in the browser
        self.breath_marks = bq.Lines(
            x=[],
            y=[],
            scales=scales,
            colors=[BREATH_COLOR],
            stroke_width=2,
            labels=["breath"],
        )
        x_axis = bq.Axis(scale=self.x_scale, label="time (s)", grid_lines="none")
        y_axis = bq.Axis(scale=self.y_scale, side="left", label="flow (L/s)", grid_lines="dashed")
        self.pan_zoom = bq.PanZoom(scales={"x": [self.x_scale]})
        self.figure = bq.Figure(
            marks=[self.hypopnea_shading, self.apnea_shading, self.flow_line, self.breath_marks],
            axes=[x_axis, y_axis],
            title=title,
            interaction=self.pan_zoom,
            fig_margin={"top": 40, "bottom": 45, "left": 60, "right": 20},
            animation_duration=0,
            layout=widgets.Layout(width="100%", height=height),
        )
        self.figure.add_class("cpap-flow-chart")

        toolbar = self._toolbar("Download this chart as a PNG image")
        legend = widgets.HTML(
            f'<span style="color:{FLOW_COLOR}">&#9472; flow</span> &nbsp; '
            f'<span style="color:{BREATH_COLOR}"><b>|</b> breath</span> &nbsp; '
            f'<span style="color:{EVENT_COLORS["apnea"]}">&#9608; apnea</span> &nbsp; '
            f'<span style="color:{EVENT_COLORS["hypopnea"]}">&#9608; hypopnea candidate</span> &nbsp; '
            '<span style="color:#666">drag to pan, wheel to zoom</span>'
        )
        self.x_scale.observe(self._on_scale_change, names=["min", "max"])
        super().__init__([self.figure, toolbar, legend], **kwargs)
        self.add_class("cpap-flow-chart-box")
        self._update_status()

    # ------------------------------------------------------------------ data
    def set_data(
        self,
        time_s: Any,
        flow_lps: Any,
        *,
        breaths_peak_s: Any = None,
        events: Any = None,
        keep_view: bool = False,
    ) -> None:
        """Show a new signal (full resolution is kept here, not sent).

        Parameters
        ----------
        time_s, flow_lps : array-like
            Increasing times (s) and flow (L/s), same length.
        breaths_peak_s : array-like, optional
            Times of breath peaks, marked on the line.
        events : DataFrame or iterable of mappings, optional
            Events with ``kind`` ("apnea" / "hypopnea"), ``start_s``, ``end_s``.
        keep_view : bool
            Keep the current time window (e.g. the same recording re-analysed)
            instead of showing the whole signal.
        """
        t = _as_1d_float("time_s", time_s)
        f = _as_1d_float("flow_lps", flow_lps)
        if t.size != f.size:
            raise ParameterError("flow_lps", f"length {f.size} differs from time_s length {t.size}")
        if t.size == 0:
            self.clear()
            return
        peaks = np.zeros(0) if breaths_peak_s is None else _as_1d_float("breaths_peak_s", breaths_peak_s)
        self._peak_s = np.sort(peaks)
        self._peak_flow = np.interp(self._peak_s, t, f) if peaks.size else np.zeros(0)

        finite = f[np.isfinite(f)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        pad = max(0.1 * (hi - lo), 0.05)
        self._tick_lps = 0.06 * (hi - lo + 2 * pad)
        y_min, y_max = lo - pad, hi + pad
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = y_min, y_max
        for mark, kind in ((self.apnea_shading, "apnea"), (self.hypopnea_shading, "hypopnea")):
            set_shading(mark, events_to_spans(events, kind), EVENT_COLORS[kind], y_min, y_max)
        previous = self.visible_range if keep_view else None
        self._time, self._flow = t, f
        self._gaps = _gap_midpoints(t)
        self._drawn_window = None
        if previous is not None:
            self.zoom(*previous)
        else:
            self.reset_zoom()

    def clear(self) -> None:
        """Remove every trace, mark and shaded event."""
        self._time, self._flow, self._gaps = np.zeros(0), np.zeros(0), np.zeros(0)
        self._peak_s, self._peak_flow = np.zeros(0), np.zeros(0)
        self._drawn_window = None
        for mark in (self.flow_line, self.breath_marks, self.apnea_shading, self.hypopnea_shading):
            with mark.hold_sync():
                mark.x, mark.y = np.zeros(0), np.zeros(0)
        self._updating = True
        try:
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = None, None
        finally:
            self._updating = False
        self._update_status()

    def _redraw_window(self) -> None:
        window_now = self.visible_range
        if window_now is None or window_now == self._drawn_window:
            return
        started = time.perf_counter()
        lo, hi = window_now
        if hi < lo:
            lo, hi = hi, lo
        xs, ys = window(self._time, self._flow, lo, hi, self.max_points)
        xs, ys = with_gap_breaks(xs, ys, self._gaps)  # no line across gaps between device sessions
        with self.flow_line.hold_sync():
            self.flow_line.x, self.flow_line.y = xs, ys
        i0, i1 = np.searchsorted(self._peak_s, [lo, hi])
        with self.breath_marks.hold_sync():
            if 0 < i1 - i0 <= self.max_breath_marks:
                self.breath_marks.x, self.breath_marks.y = self._tick_path(self._peak_s[i0:i1], self._peak_flow[i0:i1])
            else:
                self.breath_marks.x, self.breath_marks.y = np.zeros(0), np.zeros(0)
        self._breaths_marked = int(i1 - i0) if 0 < i1 - i0 <= self.max_breath_marks else 0
        self._drawn_window = window_now
        self.last_update_s = time.perf_counter() - started
        self._update_status(hidden_breaths=int(i1 - i0) if i1 - i0 > self.max_breath_marks else 0)

    def _tick_path(self, peak_s: np.ndarray, peak_flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vertices of one path of ticks: (t, y+gap), (t, y+gap+tick), (t, NaN) per breath.

        The path ends on the last tick's top (no trailing NaN: bqplot places
        a line's label at its last point).
        """
        gap = 0.25 * self._tick_lps
        xs = np.repeat(peak_s, 3)
        ys = np.column_stack(
            [peak_flow + gap, peak_flow + gap + self._tick_lps, np.full(peak_flow.size, np.nan)]
        ).ravel()
        return xs[:-1], ys[:-1]

    # ------------------------------------------------------------------ facts
    @property
    def breaths_marked(self) -> int:
        """Breaths marked in the visible window (0 while there are too many to mark)."""
        return self._breaths_marked if self.breath_marks.x.size else 0

    @property
    def total_samples(self) -> int:
        """Samples kept in the kernel (full resolution)."""
        return int(self._time.size)

    @property
    def flow_points(self) -> int:
        """Flow points currently sent to the browser (gap breaks not counted)."""
        return int(np.count_nonzero(np.isfinite(self.flow_line.y)))

    @property
    def points_sent(self) -> int:
        """All points currently sent to the browser: flow, breath marks, shading vertices."""
        return int(
            np.size(self.flow_line.x)
            + np.size(self.breath_marks.x)
            + np.size(self.apnea_shading.x)
            + np.size(self.hypopnea_shading.x)
        )

    def _update_status(self, hidden_breaths: int = 0) -> None:
        if self._time.size == 0:
            self.status.value = '<span style="color:#666">No data.</span>'
            return
        lo, hi = self.visible_range
        text = f"{self.flow_points:,} of {self.total_samples:,} points, {lo:,.1f}&ndash;{hi:,.1f} s"
        if hidden_breaths:
            text += f"; zoom in to see the {hidden_breaths:,} breath marks"
        self.status.value = f'<span style="color:#444">{text}</span>'

    def save_png(self, filename: str | None = None) -> None:
        """Ask the browser to download the chart as a PNG (no effect without a browser)."""
        self.figure.save_png(filename or self.png_name, scale=PNG_SCALE)


def _gap_midpoints(time_s: np.ndarray, factor: float = 10.0) -> np.ndarray:
    """Middle times of the gaps in ``time_s`` (steps longer than ``factor`` x the median step).

    >>> _gap_midpoints(np.array([0.0, 0.1, 0.2, 5.2, 5.3])).tolist()
    [2.7]
    """
    if time_s.size < 3:
        return np.zeros(0)
    steps = np.diff(time_s)
    at = np.flatnonzero(steps > factor * np.median(steps))
    return (time_s[at] + time_s[at + 1]) / 2.0


def _as_datetimes(times: Any) -> np.ndarray:
    """Lab wall-clock values for a date axis (bqplot formats date axes in UTC: the axis reads lab time)."""
    return to_lab_datetime64(times)


class TrendChart(widgets.VBox):
    """The night's trends over measurement times, one small chart per series.

    The charts share one time axis (a date scale: measurement times are
    wall-clock times). By default: CPAP pressure, breath rate and apnea count
    (:data:`TREND_SERIES`).

    Parameters
    ----------
    title : str
        Shown above the charts.
    series : sequence of (key, title, unit, colour)
        What to plot; :meth:`set_data` takes the values by ``key``.
    height : str
        CSS height of each small chart.

    Examples
    --------
    >>> chart = TrendChart()
    >>> chart.set_data(["2026-11-21T22:00:00Z", "2026-11-21T22:10:00Z"],
    ...                pressure_cmh2o=[8, 9], breath_rate_bpm=[14.2, 15.0], apnea_count=[0, 3])
    >>> chart.points_sent
    6
    >>> chart.clear(); chart.points_sent
    0
    """

    def __init__(
        self,
        title: str = "Night trends",
        *,
        series: Iterable[tuple[str, str, str, str]] = TREND_SERIES,
        height: str = "170px",
        png_prefix: str = "trend",
        **kwargs: Any,
    ):
        self.series = tuple(series)
        self.png_prefix = png_prefix
        self.x_scale = bq.DateScale()
        self.lines: dict[str, bq.Lines] = {}
        self.figures: dict[str, bq.Figure] = {}
        for key, label, unit, color in self.series:
            y_scale = bq.LinearScale()
            line = bq.Lines(
                x=[],
                y=[],
                scales={"x": self.x_scale, "y": y_scale},
                colors=[color],
                marker="circle",
                marker_size=24,
                stroke_width=1.5,
                labels=[label],
            )
            fig = bq.Figure(
                marks=[line],
                axes=[
                    bq.Axis(
                        scale=self.x_scale, label=f"clock time ({zone_label()})", tick_format="%H:%M", grid_lines="none"
                    ),
                    bq.Axis(scale=y_scale, side="left", label=unit, grid_lines="dashed"),
                ],
                title=label,
                fig_margin={"top": 30, "bottom": 40, "left": 60, "right": 20},
                animation_duration=0,
                layout=widgets.Layout(width="100%", height=height),
            )
            fig.add_class(f"cpap-trend-{key}")
            self.lines[key], self.figures[key] = line, fig
        self.save_button = widgets.Button(
            description="Save PNG", icon="download", tooltip="Download these charts as PNG images"
        )
        self.save_button.on_click(lambda _: self.save_png())
        self.heading = widgets.HTML(f"<b>{escape(title)}</b>")
        super().__init__([self.heading, *self.figures.values(), self.save_button], **kwargs)
        self.add_class("cpap-trend-chart")

    def set_data(self, times: Any, **values: Any) -> None:
        """Show trends.

        Parameters
        ----------
        times : sequence of datetime-like
            Measurement times (datetimes, ISO strings, pandas timestamps).
        **values : sequence of float
            One sequence per series key, same length as ``times``; a key left
            out (or None) leaves that chart empty.
        """
        unknown = set(values) - set(self.lines)
        if unknown:
            raise ParameterError(min(unknown), f"unknown trend; known: {', '.join(self.lines)}")
        stamps = _as_datetimes(times)
        for key, line in self.lines.items():
            data = values.get(key)
            with line.hold_sync():
                if data is None or stamps.size == 0:
                    line.x, line.y = np.zeros(0, dtype="datetime64[ms]"), np.zeros(0)
                    continue
                ys = np.asarray(data, dtype=np.float64)
                if ys.shape != stamps.shape:
                    raise ParameterError(key, f"has {ys.size} values for {stamps.size} times")
                line.x, line.y = stamps, ys

    def set_frame(self, frame: pd.DataFrame, time_column: str = "time") -> None:
        """Show trends from a table with a time column and one column per series key."""
        self.set_data(frame[time_column], **{k: frame[k] for k in self.lines if k in frame.columns})

    def clear(self) -> None:
        """Empty every chart."""
        for line in self.lines.values():
            with line.hold_sync():
                line.x, line.y = np.zeros(0, dtype="datetime64[ms]"), np.zeros(0)

    @property
    def points_sent(self) -> int:
        """Points currently sent to the browser over all series."""
        return int(sum(np.size(line.x) for line in self.lines.values()))

    def save_png(self) -> None:
        """Ask the browser to download each trend chart as a PNG."""
        for key, fig in self.figures.items():
            fig.save_png(f"{self.png_prefix}_{key}.png", scale=PNG_SCALE)


class NightChart(widgets.VBox):
    """The night on one clock-time axis (lab time): CPAP pressure, events per upload, commands and notes.

    Pressure is a step line (left axis); apneas and hypopneas of each upload
    are dots (right axis); pressure commands are diamonds at their new
    pressure; notes are numbered triangles at the top (the station lists
    them with the same numbers).

    Examples
    --------
    >>> chart = NightChart()
    >>> chart.set_data(["2026-11-21T21:00:00Z", "2026-11-21T21:05:00Z"], pressure_cmh2o=[6, 7],
    ...                apneas=[2, 0], hypopneas=[1, 1], commands=(["2026-11-21T21:04:00Z"], [7]),
    ...                notes=(["2026-11-21T21:02:00Z"], ["1"]))
    >>> chart.points_sent  # 2 pressures, 1 upload with apneas, 2 with hypopneas, 1 command, 1 note
    7
    """

    def __init__(
        self,
        title: str = "Night: pressure and events",
        *,
        height: str = "260px",
        png_name: str = "night.png",
        **kwargs: Any,
    ):
        self.png_name = png_name
        self.x_scale = bq.DateScale()
        self.pressure_scale = bq.LinearScale(min=0.0)
        self.events_scale = bq.LinearScale(min=0.0)
        on_pressure = {"x": self.x_scale, "y": self.pressure_scale}
        on_events = {"x": self.x_scale, "y": self.events_scale}
        self.pressure_line = bq.Lines(
            x=[],
            y=[],
            scales=on_pressure,
            colors=[PRESSURE_COLOR],
            stroke_width=2.5,
            interpolation="step-after",
            labels=["pressure"],
        )
        self.apnea_marks = bq.Scatter(
            x=[],
            y=[],
            scales=on_events,
            colors=[EVENT_COLORS["apnea"]],
            default_size=28,
            marker="circle",
            labels=["apneas"],
        )
        self.hypopnea_marks = bq.Scatter(
            x=[],
            y=[],
            scales=on_events,
            colors=[EVENT_COLORS["hypopnea"]],
            default_size=28,
            marker="square",
            labels=["hypopneas"],
        )
        self.command_marks = bq.Scatter(
            x=[],
            y=[],
            scales=on_pressure,
            colors=[PRESSURE_COLOR],
            default_size=80,
            marker="diamond",
            labels=["command"],
        )
        self.note_marks = bq.Scatter(
            x=[],
            y=[],
            scales=on_pressure,
            colors=[NOTE_COLOR],
            default_size=90,
            marker="triangle-down",
            names=[],
            display_names=True,
            labels=["note"],
        )
        self.figure = bq.Figure(
            marks=[self.pressure_line, self.apnea_marks, self.hypopnea_marks, self.command_marks, self.note_marks],
            axes=[
                bq.Axis(
                    scale=self.x_scale, label=f"clock time ({zone_label()})", tick_format="%H:%M", grid_lines="none"
                ),
                bq.Axis(scale=self.pressure_scale, side="left", label="CPAP (cmH2O)", grid_lines="dashed"),
                bq.Axis(scale=self.events_scale, side="right", label="events per upload", grid_lines="none"),
            ],
            title=title,
            fig_margin={"top": 36, "bottom": 45, "left": 60, "right": 60},
            animation_duration=0,
            layout=widgets.Layout(width="100%", height=height),
        )
        self.figure.add_class("cpap-night-chart")
        self.save_button = widgets.Button(
            description="Save PNG", icon="download", tooltip="Download this chart as a PNG image"
        )
        self.save_button.on_click(lambda _: self.save_png())
        legend = widgets.HTML(
            f'<span style="color:{PRESSURE_COLOR}">&#9472; pressure &#9670; command</span> &nbsp; '
            f'<span style="color:{EVENT_COLORS["apnea"]}">&#9679; apneas</span> &nbsp; '
            f'<span style="color:{EVENT_COLORS["hypopnea"]}">&#9632; hypopneas</span> &nbsp; '
            f'<span style="color:{NOTE_COLOR}">&#9660; note</span>'
        )
        super().__init__([self.figure, widgets.HBox([self.save_button, legend])], **kwargs)
        self.add_class("cpap-night-chart-box")

    def set_data(
        self,
        times: Any,
        *,
        pressure_cmh2o: Any,
        apneas: Any,
        hypopneas: Any,
        commands: tuple[Any, Any] = ((), ()),
        notes: tuple[Any, Any] = ((), ()),
    ) -> None:
        """Show a night: per-upload ``times`` (UTC) with pressure and event counts; ``(times, cmh2o)`` of
        commands; ``(times, labels)`` of notes."""
        stamps = _as_datetimes(times)
        pressure = np.asarray(pressure_cmh2o, dtype=np.float64)
        a, h = np.asarray(apneas, dtype=np.float64), np.asarray(hypopneas, dtype=np.float64)
        top = float(np.nanmax(pressure)) + 2 if pressure.size and np.isfinite(pressure).any() else 10.0
        command_times, command_values = commands
        note_times, note_labels = notes
        with self.pressure_line.hold_sync():
            self.pressure_line.x, self.pressure_line.y = stamps, pressure
        for mark, counts in ((self.apnea_marks, a), (self.hypopnea_marks, h)):
            shown = counts > 0
            with mark.hold_sync():
                mark.x, mark.y = stamps[shown], counts[shown]
        with self.command_marks.hold_sync():
            self.command_marks.x = _as_datetimes(command_times)
            self.command_marks.y = np.asarray(command_values, dtype=np.float64)
        with self.note_marks.hold_sync():
            self.note_marks.x = _as_datetimes(note_times)
            self.note_marks.y = np.full(len(note_labels), top)
            self.note_marks.names = list(note_labels)

    def clear(self) -> None:
        """Empty the chart."""
        self.set_data([], pressure_cmh2o=[], apneas=[], hypopneas=[])

    @property
    def points_sent(self) -> int:
        """Marks currently sent to the browser."""
        marks = (self.pressure_line, self.apnea_marks, self.hypopnea_marks, self.command_marks, self.note_marks)
        return int(sum(np.size(m.x) for m in marks))

    def save_png(self, filename: str | None = None) -> None:
        """Ask the browser to download the chart as a PNG."""
        self.figure.save_png(filename or self.png_name, scale=PNG_SCALE)
