"""Static figures of a report: the night on the clock, the worst events, the AHI per hour, the breath rate.

Reports are read offline and printed, so everything is plain matplotlib
rendered to PNG (embedded as base64 with alternative text). The functions
take a :class:`~cpap_lib.reports.subjects.ReportSubject` and return a
:class:`matplotlib.figure.Figure`; only the ``show*`` functions touch the
notebook's display. No pyplot: figures are never kept in a global registry,
so a long batch on one warm kernel does not accumulate them. Time axes are
clock times in the lab's zone where the start is known, else hours elapsed.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from cpap_lib.reports.subjects import ReportSubject, events_frame
>>> t = np.arange(0, 600, 0.04); f = 0.5 * np.sin(2 * np.pi * t / 4)
>>> subject = ReportSubject(name="p", summary={"duration_s": 600.0}, patient={}, time_s=t, flow_lps=f,
...                         events=events_frame([(100.0, 115.0)], [(300.0, 320.0)]))
>>> [ax.get_ylabel() for ax in overview_figure(subject).axes]
['flow (L/s)', 'events']
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import html
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, HourLocator, date2num
from matplotlib.figure import Figure

from ..analysis.decimate import window
from .night import ahi_per_hour, pressure_over_time

__all__ = [
    "overview_figure",
    "worst_events",
    "worst_events_figure",
    "ahi_per_hour_figure",
    "breath_rate_figure",
    "hourly_agreement",
    "device_agreement_figure",
    "figure_png",
    "figure_img_html",
    "show",
    "show_html",
    "show_table",
    "use_logging",
    "reusing_figures",
    "flow_envelope",
    "EVENT_COLORS",
    "ENVELOPE_BINS",
    "ZOOM_MARGIN_S",
]

EVENT_COLORS = {
    "apnea": "tab:red",
    "obstructive_apnea": "tab:red",
    "central_apnea": "tab:purple",
    "mixed_apnea": "tab:brown",
    "unclassified_apnea": "tab:pink",
    "hypopnea": "tab:orange",
}
"""Colour of each event kind (ours and the device's; the device's rows are hatched)."""
ENVELOPE_BINS = 1500
"""Columns of the night's flow envelope (min and max per column)."""
ZOOM_MARGIN_S = 30.0
"""Seconds of flow shown on each side of a worst event."""
FIGURE_DPI = 80
PNG_COMPRESS_LEVEL = 1
"""zlib level of the figures' PNGs: 1 encodes in half the time of the default 6, for 15 % more bytes."""
RENDER_RC: dict[Any, Any] = {"text.hinting": "no_hinting"}
"""matplotlib settings while a report figure is rendered: glyphs drawn without hinting.

FreeType's hinter was a tenth of a figure's cost; unhinted antialiased text
differs from hinted by a fraction of a pixel's shade, not in size or place.
"""
REPORT_RC: dict[Any, Any] = {"axes.titley": 1.0}
"""matplotlib settings while a report figure is built: titles sit just above their axes.

matplotlib's default (``None``) moves each title above any tick labels at the
top, measuring every tick label once more on each draw; a report figure has
none there, so the title lands where it would anyway, at a tenth less cost.
"""
_WIDTH_IN = 10.5
_CHANNELS = (
    ("pressure", "pressure (cmH2O)", "tab:green"),
    ("leak", "leak (L/min)", "tab:gray"),
    ("spo2", "SpO2 (%)", "tab:blue"),
    ("pulse", "pulse (bpm)", "tab:pink"),
)


_F = TypeVar("_F", bound=Callable[..., Any])


def _report_figure(build: _F) -> _F:
    """Build the figure under :data:`REPORT_RC`; axis labels left empty are not placed on each draw.

    matplotlib places an axis label below (beside) the tick labels by measuring
    them all again when it draws; for an empty label (the inner panels of
    stacked axes) there is nothing to place, so its position is fixed instead.
    """

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with matplotlib.rc_context(REPORT_RC):
            fig = build(*args, **kwargs)
        for ax in fig.axes if fig is not None else ():
            for axis in (ax.xaxis, ax.yaxis):
                if not axis.label.get_text():
                    axis.set_label_coords(0.5, 0.5)
        return fig

    return wrapper  # type: ignore[return-value]


_REUSE = contextvars.ContextVar("reuse_report_figures", default=False)
_KEPT: dict[tuple, Figure] = {}
KEPT_FIGURES_MAX = 16
"""Most figure layouts kept by :func:`reusing_figures` in one process (the oldest is dropped)."""


