"""The figures of a patient-night that page 1 of a report shows: pure functions of a :class:`ReportSubject`.

Definitions (what the report's labels mean):

- **Hours recorded**: from the first to the last recorded sample (clock span);
  **hours used**: time with data (a device's sessions, the server's uploads),
  the denominator of every index.
- **AHI**: apneas plus hypopneas per hour used, by the analysis rule the
  summary names (``ahi_rule``, else the method and its parameters);
  **severity** is the AASM band of the AHI: normal < 5 <= mild < 15 <=
  moderate < 30 <= severe (events/h).
- **Apnea index**, **hypopnea index**: the same per kind. Central and
  obstructive apneas are counted only where the events say so (device
  scoring, or our analysis's ``apnea_type``, typed by the device's
  forced-oscillation probe: :mod:`cpap_lib.analysis.airway`); otherwise
  "not classified".
- **Pressure**, **leak**: median and 95th percentile over time, from the
  device channel where the recording has one (time-weighted samples), else
  from the uploads' pressures and mean leaks weighted by their durations.
- **SpO2**: mean, minimum and minutes below 90 % over valid samples; the
  **ODI** counts desaturations of at least 3 % below the mean of the
  preceding 120 s lasting 10 s or more, per hour of valid SpO2.
- **Titration table**: one row per pressure step (1 cmH2O bins of the
  pressure over time): time at that pressure, apneas, hypopneas and AHI while
  at it.

Examples
--------
>>> severity_of_ahi(4.9), severity_of_ahi(15.0), severity_of_ahi(None)
('normal', 'moderate', None)
>>> float(weighted_quantile(np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 2.0]), 0.5))
2.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.events import severity as _severity

__all__ = [
    "severity_of_ahi",
    "weighted_quantile",
    "recorded_intervals",
    "night_metrics",
    "pressure_over_time",
    "titration_table",
    "ahi_per_hour",
    "spo2_metrics",
    "event_rows",
    "APNEA_KINDS",
    "ODI_DROP_PCT",
]

APNEA_KINDS = ("apnea", "obstructive_apnea", "central_apnea", "mixed_apnea", "unclassified_apnea")
"""Event kinds that are apneas (every other scored kind with "hypopnea" in it is a hypopnea)."""
ODI_DROP_PCT = 3.0
"""A desaturation: SpO2 at least this many % below the preceding 120 s mean."""
ODI_BASELINE_S, ODI_MIN_S = 120.0, 10.0


def severity_of_ahi(ahi: float | None) -> str | None:
    """AASM severity band of an AHI (None when the AHI is unknown)."""
    if ahi is None or not math.isfinite(ahi):
        return None
    return _severity(float(ahi))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` with ``weights`` (e.g. durations); NaN values ignored.

    The smallest value whose cumulative weight reaches ``q`` of the total.

    >>> float(weighted_quantile(np.array([5.0, 7.0, np.nan]), np.array([3.0, 1.0, 9.0]), 0.95))
    7.0
    """
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    keep = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    if not keep.any():
        return math.nan
    order = np.argsort(values[keep], kind="stable")
    v, w = values[keep][order], weights[keep][order]
    cumulative = np.cumsum(w)
    return float(v[np.searchsorted(cumulative, q * cumulative[-1] - 1e-12)])


def _sample_weights(time_s: np.ndarray) -> np.ndarray:
    """Seconds each sample stands for (its spacing; a gap longer than 10 spacings counts one spacing)."""
    if time_s.size < 2:
        return np.ones(time_s.size)
    dt = np.diff(time_s)
    typical = float(np.median(dt)) if dt.size else 1.0
    dt = np.where(dt > 10 * typical, typical, dt)
    return np.append(dt, typical)


