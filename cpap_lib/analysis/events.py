"""Respiratory events: apneas, hypopneas by a named rule, indices and severity.

Every rule works on the cleaned flow and its breath table, against a moving
pre-event baseline of the preceding ``baseline_s`` (AASM: the 2 minutes
before the event). An event lasts at least ``min_duration_s`` (10 s) as
measured: a pause of 9.9 s is not an apnea.

Apneas (``method="amplitude"``, the default)
    A cessation of breathing lasting at least 10 s: the flow's peak-to-peak
    excursion in a sliding window stays below 10 % of the baseline (a drop
    of at least 90 %, the AASM apnea criterion), or below 20 % (a drop of at
    least 80 %, the threshold CPAP devices use: ResMed scores a drop of more
    than 75 %, Philips 80 %) where not a single breath is found. The apnea
    runs from the end of the last breath's expiration to the beginning of
    the next breath; a bump of less than a quarter of the baseline just
    before that breath (an attempt, or the device's forced-oscillation probe
    that low-pass filtering leaves a trace of) does not end it. Pauses
    shorter than 10 s are not events.

Hypopneas, by the rule chosen with ``hypopnea_rule`` (:data:`HYPOPNEA_RULES`)
    ``"flow_50pct"`` (flow only, comparable with what CPAP devices score; the
    default without oximetry)
        Breathing reduced to less than 50 % of the baseline ventilation
        (ResMed: "respiratory flow decreases to 50 % for at least 10 s"):
        consecutive breaths (at least as many as 10 s of usual breathing
        holds, two or three) whose inspired tidal volume is below half the
        median tidal volume of the preceding ``baseline_s``,
        lasting at least 10 s, with breathing continuing throughout (no
        breath cycle longer than twice the usual one: a stretch with a pause
        in it is a cessation, not reduced breathing) and ending when
        breathing recovers: one of the next two breaths is back to the
        baseline (AASM: the event ends at "the first breath that
        approximates the baseline breathing amplitude"). Never within 2 s of
        an apnea.
    ``"aasm_3pct"`` (AASM 2012 rule 1A, "AHI 3 %"; needs SpO2)
        Peak-to-peak excursion of consecutive breaths at least 30 % below
        the baseline (the 75th percentile of the excursions in the preceding
        ``baseline_s``) for at least 10 s, with an oxygen desaturation of at
        least 3 % (see :mod:`cpap_lib.analysis.oximetry` for the window).
        Arousals are not recorded by these devices, so the arousal
        alternative of rule 1A cannot be used.
    ``"cms_4pct"`` (AASM rule 1B, the CMS definition, "AHI 4 %"; needs SpO2)
        As ``"aasm_3pct"`` with a desaturation of at least 4 %.
    ``"candidates_30pct"`` (exploratory)
        The 30 % reductions of ``"aasm_3pct"`` without any confirmation.
        They are not hypopneas by any clinical rule: never counted into an
        AHI (:func:`ahi_of` gives NaN).

AHI
    (apneas + hypopneas of a clinical rule) per hour of breathing signal;
    severity bands on the AHI (:func:`severity`).

Old system's rule (``method="gap"``)
    Any gap of more than 10 s between consecutive breath peaks is an apnea.
    Kept for comparison with the lab's historical numbers.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.analysis.events import severity, events_gap_rule, ahi_of
>>> severity(4.9), severity(5.0), severity(29.9), severity(30.0)
('normal', 'mild', 'moderate', 'severe')
>>> events_gap_rule(np.array([0.0, 4.0, 8.0, 21.0, 25.0]))[["start_s", "end_s"]].values.tolist()
[[8.0, 21.0]]
>>> ahi_of(3, 1, 1800.0, "flow_50pct"), ahi_of(3, 1, 1800.0, "candidates_30pct")
(8.0, nan)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..errors import ParameterError
from ._checks import as_signal, check_fs, same_length
from .breaths import _lowpass

__all__ = [
    "AHI_RULES",
    "EVENT_COLUMNS",
    "HYPOPNEA_RULES",
    "SEVERITY_BANDS",
    "ahi_of",
    "breath_baseline",
    "check_hypopnea_rule",
    "default_hypopnea_rule",
    "events_find",
    "events_gap_rule",
    "events_per_hour",
    "flow_excursion",
    "has_spo2",
    "runs",
    "severity",
]

EVENT_COLUMNS = ("kind", "start_s", "end_s", "duration_s", "amplitude_ratio", "desaturation_pct", "apnea_type")
"""Columns of an event table; ``desaturation_pct`` is NaN without oximetry; ``apnea_type`` is an apnea's
``"obstructive"``, ``"central"`` or ``"unclassified"`` (:mod:`cpap_lib.analysis.airway`; :func:`events_find`
leaves every apnea unclassified, :func:`cpap_lib.analysis.analyze` types them), ``""`` for a hypopnea."""
SEVERITY_BANDS = (("normal", 0.0), ("mild", 5.0), ("moderate", 15.0), ("severe", 30.0))
"""AASM bands by events per hour: lower bound of each band."""
HYPOPNEA_RULES = {
    "flow_50pct": "flow only, device-comparable: ventilation below 50 % of baseline for >= 10 s",
    "aasm_3pct": "AASM 2012 rule 1A: >= 30 % drop for >= 10 s with a >= 3 % desaturation",
    "cms_4pct": "AASM rule 1B (CMS): >= 30 % drop for >= 10 s with a >= 4 % desaturation",
    "candidates_30pct": "exploratory: >= 30 % drop for >= 10 s, unconfirmed; never counted in an AHI",
}
"""The hypopnea rules ``hypopnea_rule`` accepts, with a one-line definition (see the module docstring)."""
AHI_RULES = ("flow_50pct", "aasm_3pct", "cms_4pct")
"""The rules whose hypopneas count into an AHI."""
DESATURATION_PCT = {"aasm_3pct": 3.0, "cms_4pct": 4.0}
"""Least desaturation (percentage points of SpO2) that confirms a hypopnea, per oximetry rule."""

# -- apnea constants ---------------------------------------------------------------------------
NO_BREATH_APNEA_DROP = 0.8
"""Drop that is an apnea where no breath at all is found: CPAP devices score a flow decrease of
more than 75 % (ResMed) or 80 % (Philips) as an apnea; the 80 % of both keeps the AASM's 90 % for
flow that still shows breaths."""
BREATH_FLOOR = 0.25
"""A bump below this fraction of the baseline excursion is not a breath that ends an apnea
(ResMed's apnea is a decrease of more than 75 %)."""
APNEA_END_BRIDGE_S = 2.5
"""An apnea ends at the next breath of at least :data:`BREATH_FLOOR` if that begins within this
time of the flat flow's end (a faint attempt or the probe's trace lasts about one inspiration,
1-2 s)."""

# -- flow_50pct constants ----------------------------------------------------------------------
FLOW_RULE_RATIO = 0.5
"""Tidal volume below this fraction of the baseline is a reduced breath (ResMed: flow "decreases to 50 %")."""
FLOW_RULE_MIN_BREATHS = (2, 3)
"""Least reduced breaths in a hypopnea: as many as 10 s of usual breathing holds (rounded up), within
these bounds: three above 12 breaths/min, two when breathing is slower. A pair of shallow breaths between
normal ones at an ordinary pace (a swallow, a sigh's aftermath) is not reduced breathing."""
FLOW_RULE_LONGEST_CYCLE = 2.0
"""No breath cycle in a hypopnea is longer than this multiple of the usual cycle (the median of the 11
around it): a pause inside makes it a cessation, the apneas' business."""
FLOW_RULE_RECOVERY = 0.9
"""The hypopnea ends when breathing recovers: one of the next two breaths reaches the baseline."""
APNEA_MARGIN_S = 2.0
"""A hypopnea starting or ending this close to an apnea is part of that apnea, not a second event."""


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


def breath_baseline(
    peak_s: np.ndarray, amplitude: np.ndarray, *, baseline_s: float = 120.0, quantile: float = 0.75
) -> np.ndarray:
    """Pre-event baseline of a per-breath quantity (excursion, tidal volume) at each breath.

    The ``quantile`` of the values of the breaths whose peaks fall in the
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
    return _merged(np.maximum(a - half, 0), np.minimum(b + half, n))


def _merged(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans ``[a, b)`` sorted by start, overlapping ones merged."""
    if a.size == 0:
        return a, b
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order]
    new = np.concatenate(([True], a[1:] > np.maximum.accumulate(b)[:-1]))
    return a[new], np.maximum.reduceat(b, np.flatnonzero(new))