@contextlib.contextmanager
def reusing_figures() -> Iterator[None]:
    """Within, each figure function draws into the figure it built last time for the same layout.

    A new figure with its axes and ticks costs about a third of a report
    figure's time; a batch kernel draws the same few layouts for every
    patient. The kept figure is emptied first (every artist removed, titles
    and labels blanked, limits, scales and ticks back to automatic), so its
    picture equals a new figure's, pixel for pixel (``tests/reports``
    checks it on nights of every layout). A figure returned within is valid
    only until the same function's next call: render it at once, as
    :func:`show` does. For one thread at a time (a report kernel).

    >>> b = pd.DataFrame({"peak_s": np.arange(0, 600, 4.0), "rate_bpm": np.full(150, 15.0)})
    >>> with reusing_figures():
    ...     first, second = breath_rate_figure(b), breath_rate_figure(b)
    >>> first is second, len(second.axes[0].lines), first is breath_rate_figure(b)
    (True, 1, False)
    """
    token = _REUSE.set(True)
    try:
        yield
    finally:
        _REUSE.reset(token)


def _empty_axes(ax: Any) -> None:
    """``ax`` as it was before anything was drawn on it (its ticks and layout kept)."""
    for container in list(ax.containers):
        container.remove()
    for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images, *ax.artists, *ax.tables]:
        artist.remove()
    if ax.legend_ is not None:
        ax.legend_.remove()
    ax.set_title("")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_axis_on()
    ax.set_prop_cycle(None)
    ax.set_xscale("linear")  # automatic locators and formatters again
    ax.set_yscale("linear")
    ax.relim()
    ax.set_autoscale_on(True)


def _figure(key: tuple, make: Callable[[], Figure]) -> Figure:
    """A new figure from ``make()``, or within :func:`reusing_figures` the one kept for ``key``, emptied."""
    if not _REUSE.get():
        return make()
    fig = _KEPT.pop(key, None)
    if fig is None:
        fig = make()
        FigureCanvasAgg(fig)  # its renderer (and text measurements) then last as long as the figure
    else:
        for ax in fig.axes:
            _empty_axes(ax)
    _KEPT[key] = fig
    while len(_KEPT) > KEPT_FIGURES_MAX:
        del _KEPT[next(iter(_KEPT))]
    return fig


class _TimeAxis:
    """Seconds -> x values: matplotlib dates (lab clock) when the start is known, else hours elapsed."""

    def __init__(self, subject: Any) -> None:
        self.start = subject.start
        self.base = date2num(subject.start.replace(tzinfo=None)) if subject.start is not None else 0.0

    def __call__(self, seconds: Any) -> np.ndarray:
        seconds = np.asarray(seconds, float)
        return self.base + seconds / 86400.0 if self.start is not None else seconds / 3600.0

    def span(self, seconds: float) -> float:
        return seconds / 86400.0 if self.start is not None else seconds / 3600.0

    def label(self, ax: Any, span_s: float | None = None) -> None:
        if self.start is not None:
            if span_s is not None and 3 * 3600 <= span_s <= 16 * 3600:
                ax.xaxis.set_major_locator(HourLocator())
            ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
            ax.set_xlabel(f"clock time ({self.start.tzname() or self.start.strftime('%z')})")
        else:
            ax.set_xlabel("hours from the start")


def _strip_figure(role: str, height_in: float = 2.4) -> tuple[Figure, Any]:
    """A page-wide figure with one axes, margins fixed (no layout engine: it costs more than the drawing)."""

    def make() -> Figure:
        fig = Figure(figsize=(_WIDTH_IN, height_in), dpi=FIGURE_DPI)
        fig.add_subplot()
        fig.subplots_adjust(left=0.17, right=0.98, top=0.86, bottom=0.22)
        return fig

    fig = _figure(("strip", role, height_in), make)
    return fig, fig.axes[0]


