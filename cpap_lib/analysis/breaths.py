"""Breath detection on a flow signal: clean, find breaths, tabulate, rate.

Each step is a small public function a researcher can call on its own; the
orchestrator :func:`cpap_lib.analysis.analyze` only chains them.

Thresholds adapt to the signal: a breath is an inspiration (flow above
``+threshold x A/2``) followed by an expiration (flow below
``-threshold x A/2``), where ``A`` is the local reference peak-to-peak
excursion of breathing, estimated from the signal itself over a few minutes.
When the expiration is not seen (the patient breathes out through the mouth,
or the lab venturi's expiratory port sits at its floor), an inspiration that
falls back to the noise floor for at least ``min_phase_s`` and rises again is
a breath of its own, if its peak reaches the full threshold and at least
:data:`UNSEEN_EXPIRATION_PEAK` of the usual breath's peak.
Nothing depends on units, absolute amplitude or the sampling rate.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.analysis.breaths import flow_clean, breaths_find, breath_rate
>>> fs = 50.0
>>> t = np.arange(0, 120, 1 / fs)
>>> flow = 0.5 * np.sin(2 * np.pi * t / 4.0)           # 15 breaths/min
>>> clean = flow_clean(flow, fs)
>>> b = breaths_find(clean, fs)
>>> len(b["onset"])
30
>>> round(breath_rate(b["onset"] / fs), 1)
15.0
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage, signal

from ..errors import ParameterError
from ._checks import as_signal, check_fs, same_length

__all__ = [
    "flow_clean",
    "reference_excursion",
    "breaths_find",
    "breaths_table",
    "breath_rate",
    "minor_cycles",
    "BREATH_COLUMNS",
    "CYCLE_FLOW_LPS",
]

BREATH_COLUMNS = (
    "start_s",
    "peak_s",
    "end_s",
    "inspiratory_time_s",
    "expiratory_time_s",
    "tidal_volume_l",
    "peak_flow_lps",
    "amplitude_lps",
    "rate_bpm",
)
_BLOCK_S, _WINDOW_S = 10.0, 240.0  # reference_excursion's defaults (breaths_find uses them too)


def flow_clean(flow: np.ndarray, fs_hz: float, *, cutoff_hz: float = 2.0) -> np.ndarray:
    """Low-pass the flow to remove quantization spikes and sensor noise.

    A zero-phase 4th-order Butterworth filter, so breath timing is unchanged.

    Parameters
    ----------
    flow : ndarray
        Flow, any unit (L/s in this library).
    fs_hz : float
        Sampling rate in Hz.
    cutoff_hz : float
        Cut-off frequency; must be below the Nyquist frequency. 2 Hz keeps the
        shape of breaths up to 60 breaths/min.

    Returns
    -------
    ndarray of float64
        The filtered flow, same length and unit.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros(1000); x[500] = 1.0                    # one spike
    >>> float(np.abs(flow_clean(x, 100.0)).max()) < 0.1
    True
    """
    fs = check_fs(fs_hz)
    if not 0 < cutoff_hz < fs / 2:
        raise ParameterError("cutoff_hz", f"must be between 0 and {fs / 2:g} Hz (Nyquist), got {cutoff_hz!r}")
    return _lowpass(as_signal(flow, "flow"), fs, cutoff_hz)


def _lowpass(x: np.ndarray, fs: float, cutoff_hz: float) -> np.ndarray:
    """The core of :func:`flow_clean` (inputs already checked)."""
    sos = signal.butter(4, cutoff_hz, btype="low", fs=fs, output="sos")
    padlen = min(3 * 6 * 2, x.size - 1)  # scipy's default, bounded for short inputs
    if x.size < 2:
        return x.copy()
    return signal.sosfiltfilt(sos, x, padlen=padlen)


def reference_excursion(
    x: np.ndarray, fs_hz: float, *, block_s: float = _BLOCK_S, window_s: float = _WINDOW_S
) -> np.ndarray:
    """Local reference peak-to-peak excursion of breathing, per sample.

    The signal is cut into blocks of ``block_s``; each block's excursion is
    its max minus its min; the reference at a block is the 75th percentile of
    the excursions of the blocks in a centred window of ``window_s``. Pauses
    and apneas (a minority of any few minutes) do not pull it down.

    Parameters
    ----------
    x : ndarray
        Cleaned flow.
    fs_hz : float
        Sampling rate in Hz.
    block_s, window_s : float
        Block length and smoothing window, seconds.

    Returns
    -------
    ndarray of float64
        Reference excursion (same unit as ``x``) for every sample.

    Examples
    --------
    >>> reference_excursion([0.0, 1.0, -1.0, 0.0] * 5, 1.0, block_s=4.0, window_s=8.0).tolist()[:4]
    [2.0, 2.0, 2.0, 2.0]
    """
    return _reference_excursion(as_signal(x), check_fs(fs_hz), block_s, window_s)


def _reference_excursion(x: np.ndarray, fs: float, block_s: float, window_s: float) -> np.ndarray:
    """The core of :func:`reference_excursion` (inputs already checked)."""
    n = x.size
    block = max(int(round(block_s * fs)), 1)
    nblocks = -(-n // block)
    pad = nblocks * block - n
    padded = np.pad(x, (0, pad), mode="edge") if pad else x
    blocks = padded.reshape(nblocks, block)
    excursion = blocks.max(axis=1) - blocks.min(axis=1)
    half = max(int(round(window_s / block_s / 2)), 1)
    if nblocks <= 2 * half + 1:
        ref_blocks = np.full(nblocks, np.percentile(excursion, 75))
    else:
        ref_blocks = ndimage.percentile_filter(excursion, 75, size=2 * half + 1, mode="nearest")
    return np.repeat(ref_blocks, block)[:n]


def _last_index_where(mask: np.ndarray) -> np.ndarray:
    """For every i, the largest j <= i with mask[j] (or -1)."""
    idx = np.where(mask, np.arange(mask.size), -1)
    return np.maximum.accumulate(idx)


def breaths_find(
    x: np.ndarray,
    fs_hz: float,
    *,
    threshold: float = 0.15,
    reference: np.ndarray | None = None,
    min_phase_s: float = 0.15,
) -> dict[str, np.ndarray]:
    """Find breaths in a cleaned flow signal (inspiration positive).

    A breath starts where flow last crossed zero before rising above
    ``+threshold x reference / 2``, its expiration starts where flow last
    crossed zero before falling below ``-threshold x reference / 2``, and it
    ends where the next breath starts (or, for the last breath, where the
    expiration returns to zero).

    Parameters
    ----------
    x : ndarray
        Cleaned flow (see :func:`flow_clean`).
    fs_hz : float
        Sampling rate in Hz.
    threshold : float
        Fraction (0-1) of the reference half-excursion a phase must exceed.
    reference : ndarray, optional
        Reference peak-to-peak excursion per sample; default
        :func:`reference_excursion` of ``x``.
    min_phase_s : float
        Inspirations or expirations shorter than this are noise, not breaths.

    Returns
    -------
    dict of str to ndarray
        Sample indices ``onset`` (inspiration start), ``peak`` (maximum
        inspiratory flow), ``expiration`` (expiration start), ``trough``
        (minimum expiratory flow) and ``end``; one entry per breath.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.tile(np.r_[np.zeros(5), np.sin(np.linspace(0, 2 * np.pi, 40))], 3)
    >>> b = breaths_find(np.r_[x, np.zeros(5)], 10.0)
    >>> b["onset"].tolist(), b["peak"].tolist()
    ([5, 50, 95], [15, 60, 105])
    """
    fs = check_fs(fs_hz)
    if not 0 < threshold < 1:
        raise ParameterError("threshold", f"must be between 0 and 1 (fraction of the excursion), got {threshold!r}")
    x = as_signal(x)
    if reference is None:
        ref = _reference_excursion(x, fs, _BLOCK_S, _WINDOW_S)
    else:
        ref = as_signal(reference, "reference")
        same_length(x, ref, "x", "reference")
    # breaths are slow: find them in a view of at most ~25 Hz, then map indices back
    step = max(int(fs // _DETECTION_HZ), 1)
    if step > 1:
        found = _find(x[::step], ref[::step], fs / step, threshold, min_phase_s)
        found = {k: np.minimum(v * step, x.size - 1) for k, v in found.items()}
        found["peak"] = _refine_extremum(x, found["peak"], step)
        found["trough"] = _refine_extremum(-x, found["trough"], step)
        return found
    return _find(x, ref, fs, threshold, min_phase_s)


_DETECTION_HZ = 25.0
UNSEEN_EXPIRATION_PEAK = 0.6
"""A breath whose expiration is not seen counts when its inspiratory peak is at least this share of the usual
breath's: a full inspiration the venturi saw while the breath went out through the mouth, not a flicker."""