def _segment_min(values: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Minimum of ``values[starts[i]:stops[i]]`` for ordered, disjoint, non-empty segments."""
    if starts.size == 0:
        return np.zeros(0)
    bounds = np.column_stack((starts, stops)).ravel()
    return np.minimum.reduceat(np.append(values, np.inf), bounds)[0::2]


def has_spo2(spo2) -> bool:
    """True if ``spo2`` (a :class:`~cpap_lib.recording.Signal` or None) holds at least one valid value."""
    return spo2 is not None and bool(np.isfinite(np.asarray(spo2.values, dtype=np.float64)).any())


def default_hypopnea_rule(spo2=None) -> str:
    """The rule used when none is named: ``"aasm_3pct"`` with usable SpO2, else ``"flow_50pct"``.

    >>> default_hypopnea_rule(None)
    'flow_50pct'
    """
    return "aasm_3pct" if has_spo2(spo2) else "flow_50pct"


def check_hypopnea_rule(rule: str, spo2=None) -> str:
    """Validate a rule name (and that an oximetry rule has SpO2); return it.

    >>> check_hypopnea_rule("aasm_3pct")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: hypopnea_rule: 'aasm_3pct' needs SpO2 (oximetry) and this recording has none; use 'flow_50pct'
    """
    if rule not in HYPOPNEA_RULES:
        raise ParameterError("hypopnea_rule", f"must be one of {', '.join(map(repr, HYPOPNEA_RULES))}, got {rule!r}")
    if rule in DESATURATION_PCT and not has_spo2(spo2):
        raise ParameterError(
            "hypopnea_rule", f"{rule!r} needs SpO2 (oximetry) and this recording has none; use 'flow_50pct'"
        )
    return rule


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
    hypopnea_rule: str = "flow_50pct",
    spo2=None,
):
    """Apneas and the hypopneas of one rule (see the module docstring for every definition).

    Apneas: the flow's excursion (low-passed at 2.5 x the breath frequency, so
    sensor noise and the device's 4 Hz probe in a pause are not mistaken for
    breathing) in a centred window of half a breath period (2-5 s) stays below
    ``1 - apnea_drop`` of the baseline (or below 20 % where no breath is
    found); the run, widened by half a window each side and carried to the
    next breath past a faint bump, lasts at least ``min_duration_s``.

    Parameters
    ----------
    x : ndarray
        Cleaned flow (L/s).
    time_s : ndarray
        Sample times, seconds.
    fs_hz : float
        Sampling rate, Hz.
    breaths : pandas.DataFrame
        The breath table (:func:`cpap_lib.analysis.breaths.breaths_table`).
    apnea_drop, hypopnea_drop : float
        Fractional drop from baseline (0-1) of the excursion that makes an
        apnea / a 30 % hypopnea (``aasm_3pct``, ``cms_4pct``, ``candidates_30pct``).
    min_duration_s : float
        Shortest event, seconds (AASM: 10).
    baseline_s : float
        Length of the pre-event baseline window, seconds.
    hypopnea_rule : str
        One of :data:`HYPOPNEA_RULES`.
    spo2 : Signal, optional
        Oximetry (``time_s`` in the same time base, ``values`` in %); needed
        by ``aasm_3pct`` and ``cms_4pct``; where given, every event gets its
        ``desaturation_pct``.

    Returns
    -------
    pandas.DataFrame
        One row per event, columns ``EVENT_COLUMNS``, sorted by start;
        ``kind`` is ``"apnea"`` or ``"hypopnea"``.

    Examples
    --------
    >>> from cpap_lib.sim import simulate_recording
    >>> from cpap_lib.analysis import analyze
    >>> events = analyze(simulate_recording(seed=5, minutes=6, apneas=1, hypopneas=1).recording()).events
    >>> sorted(events["kind"])
    ['apnea', 'hypopnea']
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
    check_hypopnea_rule(hypopnea_rule, spo2)
    empty = pd.DataFrame({c: pd.Series(dtype="str" if c in _TEXT_COLUMNS else "float64") for c in EVENT_COLUMNS})
    peaks = breaths["peak_s"].to_numpy(np.float64)
    amplitude = breaths["amplitude_lps"].to_numpy(np.float64)
    if peaks.size < 2 or x.size < 3:
        return empty
    base_breath = breath_baseline(peaks, amplitude, baseline_s=baseline_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        amplitude_ratio = amplitude / base_breath
    apneas = _apneas(x, time_s, fs_hz, breaths, base_breath, amplitude_ratio, apnea_drop, min_duration_s)
    if hypopnea_rule == "flow_50pct":
        hypopneas = _hypopneas_flow(breaths, baseline_s, min_duration_s, apneas)
    else:
        hypopneas = _hypopneas(breaths, amplitude_ratio, hypopnea_drop, min_duration_s, apneas)
    if has_spo2(spo2):
        from .oximetry import desaturations

        for frame in (apneas, hypopneas):
            frame["desaturation_pct"] = desaturations(
                spo2.time_s, spo2.values, frame["start_s"].to_numpy(), frame["end_s"].to_numpy()
            )
    if hypopnea_rule in DESATURATION_PCT:
        hypopneas = hypopneas[hypopneas["desaturation_pct"] >= DESATURATION_PCT[hypopnea_rule] - 1e-9]
    return (
        pd.concat([apneas, hypopneas], ignore_index=True).sort_values("start_s", kind="stable").reset_index(drop=True)
    )


_TEXT_COLUMNS = ("kind", "apnea_type")


def _frame(kind: str, start: np.ndarray, stop: np.ndarray, ratio: np.ndarray):
    import pandas as pd

    return pd.DataFrame(
        {
            "kind": kind,
            "start_s": start,
            "end_s": stop,
            "duration_s": stop - start,
            "amplitude_ratio": ratio,
            "desaturation_pct": np.nan,
            "apnea_type": "unclassified" if kind == "apnea" else "",
        },
        columns=list(EVENT_COLUMNS),
    ).astype({c: "str" if c in _TEXT_COLUMNS else float for c in EVENT_COLUMNS})


def _long_enough(duration_s: np.ndarray, min_duration_s: float) -> np.ndarray:
    """At least ``min_duration_s``, to the millisecond (a 9.9 s pause is not an apnea)."""
    return duration_s >= min_duration_s - 1e-3


def _apneas(x, time_s, fs_hz, breaths, base_breath, amplitude_ratio, drop, min_duration_s):
    peaks = breaths["peak_s"].to_numpy(np.float64)
    # apneas last >= 10 s: a 10 Hz view of the (already low-passed) flow is plenty
    step = max(int(fs_hz // 10), 1)
    xs, ts, fs = x[::step], time_s[::step], fs_hz / step
    n = xs.size
    period = float(np.median(np.diff(peaks)))
    # sensor noise during a pause must not look like breathing: keep only the breathing band
    # (up to 2.5 x the breath frequency) for this 10 % test
    cutoff = float(np.clip(2.5 / period, 0.4, 2.0))
    if cutoff < fs / 2.5 and n > 30:
        xs = _lowpass(xs, fs, cutoff)
    at = np.clip(np.searchsorted(peaks, ts, side="right") - 1, 0, peaks.size - 1)
    baseline = base_breath[at]
    win = max(int(round(float(np.clip(0.5 * period, 2.0, 5.0)) * fs)), 1)
    ratio = _excursion(xs, win) / np.where(baseline > 0, baseline, np.inf)
    a, b = _widened_runs(ratio < (1.0 - drop), win // 2, n)
    no_breath_drop = min(NO_BREATH_APNEA_DROP, drop)
    if no_breath_drop < drop:
        a2, b2 = _widened_runs(ratio < (1.0 - no_breath_drop), win // 2, n)
        breathless = np.searchsorted(peaks, ts[np.minimum(b2, n - 1)], side="left") == np.searchsorted(
            peaks, ts[a2], side="right"
        )
        a, b = _merged(np.concatenate((a, a2[breathless])), np.concatenate((b, b2[breathless])))
    start, stop = ts[a], ts[np.minimum(b, n - 1)]
    # the apnea ends where the next real breath begins (AASM), also when a faint bump comes first
    onsets = breaths["start_s"].to_numpy(np.float64)[amplitude_ratio >= BREATH_FLOOR]
    nxt = np.searchsorted(onsets, start, side="right")
    has_next = nxt < onsets.size
    onset_next = onsets[np.minimum(nxt, onsets.size - 1)] if onsets.size else stop
    stop = np.where(has_next & (onset_next - stop <= APNEA_END_BRIDGE_S), np.maximum(stop, onset_next), stop)
    keep = _long_enough(stop - start, min_duration_s)
    return _frame("apnea", start[keep], stop[keep], _segment_min(ratio, a[keep], b[keep]))


def _overlaps_apnea(start: np.ndarray, stop: np.ndarray, apneas, margin_s: float = 0.0) -> np.ndarray:
    if not len(apneas):
        return np.zeros(start.size, bool)
    ap = apneas[["start_s", "end_s"]].to_numpy()
    return ((start[:, None] < ap[None, :, 1] + margin_s) & (stop[:, None] > ap[None, :, 0] - margin_s)).any(axis=1)


def _hypopneas(breaths, ratio, drop, min_duration_s, apneas):
    """30 % reductions of the peak-to-peak excursion (``candidates_30pct``, the AASM rules before oximetry)."""
    a, b = runs(ratio < (1.0 - drop))
    start = breaths["start_s"].to_numpy(np.float64)[a]
    stop = breaths["end_s"].to_numpy(np.float64)[np.maximum(b - 1, 0)]
    keep = _long_enough(stop - start, min_duration_s) & ~_overlaps_apnea(start, stop, apneas)
    return _frame("hypopnea", start[keep], stop[keep], _segment_min(ratio, a[keep], b[keep]))


def _hypopneas_flow(breaths, baseline_s, min_duration_s, apneas):
    """``flow_50pct``: reduced breathing by tidal volume (see the module docstring)."""
    volume = breaths["tidal_volume_l"].to_numpy(np.float64)
    onset = breaths["start_s"].to_numpy(np.float64)
    end = breaths["end_s"].to_numpy(np.float64)
    base = breath_baseline(breaths["peak_s"].to_numpy(np.float64), volume, baseline_s=baseline_s, quantile=0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base > 0, volume / base, np.inf)
    cycle = end - onset
    usual = ndimage.median_filter(cycle, size=min(11, cycle.size), mode="nearest")
    a, b = runs(ratio < FLOW_RULE_RATIO)
    start, stop = onset[a], end[np.maximum(b - 1, 0)]
    least = np.clip(np.ceil(min_duration_s / usual[a] - 1e-9), *FLOW_RULE_MIN_BREATHS) if a.size else a
    keep = ((b - a) >= least) & _long_enough(stop - start, min_duration_s)
    keep &= -_segment_min(-cycle / usual, a, b) <= FLOW_RULE_LONGEST_CYCLE
    after = np.concatenate((ratio, [0.0, 0.0]))
    keep &= np.maximum(after[b], after[b + 1]) >= FLOW_RULE_RECOVERY
    keep &= ~_overlaps_apnea(start, stop, apneas, APNEA_MARGIN_S)
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


def ahi_of(apnea_count: int, hypopnea_count: int, duration_s: float, rule: str) -> float:
    """Apnea-hypopnea index: (apneas + hypopneas of ``rule``) per hour of breathing signal.

    ``duration_s`` is the time with flow data (gaps between sessions excluded).
    NaN for the exploratory ``candidates_30pct``, which never counts into an AHI.

    >>> ahi_of(10, 5, 3600.0, "cms_4pct")
    15.0
    """
    if rule not in AHI_RULES:
        return float("nan")
    return events_per_hour(apnea_count + hypopnea_count, duration_s)


def severity(index_per_hour: float) -> str | None:
    """AASM severity band of the AHI (events per hour); None where there is no index.

    normal < 5 <= mild < 15 <= moderate < 30 <= severe.

    >>> severity(float("nan")) is None
    True
    """
    if index_per_hour is None or not math.isfinite(index_per_hour):
        return None
    band = SEVERITY_BANDS[0][0]
    for name, lower in SEVERITY_BANDS:
        if index_per_hour >= lower:
            band = name
    return band