def _say(fig: Figure, ax: Any, text: str) -> Figure:
    """``fig`` saying ``text`` instead of showing data."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def flow_envelope(
    time_s: np.ndarray, flow: np.ndarray, bins: int = ENVELOPE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bin_centre_s, min, max)`` of the flow in ``bins`` equal columns; NaN where no data.

    >>> t = np.arange(0.0, 100.0, 0.5); c, lo, hi = flow_envelope(t, np.sin(t), bins=4)
    >>> c.tolist(), bool((lo <= hi).all())
    ([12.4375, 37.3125, 62.1875, 87.0625], True)
    """
    time_s, flow = np.asarray(time_s, float), np.asarray(flow, float)
    keep = np.isfinite(flow)
    if not keep.any():
        return np.zeros(0), np.zeros(0), np.zeros(0)
    t0, t1 = float(time_s[0]), float(time_s[-1])
    width = max((t1 - t0) / bins, 1e-9)
    index = np.minimum(((time_s[keep] - t0) / width).astype(np.intp), bins - 1)
    frame = pd.Series(flow[keep]).groupby(index).agg(["min", "max"]).reindex(range(bins))
    centre = t0 + (np.arange(bins) + 0.5) * width
    return centre, frame["min"].to_numpy(float), frame["max"].to_numpy(float)


def _event_rows(subject: Any) -> list[tuple[str, pd.DataFrame, bool]]:
    """(label, events, device?) per row of the events panel: ours per kind, then the device's per kind."""
    rows = []
    for events, device in ((subject.events, False), (subject.device_events, True)):
        if events is None or not len(events):
            continue
        for kind, group in events.groupby(events["kind"].astype(str), sort=True):
            rows.append((f"{'device' if device else 'ours'}: {kind.replace('_', ' ')}", group, device))
    return rows


@_report_figure
def overview_figure(subject: Any) -> Figure:
    """The night on one page: flow envelope, pressure, leak, SpO2 (where present) and events by type, shared x."""
    axis = _TimeAxis(subject)
    channels = [
        (name, label, color)
        for name, label, color in _CHANNELS
        if name in subject.signals and np.isfinite(subject.signals[name].values).any()
    ]
    has_pressure_steps = "pressure" not in [c[0] for c in channels] and pressure_over_time(subject)[0].size
    if has_pressure_steps:
        channels.insert(0, ("pressure", "pressure (cmH2O)", "tab:green"))
    rows = _event_rows(subject)
    heights = [2.2] + [1.0] * len(channels) + [0.35 * max(len(rows), 1) + 0.4]

    def make() -> Figure:
        fig = Figure(figsize=(_WIDTH_IN, 1.0 + sum(heights)), dpi=FIGURE_DPI)
        fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
        fig.subplots_adjust(
            left=0.17, right=0.98, top=1 - 0.35 / fig.get_figheight(), bottom=0.55 / fig.get_figheight(), hspace=0.15
        )
        return fig

    fig = _figure(("overview", tuple(heights)), make)
    axes: list[Any] = fig.axes
    ax = axes[0]
    centre, lo, hi = flow_envelope(subject.time_s, subject.flow_lps)
    if centre.size:
        ax.fill_between(axis(centre), lo, hi, color="tab:blue", linewidth=0, alpha=0.8)
    else:
        ax.text(0.5, 0.5, "no flow trace stored for this night", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("flow (L/s)")
    ax.set_title("The night: flow envelope, channels and scored events")
    for ax, (name, label, color) in zip(axes[1:], channels):
        if name == "pressure" and name not in subject.signals:
            t, v, seconds = pressure_over_time(subject)
            ax.step(axis(np.append(t, t[-1] + seconds[-1])), np.append(v, v[-1]), where="post", color=color)
        else:
            sig = subject.signals[name]
            ax.plot(axis(sig.time_s), sig.values, color=color, linewidth=0.6)
        ax.set_ylabel(label)
    ax = axes[-1]
    for i, (_label, events, device) in enumerate(rows):
        kind = str(events["kind"].iloc[0])
        spans = np.column_stack(
            [
                axis(events["start_s"]),
                np.maximum(axis.span(1.0) * events["duration_s"].to_numpy(float), axis.span(20.0)),
            ]
        )
        ax.broken_barh(
            spans,
            (i - 0.4, 0.8),
            facecolors=EVENT_COLORS.get(kind, "tab:gray"),
            hatch="///" if device else None,
            edgecolor="white" if device else None,
            linewidth=0,
        )
    ax.set_yticks(range(len(rows)), [f"{label} ({len(ev)})" for label, ev, _ in rows], fontsize="small")
    ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)
    ax.set_ylabel("events")
    if not rows:
        ax.text(0.5, 0.5, "no apnea or hypopnea scored", ha="center", va="center", transform=ax.transAxes)
    ends = [float(subject.time_s[-1])] if subject.time_s.size else []
    ends += [float(subject.segments["end_s"].max())] if len(subject.segments) else []
    if ends:
        axes[0].set_xlim(axis(0.0), axis(max(ends)))
    axis.label(axes[-1], max(ends) if ends else None)
    return fig