def _refine_extremum(x: np.ndarray, idx: np.ndarray, step: int) -> np.ndarray:
    """Move each index to the maximum of ``x`` within ``step`` samples around it."""
    if idx.size == 0:
        return idx
    offsets = np.arange(-step + 1, step)
    cand = np.clip(idx[:, None] + offsets[None, :], 0, x.size - 1)
    return cand[np.arange(idx.size), np.argmax(x[cand], axis=1)]


def _find(x: np.ndarray, ref: np.ndarray, fs: float, threshold: float, min_phase_s: float) -> dict[str, np.ndarray]:
    empty = {k: np.zeros(0, dtype=np.int64) for k in ("onset", "peak", "expiration", "trough", "end")}
    if x.size < 3:
        return empty
    level = threshold * ref / 2.0
    state = np.where(x > level, 1, np.where(x < -level, -1, 0)).astype(np.int8)
    nz = np.flatnonzero(state)
    if nz.size < 2:
        return empty
    s = state[nz]
    floor = x <= level / 2
    floor_count = np.cumsum(floor)
    # an inspiration that falls back to the floor and rises again with no expiration in between is a new
    # breath: its expiration went unseen (breathed out through the mouth, an expiratory port at its floor)
    # (at the floor for at least min_phase_s: noise about the threshold does not split an inspiration)
    min_len = max(int(round(min_phase_s * fs)), 1)
    refloored = (s[1:] == 1) & (s[:-1] == 1) & (floor_count[nz[1:]] - floor_count[nz[:-1]] >= min_len)
    change = np.concatenate(([0], np.flatnonzero((s[1:] != s[:-1]) | refloored) + 1))  # where a phase begins
    cross = nz[change]  # first sample beyond the threshold of a new phase
    rising = s[change] == 1
    # start of each phase: where the flow last left the noise floor (half the threshold) before the crossing;
    # the sensor's rounding noise makes a pause read slightly positive, so 0 would be too early
    last_low = _last_index_where(floor)
    last_high = _last_index_where(x >= -level / 2)
    starts = np.where(rising, last_low[cross], last_high[cross])
    insp_cross = cross[rising]
    insp_starts = starts[rising]
    exp_starts = starts[~rising]
    whole = insp_starts >= 0  # the recording began mid-inspiration: not a whole breath
    insp_starts, insp_cross = insp_starts[whole], insp_cross[whole]
    if insp_starts.size == 0:
        return empty
    # each inspiration's expiration is the first one that starts before the next inspiration; where none is
    # seen, it begins where the inspiratory flow is back at the floor
    next_insp = np.append(insp_starts[1:], x.size)
    nxt = np.searchsorted(exp_starts, insp_starts, side="right")
    seen = nxt < exp_starts.size
    seen[seen] = exp_starts[nxt[seen]] < next_insp[seen]
    floor_at = np.where(floor, np.arange(x.size), x.size)
    next_floor = np.minimum.accumulate(floor_at[::-1])[::-1]
    unseen_start = next_floor[insp_cross]
    valid = seen | (unseen_start < next_insp)
    onset = insp_starts[valid]
    expiration = np.where(
        seen, exp_starts[np.minimum(nxt, max(exp_starts.size - 1, 0))] if exp_starts.size else 0, unseen_start
    )[valid]
    seen = seen[valid]
    if onset.size and not seen.all():
        # without its expiration a breath must show a real inspiration: a peak of at least the full
        # threshold (the floor's noise, about the half threshold, makes small bumps) and at least half the
        # usual breath's (the median peak of the breaths whose expiration is seen, or of all of them when
        # hardly any expiration is seen)
        peaks = x[_segment_argmax(x, onset, np.maximum(expiration, onset + 1))]
        usual = float(np.median(peaks[seen] if seen.sum() >= 3 else peaks))
        keep = seen | ((peaks >= 2 * level[onset]) & (peaks >= UNSEEN_EXPIRATION_PEAK * usual))
        onset, expiration, seen = onset[keep], expiration[keep], seen[keep]
    # the breath ends at the next inspiration's start, or where the last expiration returns to the floor;
    # a last expiration still running (or unseen) when the recording stops is not a whole breath
    end = np.empty_like(onset)
    end[:-1] = onset[1:]
    if onset.size:
        after = (
            np.flatnonzero(x[expiration[-1] + 1 :] >= -level[expiration[-1] + 1 :] / 2)
            if seen[-1]
            else np.zeros(0, dtype=np.intp)
        )
        if len(after):
            end[-1] = expiration[-1] + 1 + after[0]
        else:
            onset, expiration, end, seen = onset[:-1], expiration[:-1], end[:-1], seen[:-1]
    # drop phases too short to be breaths (noise bursts)
    keep = ((expiration - onset) >= min_len) & ((end - expiration) >= min_len)
    onset, expiration, end = onset[keep], expiration[keep], end[keep]
    if onset.size == 0:
        return empty
    peak = _segment_argmax(x, onset, expiration)
    trough = _segment_argmax(-x, expiration, end)
    return {"onset": onset, "peak": peak, "expiration": expiration, "trough": trough, "end": end}


