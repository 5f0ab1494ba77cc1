"""Our analysis against the device's own scoring (ResMed EDF data).

Per session and for the whole night:

breath rate
    Our rate at each of the device's 2-s trend times is the mean breath rate
    over the trailing ``rate_window_s`` (default 20 s): intervals between the
    onsets of the cycles our breath rate counts (the breaths and the small
    cycles between them, :attr:`Analysis.cycle_onsets_s`) in that window,
    ``60 x intervals / their span``.  It is
    compared with the device's ``RespRate`` wherever the device reports one
    (it writes 0 while it has no breath to measure) and we have at least two
    intervals.  Reported: the median absolute difference and the share of
    trend times within 1 breath/min.  A trailing 20 s window matched the
    device best on the reference night (10-60 s windows and +-4 s shifts
    tried; see ``tests/test_compare.py``).
tidal volume
    The mean inspired volume of our breaths starting in the same trailing
    window, against ``TidVol``; median absolute difference and share within
    0.1 L.
events
    Our apneas and hypopnea candidates against the device's events, matched
    by overlap with a tolerance of ``tolerance_s`` on each side.  The device's
    event spans come from :mod:`cpap_lib.io.resmed` (the ``duration_s`` before its
    stamp, aligned by absolute time).  Three groups: ``apnea`` (device
    obstructive, central and unclassified apneas vs our apneas),
    ``hypopnea``, and ``any`` (both together, so an event the two sides type
    differently still counts as found).  Sensitivity = device events found
    by us / device events; positive predictive value (PPV) = our events that
    overlap a device event / our events.

Examples
--------
>>> import numpy as np
>>> from cpap_lib.analysis.compare import trailing_breath_rate, match_spans
>>> onsets = np.arange(0.0, 60.0, 4.0)                 # 15 breaths/min
>>> trailing_breath_rate(onsets, np.array([2.0, 30.0]), window_s=20.0).tolist()
[nan, 15.0]
>>> found, confirmed = match_spans(np.array([[100.0, 110.0]]), np.array([[112.0, 125.0], [300.0, 315.0]]), 5.0)
>>> found.tolist(), confirmed.tolist()
([True], [True, False])
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError, RecordingError
from ..io.resmed import DeviceNight, DeviceSession

__all__ = [
    "Agreement",
    "EventAgreement",
    "PartComparison",
    "Comparison",
    "compare",
    "compare_path",
    "trailing_breath_rate",
    "trailing_mean",
    "match_spans",
    "EVENT_GROUPS",
    "RATE_WINDOW_S",
    "TOLERANCE_S",
]

RATE_WINDOW_S = 20.0
"""Trailing window of our breath rate and tidal volume at each device trend time, s."""
TOLERANCE_S = 5.0
"""Events whose spans come this close (s) count as overlapping."""
RATE_WITHIN_BPM = 1.0
VOLUME_WITHIN_L = 0.1
EVENT_GROUPS = {
    "apnea": (("obstructive_apnea", "central_apnea", "apnea"), ("apnea",)),
    "hypopnea": (("hypopnea",), ("hypopnea",)),
    "any": (("obstructive_apnea", "central_apnea", "apnea", "hypopnea"), ("apnea", "hypopnea")),
}
"""Group -> (device kinds, our kinds) matched against each other."""


# ---------------------------------------------------------------- pure helpers


def trailing_breath_rate(onsets_s: np.ndarray, times_s: np.ndarray, *, window_s: float = RATE_WINDOW_S) -> np.ndarray:
    """Mean breath rate (breaths/min) over the trailing window at each time.

    ``60 x k / (last - first)`` for the ``k + 1`` breath onsets in
    ``[t - window_s, t]``; NaN where the window holds fewer than three onsets.

    Examples
    --------
    >>> trailing_breath_rate(np.array([0.0, 3.0, 6.0, 9.0]), np.array([9.0]), window_s=10).tolist()
    [20.0]
    """
    onsets = np.asarray(onsets_s, dtype=np.float64)
    times = np.asarray(times_s, dtype=np.float64)
    out = np.full(times.shape, np.nan)
    if onsets.size < 3:
        return out
    lo = np.searchsorted(onsets, times - window_s, side="left")
    hi = np.searchsorted(onsets, times, side="right") - 1
    k = hi - lo
    ok = k >= 2
    span = onsets[hi[ok]] - onsets[lo[ok]]
    out[ok] = 60.0 * k[ok] / span
    return out


def trailing_mean(
    at_s: np.ndarray, values: np.ndarray, times_s: np.ndarray, *, window_s: float = RATE_WINDOW_S
) -> np.ndarray:
    """Mean of ``values`` whose times ``at_s`` lie in ``[t - window_s, t]``, at each time (NaN if none).

    Examples
    --------
    >>> trailing_mean(np.array([1.0, 2.0, 8.0]), np.array([0.4, 0.6, 1.0]), np.array([5.0, 9.0]), window_s=5).tolist()
    [0.5, 1.0]
    """
    at = np.asarray(at_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    times = np.asarray(times_s, dtype=np.float64)
    cum = np.concatenate(([0.0], np.cumsum(v)))
    lo = np.searchsorted(at, times - window_s, side="left")
    hi = np.searchsorted(at, times, side="right")
    n = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cum[hi] - cum[lo]) / n, np.nan)


def match_spans(
    device: np.ndarray, ours: np.ndarray, tolerance_s: float = TOLERANCE_S
) -> tuple[np.ndarray, np.ndarray]:
    """Which device spans overlap one of ours, and which of ours overlap a device span.

    Parameters
    ----------
    device, ours : ndarray
        ``(n, 2)`` arrays of ``(start_s, end_s)`` in the same time base.
    tolerance_s : float
        Spans closer than this count as overlapping.

    Returns
    -------
    (ndarray of bool, ndarray of bool)
        ``found`` per device span, ``confirmed`` per span of ours.
    """
    d = np.asarray(device, dtype=np.float64).reshape(-1, 2)
    o = np.asarray(ours, dtype=np.float64).reshape(-1, 2)
    hit = (o[None, :, 0] <= d[:, None, 1] + tolerance_s) & (o[None, :, 1] >= d[:, None, 0] - tolerance_s)
    return np.asarray(hit.any(axis=1)), np.asarray(hit.any(axis=0))


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# ---------------------------------------------------------------- result types


@dataclass(frozen=True)
class Agreement:
    """How closely one of our quantities tracks the device's trend channel.

    Attributes
    ----------
    points : int
        Trend times where both sides have a value.
    median_abs_diff : float
        Median of ``|ours - device|`` (NaN without points).
    within_share : float
        Share of points with ``|ours - device| <= within``.
    within : float
        The tolerance used (1 breath/min, 0.1 L).
    ours_median, device_median : float
        Medians of each side over the same points.
    """

    points: int
    median_abs_diff: float
    within_share: float
    within: float
    ours_median: float
    device_median: float

    @classmethod
    def of(cls, ours: np.ndarray, device: np.ndarray, within: float) -> Agreement:
        """Agreement over the points where both are finite and the device's value is positive."""
        ok = np.isfinite(ours) & np.isfinite(device) & (device > 0)
        if not ok.any():
            nan = float("nan")
            return cls(0, nan, nan, within, nan, nan)
        diff = np.abs(ours[ok] - device[ok])
        return cls(
            points=int(ok.sum()),
            median_abs_diff=float(np.median(diff)),
            within_share=float(np.mean(diff <= within + 1e-9)),
            within=within,
            ours_median=float(np.median(ours[ok])),
            device_median=float(np.median(device[ok])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "median_abs_diff": _finite(self.median_abs_diff),
            "within_share": _finite(self.within_share),
            "within": self.within,
            "ours_median": _finite(self.ours_median),
            "device_median": _finite(self.device_median),
        }


@dataclass(frozen=True)
class EventAgreement:
    """Our events of one group against the device's.

    ``sensitivity`` = ``device_found / device_count``, ``ppv`` =
    ``ours_confirmed / our_count`` (NaN where the count is 0) and ``f1`` their
    harmonic mean (NaN unless both are defined; 0 if both are 0).
    """

    device_count: int
    our_count: int
    device_found: int
    ours_confirmed: int

    @property
    def sensitivity(self) -> float:
        return self.device_found / self.device_count if self.device_count else float("nan")

    @property
    def ppv(self) -> float:
        return self.ours_confirmed / self.our_count if self.our_count else float("nan")

    @property
    def f1(self) -> float:
        s, p = self.sensitivity, self.ppv
        if not (math.isfinite(s) and math.isfinite(p)):
            return float("nan")
        return 2 * s * p / (s + p) if s + p > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_count": self.device_count,
            "our_count": self.our_count,
            "device_found": self.device_found,
            "ours_confirmed": self.ours_confirmed,
            "sensitivity": _finite(self.sensitivity),
            "ppv": _finite(self.ppv),
            "f1": _finite(self.f1),
        }