def worst_events(events: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` worst events: apneas first, longest first, then hypopneas.

    >>> ev = pd.DataFrame({"kind": ["hypopnea", "apnea", "apnea"], "start_s": [5.0, 50.0, 90.0],
    ...                    "duration_s": [40.0, 12.0, 20.0]})
    >>> worst_events(ev, 2)["start_s"].tolist()
    [90.0, 50.0]
    """
    if events.empty:
        return events
    ranked = events.assign(_apnea=events["kind"].astype(str).str.contains("apnea") & (events["kind"] != "hypopnea"))
    return ranked.sort_values(["_apnea", "duration_s"], ascending=False).head(n).drop(columns="_apnea")


@_report_figure
def worst_events_figure(subject: Any, *, n: int = 3, margin_s: float = ZOOM_MARGIN_S) -> Figure:
    """The worst events up close (flow with the event shaded, clock time in the title), side by side."""
    worst = worst_events(subject.events, n)
    shown = [
        row
        for _, row in worst.iterrows()
        if subject.time_s.size
        and np.isfinite(
            window(subject.time_s, subject.flow_lps, float(row["start_s"]), float(row["end_s"]), 3)[1]
        ).any()
    ]
    if not shown:
        fig, ax = _strip_figure("say", 2.6)
        return _say(fig, ax, "No apnea or hypopnea with a stored flow trace" if len(worst) else "No apnea or hypopnea")

    def make() -> Figure:
        fig = Figure(figsize=(_WIDTH_IN, 2.6), dpi=FIGURE_DPI)
        fig.subplots(1, len(shown), sharey=True, squeeze=False)
        fig.subplots_adjust(left=0.17, right=0.98, top=0.8, bottom=0.2, wspace=0.08)
        fig.suptitle("Worst events up close", x=0.17, ha="left", fontsize="medium")
        return fig

    fig = _figure(("worst", len(shown)), make)
    axes: list[Any] = fig.axes
    from .tables import clock_texts

    for ax, row in zip(axes, shown):
        start, duration = float(row["start_s"]), float(row["duration_s"])
        lo, hi = start - margin_s, start + duration + margin_s
        tz, fz = window(
            np.asarray(subject.time_s, float), np.asarray(subject.flow_lps, float), lo, hi, 20 * int(hi - lo) + 3
        )
        ax.plot(tz - start, fz, color="tab:blue", linewidth=0.7)
        ax.axvspan(0.0, duration, color=EVENT_COLORS.get(str(row["kind"]), "tab:gray"), alpha=0.25)
        ax.set_xlim(-margin_s, duration + margin_s)
        ax.set_title(
            f"{str(row['kind']).replace('_', ' ')} {duration:.0f} s at {clock_texts(subject, [start])[0]}",
            fontsize="medium",
        )
        ax.set_xlabel("s from the event's start")
    axes[0].set_ylabel("flow (L/s)")
    return fig


@_report_figure
def ahi_per_hour_figure(subject: Any) -> Figure:
    """Events per hour of data in each hour of the night (bars; hours with < 15 min of data hatched)."""
    axis = _TimeAxis(subject)
    table = ahi_per_hour(subject)
    if table.empty:
        return _say(*_strip_figure("say"), "no data")
    fig, ax = _strip_figure("ahi")
    short = table["recorded_min"].to_numpy() < 15
    ax.bar(
        axis(table["hour_start_s"]),
        np.nan_to_num(table["ahi"].to_numpy(float)),
        width=axis.span(3600.0) * 0.9,
        align="edge",
        color=np.where(short, "lightgray", "tab:red"),
        edgecolor="white",
    )
    for x, value in zip(axis(table["hour_start_s"]), table["ahi"]):
        if np.isfinite(value):
            ax.text(x + axis.span(1800.0), value, f"{value:.0f}", ha="center", va="bottom", fontsize="small")
    for level in (5, 15, 30):
        ax.axhline(level, color="black", linewidth=0.4, linestyle=":")
    ax.set_ylabel("AHI (/h)")
    ax.set_title("AHI per hour of the night (dotted: 5, 15, 30 /h; grey: under 15 min of data)")
    axis.label(ax, float(table["hour_start_s"].iloc[-1]) + 3600.0)
    return fig


def hourly_agreement(subject: Any) -> tuple[Any, list[str]] | None:
    """Bland-Altman of the hourly AHI, ours against the device's (hours with 15 min of data or more).

    None without device events. The pairs are the night's hours, labelled by
    their clock (or elapsed) start.
    """
    if subject.device_events is None:
        return None
    from dataclasses import replace

    from ..analysis.agreement import bland_altman
    from .tables import clock_texts

    ours = ahi_per_hour(subject)
    device = ahi_per_hour(replace(subject, events=subject.device_events))
    keep = ours["recorded_min"].to_numpy() >= 15
    labels = clock_texts(subject, ours["hour_start_s"].to_numpy()[keep], with_seconds=False)
    return bland_altman(ours["ahi"].to_numpy()[keep], device["ahi"].to_numpy()[keep]), labels


@_report_figure
def device_agreement_figure(subject: Any) -> Figure | None:
    """The hourly AHI's Bland-Altman plot (:func:`cpap_lib.analysis.agreement.bland_altman_figure`), or None."""
    agreement = hourly_agreement(subject)
    if agreement is None:
        return None
    from ..analysis.agreement import bland_altman_figure

    result, labels = agreement
    fig = bland_altman_figure(
        result,
        quantity="AHI per hour (events/h)",
        labels=labels,
        title=f"Hourly AHI, this analysis minus the device: bias {result.bias:.1f} /h",
    )
    fig.set_size_inches(_WIDTH_IN * 0.7, 3.2)
    fig.set_dpi(FIGURE_DPI)
    return fig


@_report_figure
def breath_rate_figure(breaths: pd.DataFrame, *, bin_s: float = 60.0) -> Figure:
    """Breath-rate trend: per-breath rate (dots) and its median per ``bin_s``.

    >>> b = pd.DataFrame({"peak_s": np.arange(0, 600, 4.0), "rate_bpm": np.full(150, 15.0)})
    >>> line = breath_rate_figure(b).axes[0].lines[0]
    >>> len(line.get_xdata()), float(line.get_ydata()[0])
    (10, 15.0)
    """
    if breaths.empty:
        return _say(*_strip_figure("say"), "No breaths found")
    fig, ax = _strip_figure("breath rate")
    peak = breaths["peak_s"].to_numpy(float)
    rate = breaths["rate_bpm"].to_numpy(float)
    binned = pd.Series(rate).groupby(np.floor(peak / bin_s)).median()
    ax.plot(
        (binned.index.to_numpy() + 0.5) * bin_s / 3600.0,
        binned.to_numpy(),
        color="tab:green",
        linewidth=1.5,
        label=f"median per {bin_s:g} s",
    )
    if len(peak) > 4000:
        keep = np.linspace(0, len(peak) - 1, 4000).astype(np.intp)
        peak, rate = peak[keep], rate[keep]
    ax.scatter(peak / 3600.0, rate, s=2, color="tab:gray", alpha=0.4, label="per breath")
    ax.set_xlabel("hours from the start")
    ax.set_ylabel("breaths/min")
    ax.set_title("Breath-rate trend")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def figure_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes (zlib level :data:`PNG_COMPRESS_LEVEL`, under :data:`RENDER_RC`).

    >>> figure_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    with matplotlib.rc_context(RENDER_RC):
        fig.savefig(buffer, format="png", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()


def figure_img_html(fig: Figure, alt: str | None = None) -> str:
    """An ``<img>`` tag holding ``fig`` as a base64 PNG, with alternative text (default: the first title).

    >>> fig = Figure(figsize=(1, 1)); _ = fig.add_subplot().set_title('Breath-rate "trend"')
    >>> figure_img_html(fig)[:68]
    '<img alt="Breath-rate &quot;trend&quot;" src="data:image/png;base64,'
    """
    if alt is None:
        alt = next((ax.get_title() for ax in fig.axes if ax.get_title()), None) or (fig.get_suptitle() or "figure")
    encoded = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def show_html(text: str) -> None:
    """Display raw HTML in the notebook."""
    from IPython.display import HTML, display

    display(HTML(text))


def show(fig: Figure, alt: str | None = None) -> None:
    """Display ``fig`` in the notebook as an embedded PNG with alternative text."""
    show_html(f'<figure class="report-figure">{figure_img_html(fig, alt)}</figure>')


def show_table(frame: pd.DataFrame, title: str | None = None, *, empty: str = "none") -> None:
    """Display ``frame`` as a table for people (see :func:`cpap_lib.reports.tables.table_html`)."""
    from .tables import table_html

    heading = f"<h3>{html.escape(title)}</h3>" if title else ""
    show_html(heading + table_html(frame, empty=empty))


def use_logging(level: int = logging.WARNING) -> None:
    """Send the library's diagnostics (warnings and worse) to the notebook's stderr."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