def _segment_argmax(x: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Index of the maximum of ``x[starts[i]:stops[i]]`` for every i (vectorized).

    Segments must be non-empty and non-overlapping, in increasing order.
    """
    bounds = np.empty(starts.size * 2, dtype=np.int64)
    bounds[0::2], bounds[1::2] = starts, stops
    xx = np.append(x, -np.inf) if bounds[-1] >= x.size else x
    seg_max = np.maximum.reduceat(xx, bounds)[0::2]
    lengths = stops - starts
    # positions (within the concatenation of segments) where the segment's max is reached
    seg_id = np.repeat(np.arange(starts.size), lengths)
    flat = _ranges(starts, lengths)
    hits = np.flatnonzero(xx[flat] == seg_max[seg_id])
    first = np.searchsorted(seg_id[hits], np.arange(starts.size))
    return flat[hits[first]]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for every (s, n), vectorized."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def breaths_table(
    breaths: Mapping[str, np.ndarray],
    x: np.ndarray,
    time_s: np.ndarray,
    fs_hz: float,
):
    """Per-breath table from :func:`breaths_find` indices.

    Parameters
    ----------
    breaths : mapping
        Output of :func:`breaths_find`.
    x : ndarray
        Cleaned flow in L/s (volumes are its integral).
    time_s : ndarray
        Sample times in seconds.
    fs_hz : float
        Sampling rate in Hz.

    Returns
    -------
    pandas.DataFrame
        Columns ``BREATH_COLUMNS``: times in s, tidal volume (inspired) in L,
        peak inspiratory flow and peak-to-peak amplitude in L/s, and the
        instantaneous rate (60 / breath duration) in breaths/min.
    """
    import pandas as pd

    fs = check_fs(fs_hz)
    x, time_s = as_signal(x), as_signal(time_s, "time_s")
    same_length(x, time_s, "x", "time_s")
    onset, peak, exp_, trough, end = (np.asarray(breaths[k]) for k in ("onset", "peak", "expiration", "trough", "end"))
    cum = np.concatenate(([0.0], np.cumsum(x) / fs))  # volume in L up to each sample
    start_s = time_s[onset]
    end_s = time_s[np.minimum(end, time_s.size - 1)]
    duration = end_s - start_s
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(duration > 0, 60.0 / duration, np.nan)
    return pd.DataFrame(
        {
            "start_s": start_s,
            "peak_s": time_s[peak],
            "end_s": end_s,
            "inspiratory_time_s": time_s[exp_] - start_s,
            "expiratory_time_s": end_s - time_s[exp_],
            "tidal_volume_l": cum[exp_] - cum[onset],
            "peak_flow_lps": x[peak],
            "amplitude_lps": x[peak] - x[trough],
            "rate_bpm": rate,
        },
        columns=list(BREATH_COLUMNS),
    )


CYCLE_FLOW_LPS = 0.05
"""Flow (L/s; 3 L/min) a respiratory cycle passes in both directions to count in the breath rate.

A respiratory-rate counter counts every reversal of the flow from expiration to inspiration beyond a
small fixed flow, whatever the breath's size. ResMed's RespRate trend is such a count: its 0.5 Hz values
are the rate over the device's last 5 breath cycles, and counting cycles of the 2 Hz low-passed flow beyond
+-0.05 L/s reproduces them (mean over each session within 0.2 breaths/min on all 12 sessions of the three
shared cards, AirSense 10 and 11 and AirCurve 10; +-0.03 L/s counts visibly more, +-0.07 fewer)."""


def minor_cycles(x: np.ndarray, fs_hz: float, onsets: np.ndarray, *, level: float = CYCLE_FLOW_LPS) -> np.ndarray:
    """Respiratory cycles the breath detection leaves out: small cycles between breaths (sample indices).

    A cycle is an inspiration (flow above ``+level``) following an expiration (flow below ``-level``);
    it starts where the flow first passes ``+level``. A cycle is left out when one of ``onsets`` lies
    between the start of the expiration before it and the start of the expiration after it: that
    inspiration is a breath already. What remains are the cycles too small for
    :func:`breaths_find`'s adaptive threshold: a partial breath, the small breaths of irregular waking
    breathing, a swallow. They count in the breath rate (a respiratory-rate counter counts them, see
    :data:`CYCLE_FLOW_LPS`), not in the breath table, whose breaths feed the event rules.

    Parameters
    ----------
    x : ndarray
        Cleaned flow, L/s (``level`` is a flow in the same unit).
    fs_hz : float
        Sampling rate in Hz.
    onsets : ndarray
        Breath onsets (sample indices, increasing), e.g. ``breaths_find(...)["onset"]``.
    level : float
        Flow each phase of a cycle must pass.

    Returns
    -------
    ndarray of int64
        Sample index where each left-out cycle's inspiration passes ``+level``.

    Examples
    --------
    >>> t = np.arange(0, 24, 0.04)
    >>> x = np.sin(2 * np.pi * t / 4)                       # 6 breaths of 4 s ...
    >>> x[(t % 4 > 3.0) & (t % 4 < 3.5)] += 0.9            # ... each with a small cycle in its expiration
    >>> b = breaths_find(x, 25.0)
    >>> len(b["onset"]), len(minor_cycles(x, 25.0, b["onset"]))
    (6, 6)
    """
    check_fs(fs_hz)
    x = as_signal(x)
    onsets = np.asarray(onsets, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    state = np.where(x > level, 1, np.where(x < -level, -1, 0)).astype(np.int8)
    nz = np.flatnonzero(state)
    if nz.size < 3:
        return empty
    s = state[nz]
    begin = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))  # where each phase begins (in nz)
    first, sign = nz[begin], s[begin]  # phases alternate in sign
    # each inspiration with an expiration before it: the cycle runs from that expiration's start to the next's
    insp = np.flatnonzero((sign == 1) & (np.arange(sign.size) > 0))
    exp_before = first[insp - 1]
    exp_after = np.append(first, x.size)[insp + 1]
    known = np.searchsorted(onsets, exp_after, side="left") > np.searchsorted(onsets, exp_before, side="right")
    return first[insp[~known]]


def breath_rate(onsets_s: np.ndarray, *, max_ratio: float = 1.5, exclude: np.ndarray | None = None) -> float:
    """Breaths per minute of breathing, from breath onset times.

    ``60 x (number of breath-to-breath intervals) / (their total duration)``,
    leaving out intervals longer than ``max_ratio`` times the local median
    interval (the median of the 11 intervals around it: pauses, apneas stand
    out, a change of breathing pace does not) and intervals that overlap an
    excluded span.

    Parameters
    ----------
    onsets_s : ndarray
        Breath onset times in seconds, increasing.
    max_ratio : float
        Intervals longer than this multiple of the local median are not breathing.
    exclude : ndarray, optional
        ``(k, 2)`` array of ``(start_s, end_s)`` spans (events) to leave out.

    Returns
    -------
    float
        Breaths per minute; NaN with fewer than two breaths.

    Examples
    --------
    >>> breath_rate([0.0, 4.0, 8.0, 12.0, 30.0, 34.0])   # an 18 s pause is left out
    15.0
    """
    t = np.asarray(onsets_s, dtype=np.float64)
    if t.size < 2:
        return float("nan")
    iv = np.diff(t)
    local = ndimage.median_filter(iv, size=min(11, iv.size), mode="nearest")
    keep = iv <= max_ratio * local
    if exclude is not None and len(exclude):
        ex = np.asarray(exclude, dtype=np.float64).reshape(-1, 2)
        # interval (t[i], t[i+1]) overlaps span (a, b) if t[i] < b and t[i+1] > a
        first_span = np.searchsorted(ex[:, 1], t[:-1], side="right")  # first span ending after t[i]
        overlaps = (first_span < ex.shape[0]) & (ex[np.minimum(first_span, ex.shape[0] - 1), 0] < t[1:])
        keep &= ~overlaps
    if not keep.any():
        return float("nan")
    return float(60.0 * keep.sum() / iv[keep].sum())
