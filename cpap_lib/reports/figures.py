"""Static figures and tables for the batch report notebook.

Reports are read offline, so everything here is plain matplotlib (rendered to
PNG, which nbconvert embeds as base64) and pandas tables. The functions are
pure: they take an :class:`~cpap_lib.analysis.Analysis` (or its ``to_dict()``
summary) and return a :class:`matplotlib.figure.Figure` or a
:class:`pandas.DataFrame`; only :func:`show` touches the notebook's display.
No pyplot: figures are never kept in a global registry, so a long batch does
not accumulate them.

Examples
--------
>>> summary = {"duration_s": 7200.0, "breath_count": 1800, "breath_rate_bpm": 15.0,
...            "apnea_count": 12, "apnea_index": 6.0, "severity": "mild",
...            "hypopnea_count": 4, "ahi": 8.0, "tidal_volume_l": 0.5,
...            "minute_ventilation_lpm": 7.5, "leak_lpm": 0.2, "skipped_rows": 0}
>>> table = summary_table(summary)
>>> table.loc["Apnea index (AASM severity)", "value"]
'6.0 /h (mild)'
>>> is_severe(summary), is_severe({"severity": "severe"})
(False, True)
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from ..analysis.decimate import minmax_lttb, window

__all__ = [
    "summary_table",
    "events_table",
    "measurements_table",
    "night_flow_figure",
    "worst_event",
    "worst_event_figure",
    "breath_rate_figure",
    "history_figure",
    "figure_png",
    "figure_img_html",
    "show",
    "show_markdown",
    "show_breath_rate",
    "show_server_history",
    "use_logging",
    "is_severe",
    "time_unit",
    "EVENT_COLORS",
]

EVENT_COLORS = {"apnea": "tab:red", "hypopnea": "tab:orange"}
"""Shading colour of each event kind in the flow figures."""
NIGHT_POINTS = 4000
"""Points drawn for the whole night's flow (MinMaxLTTB keeps the envelope)."""
ZOOM_MARGIN_S = 30.0
"""Seconds of flow shown on each side of the worst event."""
FIGURE_DPI = 90


def is_severe(summary: Mapping[str, Any]) -> bool:
    """Whether a summary's AASM severity band is ``"severe"``.

    >>> is_severe({"severity": "moderate"})
    False
    """
    return summary.get("severity") == "severe"


def _fmt(value: Any, digits: int, unit: str = "") -> str:
    """Format a number with ``digits`` decimals (``"n/a"`` for missing/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{value:.{digits}f}" if digits else f"{int(round(value))}"
    return f"{text} {unit}".rstrip()


def _duration_text(seconds: float) -> str:
    """``5025.0`` -> ``'1 h 23 min 45 s'``.

    >>> _duration_text(5025.0), _duration_text(48.5)
    ('1 h 23 min 45 s', '48.5 s')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours} h " if hours else "") + f"{minutes} min {secs} s"