def recorded_intervals(subject: Any) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` spans with data: the server's uploads, else the recording without its gaps."""
    segments = subject.segments
    if len(segments):
        return [(float(a), float(b)) for a, b in zip(segments["start_s"], segments["end_s"])]
    duration = float(subject.summary.get("duration_s") or 0.0)
    if not subject.time_s.size:
        return [(0.0, duration)] if duration else []
    fs = float(subject.summary.get("fs_hz") or 0.0)
    start, end = float(subject.time_s[0]), float(subject.time_s[-1]) + (1.0 / fs if fs > 0 else 0.0)
    spans, cursor = [], start
    for gap in subject.gaps:
        spans.append((cursor, float(gap["start_s"])))
        cursor = float(gap["end_s"])
    spans.append((cursor, end))
    return [(a, b) for a, b in spans if b > a]


def _kind_counts(events: pd.DataFrame) -> dict[str, int]:
    kinds = events["kind"].astype(str) if len(events) else pd.Series([], dtype=str)
    if "apnea_type" in events and len(events):  # our analysis: kind "apnea", its type in its own column
        typed = events["apnea_type"].astype(str)
        kinds = kinds.where(~((kinds == "apnea") & typed.isin(("central", "obstructive"))), typed + "_apnea")
    return {
        "apneas": int(kinds.isin(APNEA_KINDS).sum()),
        "hypopneas": int(kinds.str.contains("hypopnea").sum()),
        "central": int((kinds == "central_apnea").sum()),
        "obstructive": int((kinds == "obstructive_apnea").sum()),
        "classified": bool(kinds.isin(("central_apnea", "obstructive_apnea", "mixed_apnea")).any()),
    }


def pressure_over_time(subject: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(time_s, pressure_cmh2o, seconds)``: the device channel, else one value per upload (with its duration)."""
    signal = subject.signals.get("pressure")
    if signal is not None and signal.values.size:
        return signal.time_s, signal.values, _sample_weights(signal.time_s)
    segments = subject.segments
    if len(segments) and "pressure_cmh2o" in segments:
        return (
            segments["start_s"].to_numpy(float),
            segments["pressure_cmh2o"].to_numpy(float),
            segments["duration_s"].to_numpy(float),
        )
    return np.zeros(0), np.zeros(0), np.zeros(0)


def _channel_stats(subject: Any, name: str, segment_column: str, summary_key: str) -> tuple[float, float]:
    """Median and 95th percentile of a channel over time (channel, else uploads, else the summary's mean)."""
    signal = subject.signals.get(name)
    if signal is not None and np.isfinite(signal.values).any():
        weights = _sample_weights(signal.time_s)
        return weighted_quantile(signal.values, weights, 0.5), weighted_quantile(signal.values, weights, 0.95)
    segments = subject.segments
    if len(segments) and segment_column in segments and segments[segment_column].notna().any():
        values, weights = segments[segment_column].to_numpy(float), segments["duration_s"].to_numpy(float)
        return weighted_quantile(values, weights, 0.5), weighted_quantile(values, weights, 0.95)
    return math.nan, math.nan


def spo2_metrics(time_s: np.ndarray, spo2: np.ndarray) -> dict[str, float]:
    """SpO2 mean, minimum, minutes below 90 % and ODI (3 %, see the module docstring).

    >>> t = np.arange(0.0, 3600.0); s = np.full(t.size, 96.0); s[600:630] = 91.0; s[1800:1815] = 88.0
    >>> m = spo2_metrics(t, s)
    >>> m["spo2_min"], m["spo2_below90_min"], m["odi"]
    (88.0, 0.25, 2.0)
    """
    time_s, spo2 = np.asarray(time_s, float), np.asarray(spo2, float)
    valid = np.isfinite(spo2) & (spo2 > 0)
    if not valid.any():
        return {"spo2_mean": math.nan, "spo2_min": math.nan, "spo2_below90_min": math.nan, "odi": math.nan}
    weights = _sample_weights(time_s)
    t, s, w = time_s[valid], spo2[valid], weights[valid]
    series = pd.Series(s, index=pd.to_timedelta(t, unit="s"))
    baseline = series.rolling(pd.Timedelta(seconds=ODI_BASELINE_S), closed="left").mean().to_numpy()
    below = np.isfinite(baseline) & (s <= baseline - ODI_DROP_PCT)
    # runs of `below`; a run's baseline is the one at its start (the rolling mean follows the drop down)
    edges = np.diff(np.concatenate([[0], below.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    if starts.size:
        start_base = baseline[starts]
        # extend each run while SpO2 stays below its starting baseline - drop
        run_ends = []
        for start, base in zip(starts, start_base):  # one iteration per desaturation, not per sample
            stays = s[start:] <= base - ODI_DROP_PCT
            length = int(np.argmin(stays)) if not stays.all() else stays.size
            run_ends.append(start + length)
        durations = t[np.minimum(np.array(run_ends), t.size - 1)] - t[starts]
        keep = durations >= ODI_MIN_S
        # a run that restarts inside a previous run is the same desaturation
        kept_starts: list[int] = []
        kept_ends: list[int] = []
        last_end = -1
        for start, end, ok in zip(starts, run_ends, keep):
            if ok and start >= last_end:
                kept_starts.append(int(start))
                kept_ends.append(int(end))
                last_end = int(end)
        desaturations = len(kept_starts)
    else:
        desaturations = 0
    hours = float(w.sum()) / 3600.0
    return {
        "spo2_mean": float(np.average(s, weights=w)),
        "spo2_min": float(s.min()),
        "spo2_below90_min": float(w[s < 90.0].sum()) / 60.0,
        "odi": desaturations / hours if hours > 0 else math.nan,
    }


def night_metrics(subject: Any) -> dict[str, Any]:
    """Page 1's numbers for ``subject`` (see the module docstring for each definition).

    Counts and indices come from the subject's summary (the analysis, or the
    night's uploads added up), so they equal the library's for the same input.
    """
    summary: Mapping[str, Any] = subject.summary
    intervals = recorded_intervals(subject)
    used_s = float(summary.get("duration_s") or sum(b - a for a, b in intervals))
    span_s = (max(b for _, b in intervals) - min(a for a, _ in intervals)) if intervals else used_s
    counts = _kind_counts(subject.events)
    apneas = summary.get("apnea_count", counts["apneas"])
    hypopneas = summary.get("hypopnea_count", counts["hypopneas"])
    hours = used_s / 3600.0
    ahi = summary.get("ahi")
    if ahi is None and hours > 0 and apneas is not None and hypopneas is not None:
        ahi = (apneas + hypopneas) / hours
    pressure_median, pressure_p95 = _channel_stats(subject, "pressure", "pressure_cmh2o", "")
    leak_median, leak_p95 = _channel_stats(subject, "leak", "leak_lpm", "leak_lpm")
    metrics: dict[str, Any] = {
        "hours_recorded": span_s / 3600.0,
        "hours_used": hours,
        "ahi": ahi,
        "ahi_rule": ahi_rule_text(summary),
        "severity": summary.get("severity") if summary.get("ahi_rule") else severity_of_ahi(ahi),
        "apnea_count": apneas,
        "apnea_index": summary.get("apnea_index", apneas / hours if hours else None),
        "central_apneas": counts["central"] if counts["classified"] else None,
        "obstructive_apneas": counts["obstructive"] if counts["classified"] else None,
        "hypopnea_count": hypopneas,
        "hypopnea_index": hypopneas / hours if hours and hypopneas is not None else None,
        "breath_rate_bpm": summary.get("breath_rate_bpm"),
        "pressure_median_cmh2o": pressure_median,
        "pressure_p95_cmh2o": pressure_p95,
        "leak_median_lpm": leak_median,
        "leak_p95_lpm": leak_p95,
    }
    if not math.isfinite(leak_median) and summary.get("leak_lpm") is not None:
        metrics["leak_mean_lpm"] = summary.get("leak_lpm")
    spo2 = subject.signals.get("spo2")
    if spo2 is not None and np.isfinite(spo2.values).any():
        metrics.update(spo2_metrics(spo2.time_s, spo2.values))
    return metrics


def ahi_rule_text(summary: Mapping[str, Any]) -> str:
    """The scoring rule behind the AHI, as the report names it.

    The library's hypopnea rules are named with their definition
    (:data:`cpap_lib.analysis.events.HYPOPNEA_RULES`); an older summary
    without ``ahi_rule`` names its method and parameters.

    >>> ahi_rule_text({"ahi_rule": "aasm_3pct"})
    'aasm_3pct: AASM 2012 rule 1A: >= 30 % drop for >= 10 s with a >= 3 % desaturation'
    >>> ahi_rule_text({"method": "amplitude", "params": {"apnea_drop": 0.9, "hypopnea_drop": 0.3}})
    'amplitude rule: apnea_drop=0.9, hypopnea_drop=0.3'
    """
    from ..analysis.events import HYPOPNEA_RULES

    rule = summary.get("ahi_rule")
    if rule:
        return f"{rule}: {HYPOPNEA_RULES[rule]}" if rule in HYPOPNEA_RULES else str(rule)
    params = summary.get("params") or {}
    method = summary.get("method") or "amplitude"
    detail = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in params.items())
    return f"{method} rule" + (f": {detail}" if detail else "")


def _event_starts(events: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    return events["start_s"].to_numpy(float), events["kind"].astype(str)


def titration_table(subject: Any) -> pd.DataFrame:
    """One row per pressure step (1 cmH2O bins): minutes there, apneas, hypopneas, AHI.

    Empty when neither a pressure channel nor uploads with a pressure exist.
    """
    time_s, pressure, seconds = pressure_over_time(subject)
    columns = ["Pressure (cmH2O)", "Time (min)", "Apneas", "Hypopneas", "AHI (/h)"]
    keep = np.isfinite(pressure) & (pressure > 0)
    if not keep.any():
        return pd.DataFrame(columns=columns)
    time_s, level, seconds = time_s[keep], np.round(pressure[keep]), seconds[keep]
    starts, kinds = _event_starts(subject.events)
    # the pressure at each event's start: the latest pressure sample (or upload) at or before it
    at = np.clip(np.searchsorted(time_s, starts, side="right") - 1, 0, time_s.size - 1)
    event_level = level[at] if starts.size else np.zeros(0)
    rows = []
    for value in np.unique(level):
        minutes = float(seconds[level == value].sum()) / 60.0
        if minutes < 0.05:  # a passing value while the pressure ramps
            continue
        here = event_level == value
        apneas = int(kinds[here].isin(APNEA_KINDS).sum())
        hypopneas = int(kinds[here].str.contains("hypopnea").sum())
        rows.append(
            [
                f"{value:g}",
                round(minutes, 1),
                apneas,
                hypopneas,
                round((apneas + hypopneas) / (minutes / 60.0), 1) if minutes > 0 else None,
            ]
        )
    return pd.DataFrame(rows, columns=columns)


def ahi_per_hour(subject: Any) -> pd.DataFrame:
    """Events per hour of data in each hour of the night (``hour_start_s``, ``recorded_min``, ``events``, ``ahi``)."""
    intervals = recorded_intervals(subject)
    if not intervals:
        return pd.DataFrame(columns=["hour_start_s", "recorded_min", "events", "ahi"])
    origin = min(a for a, _ in intervals)
    end = max(b for _, b in intervals)
    hour_starts = origin + 3600.0 * np.arange(max(int(math.ceil((end - origin) / 3600.0)), 1))
    recorded = np.array([sum(max(0.0, min(b, h + 3600.0) - max(a, h)) for a, b in intervals) for h in hour_starts])
    starts, kinds = _event_starts(subject.events)
    scored = (
        kinds.isin(APNEA_KINDS).to_numpy() | kinds.str.contains("hypopnea").to_numpy()
        if len(kinds)
        else np.zeros(0, bool)
    )
    bins = np.floor((starts[scored] - origin) / 3600.0).astype(int) if starts.size else np.zeros(0, int)
    counts = np.bincount(np.clip(bins, 0, hour_starts.size - 1), minlength=hour_starts.size)[: hour_starts.size]
    with np.errstate(divide="ignore", invalid="ignore"):
        ahi = np.where(recorded > 0, counts / (recorded / 3600.0), np.nan)
    return pd.DataFrame({"hour_start_s": hour_starts, "recorded_min": recorded / 60.0, "events": counts, "ahi": ahi})


def event_rows(events: pd.DataFrame, flow_time_s: np.ndarray | None = None) -> pd.DataFrame:
    """Events sorted by time with ``drop_pct`` (100 x (1 - amplitude ratio), NaN where unknown).

    >>> ev = pd.DataFrame({"kind": ["apnea"], "start_s": [5.0], "end_s": [20.0], "duration_s": [15.0],
    ...                    "amplitude_ratio": [0.05]})
    >>> float(event_rows(ev)["drop_pct"].iloc[0])
    95.0
    """
    frame = events.sort_values("start_s", kind="stable").reset_index(drop=True)
    ratio = frame["amplitude_ratio"].to_numpy(float) if "amplitude_ratio" in frame else np.full(len(frame), np.nan)
    return frame.assign(drop_pct=100.0 * (1.0 - ratio))


def sum_counts(rows: Sequence[Mapping[str, Any]], key: str) -> int | None:
    """Sum of ``key`` over ``rows`` (None if any is missing).

    >>> sum_counts([{"a": 1}, {"a": 2}], "a"), sum_counts([{"a": 1}, {}], "a")
    (3, None)
    """
    values = [row.get(key) for row in rows]
    return None if any(v is None for v in values) else int(sum(values))