@dataclass(eq=False)
class PartComparison:
    """The comparison for one session, or for the whole night (``name == "night"``).

    Attributes
    ----------
    name : str
        The session's stamp, or ``"night"``.
    start_time : datetime or None
    duration_s : float
        Time with flow data, s.
    rate, volume : Agreement
        Breath rate (breaths/min) and tidal volume (L) against ``RespRate`` / ``TidVol``.
    events : dict of str to EventAgreement
        Keyed by :data:`EVENT_GROUPS`.
    trend_table : DataFrame
        Per device trend time: ``time``, ``time_s`` (recording time base),
        ``device_rate_bpm``, ``our_rate_bpm``, ``device_tidal_volume_l``,
        ``our_tidal_volume_l``.
    device_events : DataFrame
        The device's apneas and hypopneas (``kind, label, start_s, end_s,
        start_time``; arousals and other annotations are not compared)
        with ``found`` (overlaps one of ours of the same group) and
        ``found_any`` (overlaps any of our events).
    our_events : DataFrame
        Our events (``kind, start_s, end_s, duration_s, amplitude_ratio``)
        with ``confirmed`` / ``confirmed_any`` likewise.
    """

    name: str
    start_time: datetime | None
    duration_s: float
    rate: Agreement
    volume: Agreement
    events: dict[str, EventAgreement]
    trend_table: pd.DataFrame
    device_events: pd.DataFrame
    our_events: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (tables reduced to event lists)."""
        dev = self.device_events
        return {
            "name": self.name,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "duration_s": float(self.duration_s),
            "breath_rate": self.rate.to_dict(),
            "tidal_volume": self.volume.to_dict(),
            "events": {k: v.to_dict() for k, v in self.events.items()},
            "device_events": [
                {
                    "kind": str(r.kind),
                    "label": str(r.label),
                    "start_s": float(r.start_s),
                    "end_s": float(r.end_s),
                    "time": pd.Timestamp(r.start_time).isoformat(),
                    "found": bool(r.found),
                    "found_any": bool(r.found_any),
                    **({"session": str(r.session)} if "session" in dev.columns else {}),
                }
                for r in dev.itertuples()
            ],
        }


@dataclass(eq=False)
class Comparison:
    """Our analysis against the device's scoring, per session and for the night.

    Attributes
    ----------
    source : str
        The BRP file or night folder compared.
    night : PartComparison
        Everything pooled (for a single session: that session).
    sessions : tuple of PartComparison
    analyses : tuple of Analysis
        Our analysis of each session.
    settings : dict
        ``method``, ``params``, ``tolerance_s``, ``rate_window_s``.
    device : dict
        The device's serial number and model, from the EDF headers.
    notes : tuple of str
        Sessions skipped when the night was read, and sessions not compared
        (no breath in their flow), with the reason.
    """

    source: str
    night: PartComparison
    sessions: tuple[PartComparison, ...]
    analyses: tuple[Any, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``source``, ``device``, ``settings``, ``night``, ``sessions``, ``notes``."""
        return {
            "source": self.source,
            "device": dict(self.device),
            "settings": dict(self.settings),
            "night": self.night.to_dict(),
            "sessions": [s.to_dict() for s in self.sessions],
            "notes": list(self.notes),
        }

    @property
    def trend_table(self) -> pd.DataFrame:
        """All sessions' trend tables (with a ``session`` column)."""
        return pd.concat([s.trend_table.assign(session=s.name) for s in self.sessions], ignore_index=True)

    def summary(self) -> str:
        """What ``cpap-lab compare`` prints."""

        def pct(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{100 * x:.0f} %"

        def num(x: float, fmt: str) -> str:
            return "n/a" if not math.isfinite(x) else format(x, fmt)

        def part_lines(p: PartComparison) -> list[str]:
            when = f"{p.start_time:%Y-%m-%d %H:%M:%S}" if p.start_time else "?"
            lines = [
                f"{p.name}: from {when}, {p.duration_s / 3600:.2f} h of flow",
                f"  breath rate   ours {num(p.rate.ours_median, '.1f')} vs device {num(p.rate.device_median, '.1f')} "
                f"breaths/min; median |diff| {num(p.rate.median_abs_diff, '.2f')}, within 1/min {pct(p.rate.within_share)}"
                f" ({p.rate.points} trend points)",
                f"  tidal volume  ours {num(p.volume.ours_median, '.3f')} vs device {num(p.volume.device_median, '.3f')} L; "
                f"median |diff| {num(p.volume.median_abs_diff, '.3f')} L, within 0.1 L {pct(p.volume.within_share)}",
            ]
            for group, ev in p.events.items():
                lines.append(
                    f"  {group:<9}     device {ev.device_count}, ours {ev.our_count}: found {ev.device_found} "
                    f"(sensitivity {pct(ev.sensitivity)}), confirmed {ev.ours_confirmed} (PPV {pct(ev.ppv)})"
                )
            for r in p.device_events.itertuples():
                seen = "found" if r.found else ("found as another kind" if r.found_any else "MISSED")
                lines.append(
                    f"    device {r.label:<18} {pd.Timestamp(r.start_time):%H:%M:%S}  "
                    f"({r.start_s:.0f}-{r.end_s:.0f} s): {seen}"
                )
            return lines

        settings = self.settings
        out = [
            f"{self.source}: our analysis ({settings.get('method')}) vs the device's scoring"
            + (f" [{self.device.get('serial_number')}]" if self.device.get("serial_number") else ""),
            f"  (rate/volume over trailing {settings.get('rate_window_s'):g} s; events matched within "
            f"+-{settings.get('tolerance_s'):g} s)",
        ]
        if len(self.sessions) > 1:
            for s in self.sessions:
                out += part_lines(s)
        out += part_lines(self.night)
        out += [f"  note: {note}" for note in self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        return (
            f"Comparison(source={self.source!r}, sessions={len(self.sessions)}, "
            f"rate_mad={self.night.rate.median_abs_diff:.2f} bpm)"
        )


# ---------------------------------------------------------------- building


def _event_frames(device_events: pd.DataFrame, our_events: pd.DataFrame, tolerance_s: float):
    respiratory = device_events["kind"].isin(EVENT_GROUPS["any"][0])  # arousals and others are not compared
    dev = device_events.loc[respiratory, ["kind", "label", "start_s", "end_s", "start_time"]].copy()
    ours = our_events[["kind", "start_s", "end_s", "duration_s", "amplitude_ratio"]].copy()
    dev["found"] = False
    ours["confirmed"] = False
    for group in ("apnea", "hypopnea"):
        dev_kinds, our_kinds = EVENT_GROUPS[group]
        dm, om = dev["kind"].isin(dev_kinds).to_numpy(), ours["kind"].isin(our_kinds).to_numpy()
        found, confirmed = match_spans(
            dev.loc[dm, ["start_s", "end_s"]].to_numpy(), ours.loc[om, ["start_s", "end_s"]].to_numpy(), tolerance_s
        )
        dev.loc[dm, "found"] = found
        ours.loc[om, "confirmed"] = confirmed
    dev_kinds, our_kinds = EVENT_GROUPS["any"]
    dm, om = dev["kind"].isin(dev_kinds).to_numpy(), ours["kind"].isin(our_kinds).to_numpy()
    found, confirmed = match_spans(
        dev.loc[dm, ["start_s", "end_s"]].to_numpy(), ours.loc[om, ["start_s", "end_s"]].to_numpy(), tolerance_s
    )
    dev["found_any"] = False
    ours["confirmed_any"] = False
    dev.loc[dm, "found_any"] = found
    ours.loc[om, "confirmed_any"] = confirmed
    return dev.reset_index(drop=True), ours.reset_index(drop=True)


def _event_agreements(dev: pd.DataFrame, ours: pd.DataFrame) -> dict[str, EventAgreement]:
    out = {}
    for group, (dev_kinds, our_kinds) in EVENT_GROUPS.items():
        d, o = dev[dev["kind"].isin(dev_kinds)], ours[ours["kind"].isin(our_kinds)]
        flag_d, flag_o = ("found_any", "confirmed_any") if group == "any" else ("found", "confirmed")
        out[group] = EventAgreement(
            device_count=len(d),
            our_count=len(o),
            device_found=int(d[flag_d].sum()),
            ours_confirmed=int(o[flag_o].sum()),
        )
    return out


def _part(name, start_time, duration_s, trend_table, dev, ours) -> PartComparison:
    return PartComparison(
        name=name,
        start_time=start_time,
        duration_s=duration_s,
        rate=Agreement.of(
            trend_table["our_rate_bpm"].to_numpy(), trend_table["device_rate_bpm"].to_numpy(), RATE_WITHIN_BPM
        ),
        volume=Agreement.of(
            trend_table["our_tidal_volume_l"].to_numpy(),
            trend_table["device_tidal_volume_l"].to_numpy(),
            VOLUME_WITHIN_L,
        ),
        events=_event_agreements(dev, ours),
        trend_table=trend_table,
        device_events=dev,
        our_events=ours,
    )


def _compare_session(session: DeviceSession, analysis, *, tolerance_s: float, rate_window_s: float) -> PartComparison:
    trends = session.trends
    times = trends["recording_time_s"].to_numpy(np.float64) if len(trends) else np.zeros(0)
    breaths = analysis.breaths
    onsets = breaths["start_s"].to_numpy(np.float64)
    cycles = analysis.cycle_onsets_s if analysis.cycle_onsets_s.size else onsets  # the cycles the rate counts

    def column(name: str) -> np.ndarray:
        return trends[name].to_numpy(np.float64) if name in trends else np.full(times.size, np.nan)

    table = pd.DataFrame(
        {
            "time": trends["time"] if len(trends) else pd.Series(dtype="datetime64[us]"),
            "time_s": times,
            "device_rate_bpm": column("resp_rate_bpm"),
            "our_rate_bpm": trailing_breath_rate(cycles, times, window_s=rate_window_s),
            "device_tidal_volume_l": column("tidal_volume_l"),
            "our_tidal_volume_l": trailing_mean(
                onsets, breaths["tidal_volume_l"].to_numpy(np.float64), times, window_s=rate_window_s
            ),
        }
    )
    dev, ours = _event_frames(session.events, analysis.events, tolerance_s)
    return _part(session.name, session.start_time, session.duration_s, table, dev, ours)


def compare(
    data: DeviceSession | DeviceNight,
    *,
    method: str = "amplitude",
    tolerance_s: float = TOLERANCE_S,
    rate_window_s: float = RATE_WINDOW_S,
    **params: Any,
) -> Comparison:
    """Compare our analysis of device data with the device's own scoring.

    Parameters
    ----------
    data : DeviceSession or DeviceNight
        From :func:`cpap_lib.io.resmed.read_session` / :func:`cpap_lib.io.resmed.read_datalog`
        (or :func:`cpap_lib.io.read_device_data`).
    method, **params
        Passed to :func:`cpap_lib.analysis.analyze` for each session.
        ``hypopnea_rule`` defaults to ``"flow_50pct"`` here, whatever
        oximetry the night holds: the device scores hypopneas from flow
        alone, so only the flow rule compares like with like.
    tolerance_s : float
        Event-matching tolerance, s (0-60).
    rate_window_s : float
        Trailing window for our rate and volume, s (5-300).

    Returns
    -------
    Comparison

    Raises
    ------
    ParameterError
        A setting out of range, or an analysis parameter it rejects.
    """
    from . import analyze

    if not 0 <= float(tolerance_s) <= 60:
        raise ParameterError("tolerance_s", f"must be between 0 and 60 s, got {tolerance_s!r}")
    if not 5 <= float(rate_window_s) <= 300:
        raise ParameterError("rate_window_s", f"must be between 5 and 300 s, got {rate_window_s!r}")
    if isinstance(data, DeviceNight):
        sessions, source = data.sessions, data.folder.name
    elif isinstance(data, DeviceSession):
        sessions, source = (data,), data.recording.source
    else:
        raise ParameterError("data", f"must be a DeviceSession or DeviceNight, got {type(data).__name__}")
    params.setdefault("hypopnea_rule", "flow_50pct")  # the device's hypopneas are scored on flow alone
    notes = list(getattr(data, "notes", ()))
    kept, analysed = [], []
    for s in sessions:
        try:
            analysed.append(analyze(s.recording, method=method, **params))
            kept.append(s)
        except RecordingError as exc:  # e.g. a short session without a breath; the others still compare
            if len(sessions) == 1:
                raise
            notes.append(f"session {s.start_time:%H:%M:%S}: {exc.reason}; not compared")
    if not kept:
        raise RecordingError("no session holds a breath: " + "; ".join(notes), file=source)
    sessions, analyses = tuple(kept), tuple(analysed)
    parts = tuple(
        _compare_session(s, a, tolerance_s=tolerance_s, rate_window_s=rate_window_s)
        for s, a in zip(sessions, analyses, strict=True)
    )
    if len(parts) == 1:
        night = parts[0]
    else:
        night = _part(
            "night",
            sessions[0].start_time,
            float(sum(p.duration_s for p in parts)),
            pd.concat([p.trend_table for p in parts], ignore_index=True),
            pd.concat([p.device_events.assign(session=p.name) for p in parts], ignore_index=True),
            pd.concat([p.our_events.assign(session=p.name) for p in parts], ignore_index=True),
        )
    return Comparison(
        source=source,
        night=night,
        sessions=parts,
        analyses=analyses,
        settings={
            "method": method,
            "params": dict(analyses[0].params),
            "tolerance_s": float(tolerance_s),
            "rate_window_s": float(rate_window_s),
        },
        device=dict(sessions[0].recording.meta.get("device", {})),
        notes=tuple(notes),
    )


def compare_path(path: str | os.PathLike, **kwargs: Any) -> Comparison:
    """Read device data (BRP file, DATALOG/<date> folder or card root) and :func:`compare` it."""
    from ..io import read_device_data

    return compare(read_device_data(Path(path)), **kwargs)
