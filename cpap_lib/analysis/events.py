"""Respiratory events: apneas, hypopnea candidates, indices and severity.

AASM amplitude rule (``method="amplitude"``, the default)
    An **apnea** is a drop of the flow's peak-to-peak excursion by at least
    90 % from the pre-event baseline lasting at least 10 s. A **hypopnea
    candidate** is a drop of at least 30 % for at least 10 s that is not an
    apnea (without oximetry or arousal data it cannot be confirmed, so it is
    reported separately and never counted as an apnea). Shorter pauses are
    not events. Durations are compared in whole seconds, as scorers and
    devices report them (a measured 9.6 s counts as 10 s).

    The excursion at each moment is ``max - min`` of the cleaned flow in a
    centred window; a run where it stays below the threshold is widened by
    half a window on each side, which recovers the run's true extent (a
    morphological opening). The baseline is the 75th percentile of the
    excursions of the breaths in the preceding ``baseline_s`` seconds.

Old system's rule (``method="gap"``)
    Any gap of more than 10 s between consecutive breath peaks is an apnea.
    Kept for comparison with the lab's historical numbers.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.analysis.events import severity, events_gap_rule
>>> severity(4.9), severity(5.0), severity(29.9), severity(30.0)
('normal', 'mild', 'moderate', 'severe')
>>> events_gap_rule(np.array([0.0, 4.0, 8.0, 21.0, 25.0]))[["start_s", "end_s"]].values.tolist()
[[8.0, 21.0]]
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import ParameterError
from ._checks import as_signal, check_fs, same_length
from .breaths import _lowpass

__all__ = [
    "EVENT_COLUMNS",
    "SEVERITY_BANDS",
    "flow_excursion",
    "runs",
    "breath_baseline",
    "events_find",
    "events_gap_rule",
    "events_per_hour",
    "severity",
]

EVENT_COLUMNS = ("kind", "start_s", "end_s", "duration_s", "amplitude_ratio")
SEVERITY_BANDS = (("normal", 0.0), ("mild", 5.0), ("moderate", 15.0), ("severe", 30.0))
"""AASM bands by events per hour: lower bound of each band."""


def flow_excursion(x: np.ndarray, window: int) -> np.ndarray:
    """Peak-to-peak excursion (max - min) of ``x`` in a centred window of ``window`` samples.

    >>> flow_excursion(np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), 3).tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    return _excursion(as_signal(x), max(int(window), 1))


def _excursion(x: np.ndarray, window: int) -> np.ndarray:
    """The core of :func:`flow_excursion` (inputs already checked)."""
    return ndimage.maximum_filter1d(x, window, mode="nearest") - ndimage.minimum_filter1d(x, window, mode="nearest")


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and stop (exclusive) indices of the True runs of ``mask``.

    >>> [a.tolist() for a in runs(np.array([0, 1, 1, 0, 1], bool))]
    [[1, 4], [3, 5]]
    """
    m = np.concatenate(([False], np.asarray(mask, bool), [False]))
    d = np.flatnonzero(m[1:] != m[:-1])
    return d[0::2], d[1::2]


def breath_baseline(peak_s: np.ndarray, amplitude: np.ndarray, *, baseline_s: float = 120.0, quantile: float = 0.75) -> np.ndarray:
    """Pre-event baseline excursion at each breath.

    The ``quantile`` of the amplitudes of the breaths whose peaks fall in the
    ``baseline_s`` seconds up to and including this breath.

    >>> breath_baseline(np.arange(5.0), np.array([1.0, 1.0, 1.0, 0.1, 1.0]), baseline_s=3.0).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    import pandas as pd

    if len(peak_s) == 0:
        return np.zeros(0)
    s = pd.Series(np.asarray(amplitude, float), index=pd.to_timedelta(np.asarray(peak_s, float), unit="s"))
    return s.rolling(pd.Timedelta(seconds=baseline_s), min_periods=1).quantile(quantile).to_numpy()


