"""The device's own daily summary: ``STR.edf`` at the card's root.

One EDF record per sleep day, noon to noon (the file starts at 12:00:00;
records last 86 400 s); the ``Date`` channel numbers the day (days since
1970-01-01).  Per day the device writes its usage, mask-on/-off times
(minutes since that day's noon, -1 for unused slots), its AHI and indices
(events per hour of use), and medians / 95th percentiles of leak, pressure,
breathing rate and tidal volume.

Examples
--------
>>> from cpap_lib.paths import REPO_ROOT
>>> str_edf = REPO_ROOT.parent / "shared" / "reference_data" / "resmed_airsense11" / "STR.edf"  # the shared card
>>> day = summary_for_day(str_edf, date(2024, 10, 17))
>>> round(day["ahi"], 1), round(day["usage_h"], 2), day["mask_on_off"][0]
(0.3, 8.95, ('2024-10-17T22:18:00', '2024-10-18T02:11:00'))
>>> summary_for_day(str_edf, date(2024, 1, 1)) is None  # a day the card does not hold
True
"""

from __future__ import annotations

import functools
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DeviceDataError
from .files import _open_edf

__all__ = ["read_summary", "summary_for_day", "SUMMARY_CHANNELS"]

SUMMARY_CHANNELS = {
    "AHI": ("ahi", 1.0),
    "HI": ("hypopnea_index", 1.0),
    "AI": ("apnea_index", 1.0),
    "OAI": ("obstructive_apnea_index", 1.0),
    "CAI": ("central_apnea_index", 1.0),
    "UAI": ("unclassified_apnea_index", 1.0),
    "Leak.50": ("leak_median_lpm", 60.0),
    "Leak.95": ("leak_95_lpm", 60.0),
    "MaskPress.50": ("pressure_median_cmh2o", 1.0),
    "MaskPress.95": ("pressure_95_cmh2o", 1.0),
    "RespRate.50": ("resp_rate_median_bpm", 1.0),
    "TidVol.50": ("tidal_volume_median_l", 1.0),
    "MinVent.50": ("minute_ventilation_median_lpm", 1.0),
    "SpO2.50": ("spo2_median_pct", 1.0),
    "MaskEvents": ("mask_events", 1.0),
    "Mode": ("mode", 1.0),
}
"""STR channel -> (summary column, factor to its unit): leak L/s -> L/min; pressure is the mask pressure."""


@functools.lru_cache(maxsize=8)
def _read_cached(path: str, _mtime_ns: int, _size: int) -> pd.DataFrame:
    edf, header = _open_edf(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signals = {s.label.strip(): s for s in edf.signals}
    if "Date" not in signals or "Duration" not in signals:
        raise DeviceDataError("not a ResMed STR.edf daily summary (no Date/Duration channels)", file=path)
    days = np.asarray(signals["Date"].data, dtype=np.float64)
    n = days.size
    duration_min = np.asarray(signals["Duration"].data, dtype=np.float64)[:n]
    frame = pd.DataFrame({"usage_h": np.where(duration_min >= 0, duration_min / 60.0, np.nan)})
    for label, (column, factor) in SUMMARY_CHANNELS.items():
        if label in signals:
            values = np.asarray(signals[label].data, dtype=np.float64)[:n]
            frame[column] = np.where(values >= 0, values * factor, np.nan)
    noon = [datetime(1970, 1, 1, 12) + timedelta(days=int(d)) for d in days]
    spans: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    if "MaskOn" in signals and "MaskOff" in signals:
        on = np.asarray(signals["MaskOn"].data, dtype=np.float64)
        off = np.asarray(signals["MaskOff"].data, dtype=np.float64)
        per_day = on.size // n if n else 0
        for i in range(n if per_day else 0):
            for a, b in zip(on[i * per_day : (i + 1) * per_day], off[i * per_day : (i + 1) * per_day]):
                if a >= 0 and b >= 0:
                    spans[i].append(
                        (
                            (noon[i] + timedelta(minutes=float(a))).isoformat(),
                            (noon[i] + timedelta(minutes=float(b))).isoformat(),
                        )
                    )
    frame["mask_on_off"] = spans
    frame.index = pd.Index([n_.date() for n_ in noon], name="day")
    return frame[frame["usage_h"] > 0]


def read_summary(path: str | Path) -> pd.DataFrame:
    """The days the device was used, from ``STR.edf``: one row per sleep day.

    Returns
    -------
    DataFrame
        Indexed by ``day`` (date); ``usage_h`` (hours of mask-on), the
        columns of :data:`SUMMARY_CHANNELS` (NaN where the device wrote -1)
        and ``mask_on_off`` (list of ``(on, off)`` ISO clock times).

    Raises
    ------
    DeviceDataError
        The file is missing, corrupt or not a daily summary.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise DeviceDataError("file not found", file=str(path)) from None
    return _read_cached(str(path), stat.st_mtime_ns, stat.st_size).copy()


def summary_for_day(path: str | Path, day: date) -> dict | None:
    """The STR.edf summary of one sleep day as a dict (``None`` without STR.edf or that day).

    An unreadable STR.edf gives ``None`` too: the summary is an extra, never a
    reason to fail a night.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        table = read_summary(path)
    except DeviceDataError:
        return None
    if day not in table.index:
        return None
    row = table.loc[day]
    out: dict[str, Any] = {"day": day.isoformat()}
    for key, value in row.items():
        if isinstance(value, (float, np.floating)):
            out[key] = None if not np.isfinite(value) else float(value)
        else:
            out[key] = value
    return out