def summary_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The report's summary table from an analysis summary (``Analysis.to_dict()``).

    The values are formatted with fixed decimals (the same the tests compare
    against ``cpap-lab analyze --json``): counts as integers, rates, indices
    and ventilation with 1 decimal, volumes with 3.

    Parameters
    ----------
    summary : mapping
        Keys of the Analysis contract (missing ones show as ``n/a``: the
        server does not store every key).

    Returns
    -------
    DataFrame
        Indexed by quantity, one column ``value`` (text, with units).
    """
    get = summary.get
    duration = get("duration_s")
    rows = {
        "Duration": "n/a" if duration is None else _duration_text(float(duration)),
        "Breaths": _fmt(get("breath_count"), 0),
        "Breath rate": _fmt(get("breath_rate_bpm"), 1, "breaths/min"),
        "Apneas": _fmt(get("apnea_count"), 0),
        "Apnea index (AASM severity)": f"{_fmt(get('apnea_index'), 1, '/h')} ({get('severity') or 'n/a'})",
        "Hypopneas (candidates)": _fmt(get("hypopnea_count"), 0),
        "AHI": _fmt(get("ahi"), 1, "/h"),
        "Tidal volume (median)": _fmt(get("tidal_volume_l"), 3, "L"),
        "Minute ventilation": _fmt(get("minute_ventilation_lpm"), 1, "L/min"),
        "Leak (mean)": _fmt(get("leak_lpm"), 2, "L/min"),
        "Rows skipped": _fmt(get("skipped_rows"), 0),
    }
    table = pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows)))
    return table


def events_table(events: pd.DataFrame) -> pd.DataFrame:
    """Events for the report: kind, start (h:mm:ss), duration, amplitude ratio (where known).

    >>> ev = pd.DataFrame({"kind": ["apnea"], "start_s": [3725.0], "end_s": [3740.5],
    ...                    "duration_s": [15.5], "amplitude_ratio": [0.05]})
    >>> events_table(ev).to_dict("records")
    [{'kind': 'apnea', 'start': '1:02:05', 'duration_s': 15.5, 'amplitude_ratio': 0.05}]
    """
    start = events["start_s"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "kind": events["kind"].to_numpy(),
            "start": [_clock(s) for s in start],
            "duration_s": events["duration_s"].to_numpy(dtype=float).round(1),
            "amplitude_ratio": events["amplitude_ratio"].to_numpy(dtype=float).round(2),
        },
        index=pd.RangeIndex(1, len(events) + 1, name="event"),
    )
    if len(table) and table["amplitude_ratio"].isna().all():  # not stored for server measurements
        table = table.drop(columns="amplitude_ratio")
    return table


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def time_unit(duration_s: float) -> tuple[str, float]:
    """Axis unit for a recording: minutes up to two hours, hours beyond.

    >>> time_unit(600.0), time_unit(8 * 3600.0)
    (('min', 60.0), ('h', 3600.0))
    """
    return ("min", 60.0) if duration_s <= 7200 else ("h", 3600.0)


def _shade_events(ax: Any, events: pd.DataFrame, scale: float) -> None:
    """Shade each event kind with one ``broken_barh`` call (no per-event artists)."""
    y0, y1 = ax.get_ylim()
    for kind, color in EVENT_COLORS.items():
        sel = events[events["kind"] == kind]
        if sel.empty:
            continue
        spans = np.column_stack([sel["start_s"].to_numpy(float) / scale, sel["duration_s"].to_numpy(float) / scale])
        ax.broken_barh(spans, (y0, y1 - y0), facecolors=color, alpha=0.25, label=f"{kind} ({len(sel)})")
    ax.set_ylim(y0, y1)


def night_flow_figure(time_s: np.ndarray, flow_lps: np.ndarray, events: pd.DataFrame, *, max_points: int = NIGHT_POINTS) -> Figure:
    """The whole recording's flow, decimated, with apneas and hypopneas shaded.

    Parameters
    ----------
    time_s, flow_lps : ndarray
        The flow trace (decimated here to ``max_points`` with MinMaxLTTB).
    events : DataFrame
        ``kind, start_s, duration_s`` per event.

    Examples
    --------
    >>> t = np.arange(0, 600, 0.01); f = 0.5 * np.sin(2 * np.pi * t / 4)
    >>> ev = pd.DataFrame({"kind": ["apnea"], "start_s": [100.0], "end_s": [115.0], "duration_s": [15.0]})
    >>> fig = night_flow_figure(t, f, ev)
    >>> len(fig.axes[0].lines[0].get_xdata()) <= NIGHT_POINTS
    True
    """
    unit, scale = time_unit(float(time_s[-1] - time_s[0]) if len(time_s) else 0.0)
    td, fd = minmax_lttb(time_s, flow_lps, max_points)
    fig = Figure(figsize=(11, 3.2), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(td / scale, fd, color="tab:blue", linewidth=0.5)
    ax.set_xlim(td[0] / scale, td[-1] / scale)
    _shade_events(ax, events, scale)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("flow (L/s)")
    ax.set_title("Whole recording: flow with apneas and hypopneas shaded")
    if len(events):
        ax.legend(loc="upper right", fontsize="small")
    return fig


def worst_event(events: pd.DataFrame) -> pd.Series | None:
    """The worst event: the longest apnea, else the longest hypopnea, else None.

    >>> ev = pd.DataFrame({"kind": ["hypopnea", "apnea", "apnea"], "start_s": [5.0, 50.0, 90.0],
    ...                    "duration_s": [40.0, 12.0, 20.0]})
    >>> float(worst_event(ev)["start_s"])
    90.0
    """
    if events.empty:
        return None
    ranked = events.assign(_apnea=events["kind"] == "apnea").sort_values(["_apnea", "duration_s"], ascending=False)
    return ranked.iloc[0].drop("_apnea")


def worst_event_figure(time_s: np.ndarray, flow_lps: np.ndarray, events: pd.DataFrame, *, margin_s: float = ZOOM_MARGIN_S) -> Figure:
    """Zoom on the worst event (see :func:`worst_event`) with ``margin_s`` around it.

    Without events the figure says so instead of showing flow.

    >>> t = np.arange(0, 300, 0.01); f = np.sin(t)
    >>> ev = pd.DataFrame({"kind": ["apnea"], "start_s": [100.0], "end_s": [115.0], "duration_s": [15.0]})
    >>> ax = worst_event_figure(t, f, ev).axes[0]
    >>> [round(v) for v in ax.get_xlim()]
    [70, 145]
    """
    fig = Figure(figsize=(11, 3.0), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.add_subplot()
    event = worst_event(events)
    if event is None:
        ax.text(0.5, 0.5, "No apnea or hypopnea in this recording", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    start, duration = float(event["start_s"]), float(event["duration_s"])
    lo, hi = start - margin_s, start + duration + margin_s
    tz, fz = window(np.asarray(time_s, float), np.asarray(flow_lps, float), lo, hi, 20 * int(hi - lo) + 3)
    ax.plot(tz, fz, color="tab:blue", linewidth=0.8)
    ax.axvspan(start, start + duration, color=EVENT_COLORS.get(str(event["kind"]), "tab:gray"), alpha=0.25)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("flow (L/s)")
    ax.set_title(f"Worst event: {event['kind']} of {duration:.1f} s at {_clock(start)}")
    return fig


def breath_rate_figure(breaths: pd.DataFrame, *, bin_s: float = 60.0) -> Figure:
    """Breath-rate trend: per-breath rate (dots) and its median per ``bin_s``.

    >>> b = pd.DataFrame({"peak_s": np.arange(0, 600, 4.0), "rate_bpm": np.full(150, 15.0)})
    >>> line = breath_rate_figure(b).axes[0].lines[0]
    >>> len(line.get_xdata()), float(line.get_ydata()[0])
    (10, 15.0)
    """
    fig = Figure(figsize=(11, 2.8), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.add_subplot()
    if breaths.empty:
        ax.text(0.5, 0.5, "No breaths found", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    peak = breaths["peak_s"].to_numpy(float)
    rate = breaths["rate_bpm"].to_numpy(float)
    unit, scale = time_unit(float(peak[-1] - peak[0]))
    binned = pd.Series(rate).groupby(np.floor(peak / bin_s)).median()
    ax.plot((binned.index.to_numpy() + 0.5) * bin_s / scale, binned.to_numpy(), color="tab:green", linewidth=1.5,
            label=f"median per {bin_s:g} s")
    if len(peak) > NIGHT_POINTS:
        keep = np.linspace(0, len(peak) - 1, NIGHT_POINTS).astype(np.intp)
        peak, rate = peak[keep], rate[keep]
    ax.scatter(peak / scale, rate, s=2, color="tab:gray", alpha=0.4, label="per breath")
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("breath rate (breaths/min)")
    ax.set_title("Breath-rate trend")
    ax.legend(loc="upper right", fontsize="small")
    return fig


_MEASUREMENT_LABELS = {
    "recorded_at": "received (UTC)",
    "cpap_pressure_cmh2o": "pressure (cmH2O)",
    "breath_rate_bpm": "breath rate (/min)",
    "apnea_count": "apneas",
    "apnea_index": "apnea index (/h)",
    "ahi": "AHI (/h)",
    "severity": "severity",
}


def measurements_table(measurements: pd.DataFrame) -> pd.DataFrame:
    """A server patient's measurements for the report, newest first, indexed by id.

    Parameters
    ----------
    measurements : DataFrame
        ``id, recorded_at`` and the summary columns of
        :data:`cpap_lib.reports.server_source.MEASUREMENT_COLUMNS`.

    >>> m = pd.DataFrame({"id": [1, 2], "recorded_at": pd.to_datetime(["2026-01-01 22:00", "2026-01-03 23:10"], utc=True),
    ...                   "cpap_pressure_cmh2o": [8.0, 10.0], "breath_rate_bpm": [15.04, 14.2], "apnea_count": [3, 1],
    ...                   "apnea_index": [7.5, 2.0], "ahi": [9.0, 3.1], "severity": ["mild", "normal"]})
    >>> measurements_table(m).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'received (UTC)': '2026-01-03 23:10', 'pressure (cmH2O)': 10.0, 'breath rate (/min)': 14.2, 'apneas': 1,
     'apnea index (/h)': 2.0, 'AHI (/h)': 3.1, 'severity': 'normal'}
    """
    if measurements.empty:
        return pd.DataFrame(columns=list(_MEASUREMENT_LABELS.values()))
    ordered = measurements.sort_values("recorded_at", ascending=False)
    table = ordered[list(_MEASUREMENT_LABELS)].copy()
    table["recorded_at"] = pd.to_datetime(table["recorded_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    numeric = ["cpap_pressure_cmh2o", "breath_rate_bpm", "apnea_index", "ahi"]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce").round(1)
    table.index = pd.Index(ordered["id"].to_numpy(), name="measurement")
    return table.rename(columns=_MEASUREMENT_LABELS)


def history_figure(measurements: pd.DataFrame) -> Figure:
    """A server patient's measurements over time: CPAP pressure, apnea index, breath rate.

    Parameters
    ----------
    measurements : DataFrame
        ``recorded_at`` (datetime-like), ``cpap_pressure_cmh2o``,
        ``apnea_index`` and ``breath_rate_bpm`` columns (missing values allowed).

    >>> m = pd.DataFrame({"recorded_at": pd.to_datetime(["2026-01-01", "2026-01-02"]),
    ...                   "cpap_pressure_cmh2o": [8.0, 9.0], "apnea_index": [12.0, 4.0], "breath_rate_bpm": [15.0, 14.0]})
    >>> [ax.get_ylabel() for ax in history_figure(m).axes]
    ['pressure (cmH2O)', 'apnea index (/h)', 'breath rate (/min)']
    """
    fig = Figure(figsize=(11, 5.0), dpi=FIGURE_DPI, layout="constrained")
    if measurements.empty:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "No measurements on the server", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    ordered = measurements.sort_values("recorded_at")
    when = pd.to_datetime(ordered["recorded_at"], utc=True).dt.tz_convert(None)
    axes = fig.subplots(3, 1, sharex=True)
    panels = (("cpap_pressure_cmh2o", "pressure (cmH2O)", "tab:purple"), ("apnea_index", "apnea index (/h)", "tab:red"),
              ("breath_rate_bpm", "breath rate (/min)", "tab:green"))
    for ax, (column, label, color) in zip(axes, panels):
        values = pd.to_numeric(ordered[column], errors="coerce").to_numpy(float)
        if column == "cpap_pressure_cmh2o":
            ax.step(when, values, where="post", color=color, marker="o", markersize=3)
        else:
            ax.plot(when, values, color=color, marker="o", markersize=3)
        ax.set_ylabel(label)
    locator = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes[0].set_title(f"History: {len(ordered)} measurements")
    return fig


def figure_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes.

    >>> figure_png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def figure_img_html(fig: Figure, alt: str | None = None) -> str:
    """An ``<img>`` tag holding ``fig`` as a base64 PNG, with alternative text.

    The alternative text defaults to the first axes' title, so reports are
    readable with a screen reader (nbconvert cannot add it to plain PNG outputs).

    >>> fig = Figure(figsize=(1, 1)); _ = fig.add_subplot().set_title('Breath-rate "trend"')
    >>> figure_img_html(fig)[:68]
    '<img alt="Breath-rate &quot;trend&quot;" src="data:image/png;base64,'
    """
    if alt is None:
        alt = next((ax.get_title() for ax in fig.axes if ax.get_title()), "figure")
    encoded = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def show(fig: Figure, alt: str | None = None) -> None:
    """Display ``fig`` in the notebook as an embedded PNG with alternative text."""
    from IPython.display import HTML, display

    display(HTML(figure_img_html(fig, alt)))


def show_markdown(text: str) -> None:
    """Display Markdown ``text`` in the notebook."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_breath_rate(subject: Any) -> None:
    """Show the breath-rate trend, or for a server patient say where the rates are.

    The server keeps each measurement's summary, not its breaths.
    """
    if subject.is_server_patient:
        show_markdown("Per-breath data are not stored on the server: the breath rate of each measurement "
                      "is in the history below.")
    else:
        show(breath_rate_figure(subject.breaths))


def show_server_history(subject: Any) -> None:
    """For a server patient, show the pressure history and earlier measurements.

    Shows nothing for a recording file (no history exists for it).
    """
    if not subject.is_server_patient:
        return
    from IPython.display import display

    show_markdown("## Pressure history and earlier measurements")
    show(history_figure(subject.measurements))
    display(measurements_table(subject.measurements))


def use_logging(level: int = logging.WARNING) -> None:
    """Send the library's diagnostics (warnings and worse) to the notebook's stderr."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
