"""Show how our analysis agrees with a ResMed device's own scoring (HTML for the explorer).

:func:`comparison_html` renders a :class:`cpap_lib.analysis.compare.Comparison`: breath
rate and tidal volume against the device's trends, event sensitivity and
positive predictive value per group, and each device event with whether we
found it. :func:`device_event_spans` gives the device's events in the night
recording's time base, for "zoom to event".

Examples
--------
>>> comparison_html(None)
''
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .common import escape

__all__ = ["comparison_html", "device_event_spans"]

_CELL = "padding:1px 10px"


def _num(value: float, spec: str, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{format(value, spec)}{(' ' + unit) if unit else ''}"


def _pct(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f} %"


def device_event_spans(device_data: Any) -> pd.DataFrame:
    """The device's events with ``kind``, ``label``, ``start_s``, ``end_s`` in the recording's time base.

    Parameters
    ----------
    device_data : DeviceSession or DeviceNight or None
        From :func:`cpap_lib.io.read_device_data`.

    Examples
    --------
    >>> device_event_spans(None).columns.tolist()
    ['kind', 'label', 'start_s', 'end_s']
    """
    events = getattr(device_data, "events", None)
    columns = ["kind", "label", "start_s", "end_s"]
    if events is None or len(events) == 0:
        return pd.DataFrame(columns=columns)
    return events[columns].reset_index(drop=True)


def comparison_html(comparison: Any, *, max_events: int = 100, events_note: str = "") -> str:
    """Render a :class:`~cpap_lib.analysis.compare.Comparison` of the whole night as HTML tables.

    Parameters
    ----------
    comparison : Comparison or None
        ``None`` renders as an empty string.
    max_events : int
        Most device events listed.
    events_note : str
        Why the device's events are unknown (its EVE/CSL files were not read,
        e.g. "device events not included in this upload"). The event agreement
        is then left out and this sentence shown: an unknown scoring is not
        "no events".
    """
    if comparison is None:
        return ""
    night = comparison.night
    device = comparison.device or {}
    model = " ".join(str(device[k]) for k in ("product", "model", "serial_number") if device.get(k))
    head = (
        f"<p style='margin:2px 0'>{escape(comparison.source)}"
        + (f" &middot; device {escape(model)}" if model else "")
        + f" &middot; {len(comparison.sessions)} session(s), {night.duration_s / 3600:.2f} h of flow &middot; "
        f"events matched within &plusmn;{comparison.settings.get('tolerance_s', 0):g} s</p>"
    )
    th = "".join(
        f"<th style='text-align:left;{_CELL}'>{h}</th>"
        for h in ("", "ours (median)", "device (median)", "median |difference|", "within", "trend points")
    )
    rate, volume = night.rate, night.volume
    trends = (
        f"<table class='cpap-compare-trends'><thead><tr>{th}</tr></thead><tbody>"
        f"<tr><td style='{_CELL}'>Breath rate</td><td style='{_CELL}'>{_num(rate.ours_median, '.1f', '/min')}</td>"
        f"<td style='{_CELL}'>{_num(rate.device_median, '.1f', '/min')}</td>"
        f"<td style='{_CELL}'>{_num(rate.median_abs_diff, '.2f', '/min')}</td>"
        f"<td style='{_CELL}'>{_pct(rate.within_share)} within {rate.within:g}/min</td><td style='{_CELL}'>{rate.points:,}</td></tr>"
        f"<tr><td style='{_CELL}'>Tidal volume</td><td style='{_CELL}'>{_num(volume.ours_median, '.3f', 'L')}</td>"
        f"<td style='{_CELL}'>{_num(volume.device_median, '.3f', 'L')}</td>"
        f"<td style='{_CELL}'>{_num(volume.median_abs_diff, '.3f', 'L')}</td>"
        f"<td style='{_CELL}'>{_pct(volume.within_share)} within {volume.within:g} L</td><td style='{_CELL}'>{volume.points:,}</td></tr>"
        "</tbody></table>"
    )
    th = "".join(
        f"<th style='text-align:left;{_CELL}'>{h}</th>"
        for h in ("events", "device", "ours", "device events we found", "sensitivity", "ours confirmed", "PPV")
    )
    rows = "".join(
        f"<tr><td style='{_CELL}'>{escape(group)}</td><td style='{_CELL}'>{ev.device_count}</td>"
        f"<td style='{_CELL}'>{ev.our_count}</td><td style='{_CELL}'>{ev.device_found}</td>"
        f"<td style='{_CELL}'>{_pct(ev.sensitivity)}</td><td style='{_CELL}'>{ev.ours_confirmed}</td>"
        f"<td style='{_CELL}'>{_pct(ev.ppv)}</td></tr>"
        for group, ev in night.events.items()
    )
    events = f"<table class='cpap-compare-events'><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>"
    if events_note:
        note = f"<p class='cpap-device-events-note' style='margin:4px 0 0;color:#7a4f01'>{escape(events_note[0].upper() + events_note[1:])}.</p>"
        return f"<div class='cpap-comparison'>{head}{trends}{note}</div>"
    listed = []
    for r in night.device_events.head(max_events).itertuples():
        seen = (
            "<span style='color:#1b5e20'>found</span>"
            if r.found
            else "<span style='color:#7a4f01'>found as another kind</span>"
            if r.found_any
            else "<span style='color:#c62828'>missed</span>"
        )
        listed.append(f"<li>{escape(r.label)} at {pd.Timestamp(r.start_time):%H:%M:%S}: {seen}</li>")
    device_list = (
        f"<p style='margin:4px 0 0'>Device events:</p><ul style='margin:0'>{''.join(listed)}</ul>"
        if listed
        else "<p style='margin:4px 0 0;color:#555'>The device scored no events.</p>"
    )
    return f"<div class='cpap-comparison'>{head}{trends}{events}{device_list}</div>"