def _widened_runs(mask: np.ndarray, half: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ``mask`` widened by ``half`` samples each side, merged where they touch."""
    a, b = runs(mask)
    if a.size == 0:
        return a, b
    a = np.maximum(a - half, 0)
    b = np.minimum(b + half, n)
    # merge overlapping runs
    new = np.concatenate(([True], a[1:] > np.maximum.accumulate(b)[:-1]))
    starts = a[new]
    stops = np.maximum.reduceat(b, np.flatnonzero(new))
    return starts, stops


def _segment_min(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Minimum of ``values[starts[i]:stops[i]]`` for ordered, disjoint, non-empty segments."""
    if starts.size == 0:
        return np.zeros(0)
    bounds = np.column_stack((starts, stops)).ravel()
    return np.minimum.reduceat(np.append(values, np.inf), bounds)[0::2]


def events_find(
    x: np.ndarray,
    time_s: np.ndarray,
    fs_hz: float,
    breaths,
    *,
    apnea_drop: float = 0.9,
    hypopnea_drop: float = 0.3,
    min_duration_s: float = 10.0,
    baseline_s: float = 120.0,
):
    """Apneas and hypopnea candidates by the AASM amplitude rule.

    Apneas: the flow's excursion (low-passed at 2.5 x the breath frequency, so
    sensor noise in a pause is not mistaken for breathing) in a centred window
    of half a breath period (2-5 s) stays below ``1 - apnea_drop`` of the baseline; the run, widened by
    half a window each side, lasts at least ``min_duration_s``.
    Hypopnea candidates: consecutive breaths whose peak-to-peak amplitude is
    below ``1 - hypopnea_drop`` of the baseline, from the first one's start to
    the last one's end, lasting at least ``min_duration_s`` and not
    overlapping an apnea.

    Parameters
    ----------
    x : ndarray
        Cleaned flow (L/s).
    time_s : ndarray
        Sample times, seconds.
    fs_hz : float
        Sampling rate, Hz.
    breaths : pandas.DataFrame
        The breath table (:func:`cpap_lib.analysis.breaths.breaths_table`): ``start_s``,
        ``peak_s``, ``end_s`` and ``amplitude_lps`` are used.
    apnea_drop, hypopnea_drop : float
        Fractional drop from baseline (0-1) that makes an apnea / hypopnea.
    min_duration_s : float
        Shortest event, seconds (AASM: 10).
    baseline_s : float
        Length of the pre-event baseline window, seconds.

    Returns
    -------
    pandas.DataFrame
        One row per event, columns ``EVENT_COLUMNS``, sorted by start.
    """
    import pandas as pd

    x, time_s, fs_hz = as_signal(x), as_signal(time_s, "time_s"), check_fs(fs_hz)
    same_length(x, time_s, "x", "time_s")
    if not 0 < hypopnea_drop < apnea_drop < 1:
        raise ParameterError(
            "hypopnea_drop", f"need 0 < hypopnea_drop < apnea_drop < 1, got {hypopnea_drop!r} and {apnea_drop!r}"
        )
    if not min_duration_s > 0:
        raise ParameterError("min_duration_s", f"must be positive, got {min_duration_s!r}")
    empty = pd.DataFrame({c: pd.Series(dtype="str" if c == "kind" else "float64") for c in EVENT_COLUMNS})
    peaks = breaths["peak_s"].to_numpy(np.float64)
    amplitude = breaths["amplitude_lps"].to_numpy(np.float64)
    if peaks.size < 2 or x.size < 3:
        return empty
    base_breath = breath_baseline(peaks, amplitude, baseline_s=baseline_s)
    found = [_apneas(x, time_s, fs_hz, peaks, base_breath, apnea_drop, min_duration_s)]
    found.append(_hypopneas(breaths, amplitude / base_breath, hypopnea_drop, min_duration_s, found[0]))
    return pd.concat(found, ignore_index=True).sort_values("start_s", kind="stable").reset_index(drop=True)


def _frame(kind: str, start: np.ndarray, stop: np.ndarray, ratio: np.ndarray):
    import pandas as pd

    return pd.DataFrame(
        {"kind": kind, "start_s": start, "end_s": stop, "duration_s": stop - start, "amplitude_ratio": ratio},
        columns=list(EVENT_COLUMNS),
    ).astype({"kind": "str", "start_s": float, "end_s": float, "duration_s": float, "amplitude_ratio": float})


def _long_enough(duration_s: np.ndarray, min_duration_s: float) -> np.ndarray:
    """Durations compared in whole seconds, as scorers and devices report them (9.6 s counts as 10 s)."""
    return np.floor(duration_s + 0.5) >= min_duration_s


def _apneas(x, time_s, fs_hz, peaks, base_breath, drop, min_duration_s):
    # apneas last >= 10 s: a 10 Hz view of the (already low-passed) flow is plenty
    step = max(int(fs_hz // 10), 1)
    xs, ts, fs = x[::step], time_s[::step], fs_hz / step
    period = float(np.median(np.diff(peaks)))
    # sensor noise during a pause must not look like breathing: keep only the breathing band
    # (up to 2.5 x the breath frequency) for this 10 % test
    cutoff = float(np.clip(2.5 / period, 0.4, 2.0))
    if cutoff < fs / 2.5 and xs.size > 30:
        xs = _lowpass(xs, fs, cutoff)
    at = np.clip(np.searchsorted(peaks, ts, side="right") - 1, 0, peaks.size - 1)
    baseline = base_breath[at]
    win = max(int(round(float(np.clip(0.5 * period, 2.0, 5.0)) * fs)), 1)
    ratio = _excursion(xs, win) / np.where(baseline > 0, baseline, np.inf)
    a, b = _widened_runs(ratio < (1.0 - drop), win // 2, xs.size)
    start, stop = ts[a], ts[np.minimum(b, xs.size - 1)]
    keep = _long_enough(stop - start, min_duration_s)
    return _frame("apnea", start[keep], stop[keep], _segment_min(ratio, a[keep], b[keep]))


def _hypopneas(breaths, ratio, drop, min_duration_s, apneas):
    a, b = runs(ratio < (1.0 - drop))
    start = breaths["start_s"].to_numpy(np.float64)[a]
    stop = breaths["end_s"].to_numpy(np.float64)[np.maximum(b - 1, 0)]
    keep = _long_enough(stop - start, min_duration_s)
    if len(apneas):
        ap = apneas[["start_s", "end_s"]].to_numpy()
        keep &= ~((start[:, None] < ap[None, :, 1]) & (stop[:, None] > ap[None, :, 0])).any(axis=1)
    return _frame("hypopnea", start[keep], stop[keep], _segment_min(ratio, a[keep], b[keep]))


def events_gap_rule(breath_peak_s: np.ndarray, *, max_gap_s: float = 10.0):
    """The old system's rule: every gap of more than ``max_gap_s`` between breath peaks is an apnea.

    Parameters
    ----------
    breath_peak_s : ndarray
        Breath peak times, seconds, increasing.
    max_gap_s : float
        Longest gap that is still breathing.

    Returns
    -------
    pandas.DataFrame
        Apneas from the peak before the gap to the peak after it, columns ``EVENT_COLUMNS``.
    """

    if not max_gap_s > 0:
        raise ParameterError("max_gap_s", f"must be positive, got {max_gap_s!r}")
    p = np.asarray(breath_peak_s, dtype=np.float64)
    gaps = np.flatnonzero(np.diff(p) > max_gap_s) if p.size > 1 else np.zeros(0, int)
    start, stop = p[gaps], p[gaps + 1]
    return _frame("apnea", start, stop, np.full(start.size, np.nan))


def events_per_hour(count: int, duration_s: float) -> float:
    """Events per hour of recording.

    >>> events_per_hour(3, 1800.0)
    6.0
    """
    if duration_s <= 0:
        return float("nan")
    return float(count) * 3600.0 / float(duration_s)


def severity(index_per_hour: float) -> str:
    """AASM severity band of an event index (events per hour).

    normal < 5 <= mild < 15 <= moderate < 30 <= severe.
    """
    band = SEVERITY_BANDS[0][0]
    for name, lower in SEVERITY_BANDS:
        if index_per_hour >= lower:
            band = name
    return band
