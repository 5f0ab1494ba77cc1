"""Oxygen desaturations from an SpO2 signal, for the oximetry hypopnea rules.

A desaturation belongs to an event when SpO2 falls after it: the blood
oxygenated (or not) in the lungs reaches the finger probe 10-30 s later, and
oximeters average over a few seconds more. For an event ``[start, end]``:

pre-event baseline
    the highest SpO2 in the 30 s before the event starts (AASM: the drop is
    measured "from pre-event baseline");
nadir
    the lowest SpO2 from the event's start to 30 s after its end (the
    circulation delay of 10-30 s; the AASM manual asks only that the
    desaturation be associated with the event, so this window is our
    definition);
desaturation
    baseline minus nadir, in percentage points of SpO2.

SpO2 is first averaged over 5 s (centred), as oximeters do, so a single
noisy sample is not a desaturation. Values outside 50-100 % (ResMed writes -1
without an oximeter) are invalid; an event without valid SpO2 on either side
gets NaN.

Examples
--------
>>> import numpy as np
>>> t = np.arange(0.0, 200.0)
>>> spo2 = np.where((t > 80) & (t < 100), 92.0, 96.0)          # a 4-point dip 10-30 s after the event
>>> desaturations(t, spo2, np.array([60.0]), np.array([75.0])).round(1).tolist()
[4.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["desaturations", "BASELINE_S", "AFTER_S", "SMOOTH_S", "VALID_PCT"]

BASELINE_S = 30.0
"""Pre-event window for the baseline, s."""
AFTER_S = 30.0
"""How long after the event's end the nadir is searched, s (circulation delay)."""
SMOOTH_S = 5.0
"""Centred averaging of SpO2 before the search, s (oximeters average over 3-8 s)."""
VALID_PCT = (50.0, 100.0)
"""SpO2 values outside this range are invalid (no probe, -1 on ResMed cards)."""


def desaturations(time_s: np.ndarray, spo2_pct: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    """Desaturation (percentage points) following each event; NaN without valid SpO2.

    Parameters
    ----------
    time_s, spo2_pct : ndarray
        The SpO2 signal (increasing times in the events' time base, values in %).
    start_s, end_s : ndarray
        The events.

    Returns
    -------
    ndarray of float64
        ``baseline - nadir`` per event (see the module docstring).
    """
    t = np.asarray(time_s, dtype=np.float64)
    v = np.asarray(spo2_pct, dtype=np.float64).copy()
    start = np.asarray(start_s, dtype=np.float64)
    end = np.asarray(end_s, dtype=np.float64)
    out = np.full(start.size, np.nan)
    if t.size == 0 or start.size == 0:
        return out
    v[~((v >= VALID_PCT[0]) & (v <= VALID_PCT[1]))] = np.nan
    smooth = _centred_nanmean(t, v, SMOOTH_S)
    lo_base = np.searchsorted(t, start - BASELINE_S, side="left")
    hi_base = np.searchsorted(t, start, side="right")
    lo_nadir = np.searchsorted(t, start, side="left")
    hi_nadir = np.searchsorted(t, end + AFTER_S, side="right")
    for i in range(start.size):  # one pass per event (a night has tens of events), not per sample
        base = smooth[lo_base[i] : hi_base[i]]
        low = smooth[lo_nadir[i] : hi_nadir[i]]
        if np.isfinite(base).any() and np.isfinite(low).any():
            out[i] = np.nanmax(base) - np.nanmin(low)
    return out


def _centred_nanmean(t: np.ndarray, v: np.ndarray, width_s: float) -> np.ndarray:
    """Mean of the valid values within ``width_s / 2`` of each sample (NaN where none)."""
    ok = np.isfinite(v)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, v, 0.0))))
    ccount = np.concatenate(([0], np.cumsum(ok)))
    lo = np.searchsorted(t, t - width_s / 2, side="left")
    hi = np.searchsorted(t, t + width_s / 2, side="right")
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / count, np.nan)
