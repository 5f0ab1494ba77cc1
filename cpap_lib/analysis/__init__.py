"""The whole analysis of one recording: clean -> breaths -> rate -> events.

:func:`analyze` only chains the steps in :mod:`cpap_lib.analysis.breaths` and
:mod:`cpap_lib.analysis.events`; :class:`Analysis` holds the results, with a JSON-safe
:meth:`Analysis.to_dict` and pandas tables of breaths and events.

Recordings with gaps (device sessions joined into a night) are analysed
segment by segment; a gap is never bridged by a breath or an event.

Examples
--------
>>> from cpap_lib.sim import simulate_recording
>>> from cpap_lib.analysis import analyze
>>> sim = simulate_recording(seed=3, minutes=4, rate_bpm=12, apneas=1)
>>> result = analyze(sim.recording())
>>> result.apnea_count, round(result.breath_rate_bpm) == round(sim.truth.breath_rate_bpm)
(1, True)
>>> {k: result.to_dict()[k] for k in ("ahi_rule", "severity")}
{'ahi_rule': 'flow_50pct', 'severity': 'moderate'}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError, RecordingError
from ..jsonable import jsonable
from ..recording import Recording
from .airway import APNEA_TYPE_RULE
from .decimate import minmax_lttb

# The steps (breaths, events) import scipy (about 2 s on the lab machines): they are imported where
# used, so that importing cpap_lib.analysis.decimate or .flow (server, reader, charts) stays cheap.

__all__ = ["analyze", "analyze_file", "Analysis", "DEFAULT_PARAMS", "PARAM_RANGES", "METHODS", "HYPOPNEA_RULES"]

HYPOPNEA_RULES = ("flow_50pct", "aasm_3pct", "cms_4pct", "candidates_30pct")
"""Hypopnea rules ``hypopnea_rule`` accepts (defined in :mod:`cpap_lib.analysis.events`)."""

DEFAULT_PARAMS: dict[str, float] = {
    "cutoff_hz": 2.0,
    "threshold": 0.15,
    "apnea_drop": 0.9,
    "hypopnea_drop": 0.3,
    "min_event_s": 10.0,
    "baseline_s": 120.0,
    "max_gap_s": 10.0,
}
"""Default analysis parameters (see :func:`analyze`)."""
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "cutoff_hz": (0.5, 10.0),
    "threshold": (0.02, 0.8),
    "apnea_drop": (0.5, 0.99),
    "hypopnea_drop": (0.1, 0.89),
    "min_event_s": (1.0, 120.0),
    "baseline_s": (10.0, 1800.0),
    "max_gap_s": (1.0, 120.0),
}
"""Allowed range of every parameter (inclusive); dashboards build sliders from it."""
_GAP_S = 1.0  # a jump in time longer than this splits the recording into segments
_ANALYSIS_HZ = 25.0  # recordings sampled faster are block-averaged down to about this rate


@dataclass(eq=False)
class Analysis:
    """Results of :func:`analyze` for one recording.

    Attributes
    ----------
    recording : Recording
        What was analysed.
    method : str
        ``"amplitude"`` (AASM) or ``"gap"`` (the old system's rule).
    hypopnea_rule : str
        The hypopnea rule scored (one of :data:`HYPOPNEA_RULES`); the AHI's rule.
    params : dict
        The parameters used (defaults filled in).
    breaths : pandas.DataFrame
        One row per breath, columns :data:`cpap_lib.analysis.breaths.BREATH_COLUMNS`.
    events : pandas.DataFrame
        One row per apnea or hypopnea (of :attr:`hypopnea_rule`), columns
        :data:`cpap_lib.analysis.events.EVENT_COLUMNS`.
    clean_time_s, clean_flow_lps : ndarray
        The low-passed flow (L/s) the breaths were found in, at the analysis
        rate (at most ~25 Hz: recordings sampled faster are block-averaged
        first), and its times.
    breath_rate_bpm : float
        Respiratory cycles per minute of breathing (pauses and apneas left out): the breaths, and the
        small cycles between them that a respiratory-rate counter counts too
        (:func:`cpap_lib.analysis.breaths.minor_cycles`).
    cycle_onsets_s : ndarray
        Start times (s) of the cycles the breath rate counts: the breaths' onsets and the small cycles'.
    net_volume_l : float
        Integral of the flow: inspired minus expired volume, L.
    """

    recording: Recording
    method: str
    params: dict[str, float]
    hypopnea_rule: str
    breaths: Any
    events: Any
    clean_time_s: np.ndarray
    clean_flow_lps: np.ndarray
    breath_rate_bpm: float
    net_volume_l: float
    extras: dict[str, Any] = field(default_factory=dict)
    cycle_onsets_s: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    _clean_full: np.ndarray | None = field(default=None, repr=False)

    @property
    def flow_clean_lps(self) -> np.ndarray:
        """The cleaned flow at every sample of the recording (interpolated from the analysis rate)."""
        if self._clean_full is None:
            t = self.recording.time_s
            same = t.size == self.clean_time_s.size
            self._clean_full = self.clean_flow_lps if same else np.interp(t, self.clean_time_s, self.clean_flow_lps)
        return self._clean_full

    # -- counts and indices -------------------------------------------------
    @property
    def breath_count(self) -> int:
        """Number of breaths found."""
        return int(len(self.breaths))

    def _events(self, kind: str):
        return self.events[self.events["kind"] == kind]

    @property
    def apneas(self):
        """The apneas (DataFrame)."""
        return self._events("apnea")

    @property
    def hypopneas(self):
        """The hypopneas of :attr:`hypopnea_rule` (DataFrame)."""
        return self._events("hypopnea")

    @property
    def apnea_count(self) -> int:
        return int(len(self.apneas))

    @property
    def hypopnea_count(self) -> int:
        return int(len(self.hypopneas))

    def apnea_type_count(self, apnea_type: str) -> int:
        """Number of apneas of one type (``"obstructive"``, ``"central"``, ``"unclassified"``; rule
        :data:`cpap_lib.analysis.airway.APNEA_TYPE_RULE`)."""
        return int((self.apneas["apnea_type"] == apnea_type).sum())

    @property
    def apnea_index(self) -> float:
        """Apneas per hour of breathing signal (time with flow data; gaps between sessions excluded)."""
        from . import events as _e

        return _e.events_per_hour(self.apnea_count, self.recording.duration_s)

    @property
    def ahi(self) -> float:
        """Apnea-hypopnea index: (apneas + hypopneas of :attr:`hypopnea_rule`) per hour of breathing signal.

        NaN for the exploratory ``candidates_30pct``, which never counts into an AHI.
        """
        from . import events as _e

        return _e.ahi_of(self.apnea_count, self.hypopnea_count, self.recording.duration_s, self.hypopnea_rule)

    @property
    def severity(self) -> str | None:
        """AASM severity band of the AHI: normal < 5, mild 5-15, moderate 15-30, severe >= 30 /h (None without an AHI)."""
        from . import events as _e

        return _e.severity(self.ahi)

    def _median(self, column: str) -> float:
        values = self.breaths[column].to_numpy()
        return float(np.median(values)) if values.size else float("nan")

    @property
    def tidal_volume_l(self) -> float:
        """Median inspired tidal volume, L."""
        return self._median("tidal_volume_l")

    @property
    def minute_ventilation_lpm(self) -> float:
        """Median tidal volume x breath rate, L/min."""
        return self.tidal_volume_l * self.breath_rate_bpm

    @property
    def leak_lpm(self) -> float:
        """Mean leak: net volume over the recording's duration, L/min."""
        return self.net_volume_l / self.recording.duration_s * 60.0

    # -- output ---------------------------------------------------------------
    def flow_trace(self, max_points: int = 2000, *, clean: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The flow decimated to at most ``max_points`` (MinMaxLTTB), for charts and uploads.

        Returns
        -------
        (ndarray, ndarray)
            Times in s and flow in L/s (cleaned unless ``clean=False``).
        """
        if clean:
            return minmax_lttb(self.clean_time_s, self.clean_flow_lps, max_points)
        return minmax_lttb(self.recording.time_s, self.recording.flow_lps, max_points)

    def to_dict(self) -> dict[str, Any]:
        """Every summary figure as JSON-safe Python values (NaN becomes None)."""
        rec = self.recording

        def spans(frame) -> list[dict[str, float]]:
            return [
                {"start_s": round(float(a), 3), "end_s": round(float(b), 3)}
                for a, b in zip(frame["start_s"].to_numpy(), frame["end_s"].to_numpy())
            ]

        out: dict[str, Any] = {
            "source": os.path.basename(rec.source),
            "samples": rec.samples,
            "duration_s": rec.duration_s,
            "fs_hz": rec.fs_hz,
            "start_time": rec.start_time.isoformat() if rec.start_time else None,
            "skipped_rows": rec.skipped_rows,
            "skipped_lines": list(rec.skipped_lines),
            "method": self.method,
            "params": dict(self.params),
            "breath_count": self.breath_count,
            "breath_rate_bpm": self.breath_rate_bpm,
            "apnea_count": self.apnea_count,
            "apneas": spans(self.apneas),
            "hypopnea_count": self.hypopnea_count,
            "hypopneas": spans(self.hypopneas),
            "obstructive_apnea_count": self.apnea_type_count("obstructive"),
            "central_apnea_count": self.apnea_type_count("central"),
            "unclassified_apnea_count": self.apnea_type_count("unclassified"),
            "apnea_type_rule": APNEA_TYPE_RULE,
            "apnea_index": self.apnea_index,
            "ahi": self.ahi,
            "ahi_rule": self.hypopnea_rule,
            "severity": self.severity,
            "tidal_volume_l": self.tidal_volume_l,
            "minute_ventilation_lpm": self.minute_ventilation_lpm,
            "inspiratory_time_s": self._median("inspiratory_time_s"),
            "net_volume_l": self.net_volume_l,
            "leak_lpm": self.leak_lpm,
        }
        out.update(self.extras)
        return jsonable(out)

    def summary(self) -> str:
        """A short readable summary (what ``cpap-lab analyze`` prints).

        Times are clock times in the lab's zone (``CPAP_LAB_TZ``,
        :func:`cpap_lib.clock.clock_or_elapsed`) where the recording says when it
        started, with the time since its start; otherwise the time since its
        start, and the first line says the clock time is unknown.
        """
        from ..clock import clock_or_elapsed, format_elapsed, recording_start, zone_name

        d = self.to_dict()
        start = self.recording.start_time

        def num(v: Any, fmt: str) -> str:
            return "n/a" if v is None else format(v, fmt)

        begun = recording_start(start)
        when = (
            f", from {begun:%Y-%m-%d %H:%M:%S} ({zone_name()})"
            if begun is not None
            else ", clock time unknown (times are since its start)"
        )
        lines = [
            f"{d['source']}: {d['duration_s'] / 60:.1f} min, {d['samples']} samples at {d['fs_hz']:g} Hz{when}"
            + (
                f", {d['skipped_rows']} malformed rows skipped (lines {', '.join(map(str, d['skipped_lines']))}"
                + (", ..." if d["skipped_rows"] > len(d["skipped_lines"]) else "")
                + ")"
                if d["skipped_rows"]
                else ""
            ),
            f"  breaths           {d['breath_count']}  ({num(d['breath_rate_bpm'], '.1f')} breaths/min)",
            f"  apneas            {d['apnea_count']}  (apnea index {num(d['apnea_index'], '.1f')}/h)",
            f"  hypopneas         {d['hypopnea_count']}  ({d['ahi_rule']})",
            f"  AHI               {num(d['ahi'], '.1f')}/h ({d['ahi_rule']}): {d['severity'] or 'n/a'}",
            f"  tidal volume      {num(d['tidal_volume_l'], '.3f')} L   minute ventilation {num(d['minute_ventilation_lpm'], '.2f')} L/min",
            f"  net volume        {num(d['net_volume_l'], '.2f')} L   mean leak {num(d['leak_lpm'], '.3f')} L/min",
        ]
        for ev in d["apneas"]:
            a, b = ev["start_s"], ev["end_s"]
            since = f"{format_elapsed(a)}, " if begun is not None else ""
            lines.append(
                f"  apnea  {clock_or_elapsed(a, start)} - {clock_or_elapsed(b, start)}  ({since}{b - a:.1f} s)"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Analysis(source={os.path.basename(self.recording.source)!r}, breaths={self.breath_count}, "
            f"rate={self.breath_rate_bpm:.1f} bpm, apneas={self.apnea_count}, hypopneas={self.hypopnea_count})"
        )


def _events_amplitude(
    x: np.ndarray, time_s: np.ndarray, fs_hz: float, breaths, p: dict[str, float], rule: str, spo2=None
):
    """``method="amplitude"``: apneas by the amplitude rule, hypopneas by ``rule``."""
    from . import events as _e

    return _e.events_find(
        x,
        time_s,
        fs_hz,
        breaths,
        apnea_drop=p["apnea_drop"],
        hypopnea_drop=p["hypopnea_drop"],
        min_duration_s=p["min_event_s"],
        baseline_s=p["baseline_s"],
        hypopnea_rule=rule,
        spo2=spo2,
    )


def _events_gap(x: np.ndarray, time_s: np.ndarray, fs_hz: float, breaths, p: dict[str, float], rule: str, spo2=None):
    """``method="gap"``: apneas by the old system's gap rule, hypopneas by ``rule``.

    The hypopneas are those the amplitude step scores (not overlapping an
    amplitude-rule apnea), so the amplitude step runs here too; its apneas are
    replaced by the gap rule's.
    """
    import pandas as pd

    from . import events as _e

    amplitude = _events_amplitude(x, time_s, fs_hz, breaths, p, rule, spo2)
    gap = _e.events_gap_rule(breaths["peak_s"].to_numpy(), max_gap_s=p["max_gap_s"])
    return pd.concat([gap, amplitude[amplitude["kind"] == "hypopnea"]], ignore_index=True)


_EVENT_METHODS = {"amplitude": _events_amplitude, "gap": _events_gap}
"""The events step of each ``method``: ``(clean flow, time_s, fs_hz, breath table, params, rule, spo2) -> events``."""
METHODS = tuple(_EVENT_METHODS)
"""The analysis methods (``analyze(method=...)``): ``("amplitude", "gap")``."""


def _check_params(method: str, params: dict[str, Any], hypopnea_rule: str | None = None) -> dict[str, float]:
    if method not in METHODS:
        raise ParameterError("method", f"must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if hypopnea_rule is not None and hypopnea_rule not in HYPOPNEA_RULES:
        raise ParameterError(
            "hypopnea_rule", f"must be one of {', '.join(map(repr, HYPOPNEA_RULES))}, got {hypopnea_rule!r}"
        )
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise ParameterError(sorted(unknown)[0], f"unknown analysis parameter; known: {', '.join(DEFAULT_PARAMS)}")
    full = dict(DEFAULT_PARAMS)
    for name, value in params.items():
        lo, hi = PARAM_RANGES[name]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ParameterError(name, f"must be a number between {lo:g} and {hi:g}, got {value!r}") from None
        if not lo <= v <= hi:
            raise ParameterError(name, f"must be between {lo:g} and {hi:g}, got {value!r}")
        full[name] = v
    if full["hypopnea_drop"] >= full["apnea_drop"]:
        raise ParameterError("hypopnea_drop", f"must be smaller than apnea_drop ({full['apnea_drop']:g})")
    return full


def _block_mean(a: np.ndarray, step: int) -> np.ndarray:
    """Means of consecutive blocks of ``step`` samples (the last block may be shorter)."""
    if step == 1:
        return a
    n = a.size // step * step
    head = a[:n].reshape(-1, step).mean(axis=1)
    return np.append(head, a[n:].mean()) if n < a.size else head


def _segments(time_s: np.ndarray) -> list[slice]:
    """Contiguous stretches of the recording (split where time jumps by more than 1 s)."""
    cuts = np.flatnonzero(np.diff(time_s) > _GAP_S) + 1
    bounds = np.concatenate(([0], cuts, [time_s.size]))
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _gaps_as_spans(time_s: np.ndarray, segments: list[slice]) -> np.ndarray:
    """The jumps between segments as ``(start_s, end_s)`` rows."""
    return np.array([(time_s[a.stop - 1], time_s[b.start]) for a, b in zip(segments[:-1], segments[1:])]).reshape(-1, 2)


def analyze(
    recording: Recording, *, method: str = "amplitude", hypopnea_rule: str | None = None, **params: float
) -> Analysis:
    """Analyse a recording: breaths, breath rate, apneas, hypopneas by a named rule, AHI, volumes.

    Parameters
    ----------
    recording : Recording
        From :func:`cpap_lib.io.lab_text.read_lab_file`, :mod:`cpap_lib.io.resmed` or
        :func:`cpap_lib.io.read_recording`.
    method : {"amplitude", "gap"}
        ``"amplitude"``: AASM amplitude rule; ``"gap"``: the old system's rule
        (any gap > ``max_gap_s`` between breath peaks is an apnea).
    hypopnea_rule : str, optional
        One of :data:`HYPOPNEA_RULES` (definitions in :mod:`cpap_lib.analysis.events`):
        ``"flow_50pct"`` (flow only, device-comparable), ``"aasm_3pct"`` or
        ``"cms_4pct"`` (need the recording's ``signals["spo2"]``), or the
        exploratory ``"candidates_30pct"`` (no AHI). Default: ``"aasm_3pct"``
        where the recording carries SpO2, else ``"flow_50pct"``.
    **params
        Any of :data:`DEFAULT_PARAMS`, each within :data:`PARAM_RANGES`:
        ``cutoff_hz`` (low-pass, Hz), ``threshold`` (breath threshold, fraction
        of the excursion), ``apnea_drop`` / ``hypopnea_drop`` (fractional
        amplitude drops), ``min_event_s`` (shortest event, s), ``baseline_s``
        (pre-event baseline window, s), ``max_gap_s`` (gap rule only).

    Returns
    -------
    Analysis

    Raises
    ------
    ParameterError
        Unknown method, rule or parameter, a value out of its range, or an
        oximetry rule for a recording without SpO2.
    RecordingError
        The recording holds no breath at all.
    """
    import pandas as pd

    from . import breaths as _b
    from . import events as _e

    p = _check_params(method, params, hypopnea_rule)
    spo2 = recording.signals.get("spo2")
    rule = _e.check_hypopnea_rule(hypopnea_rule or _e.default_hypopnea_rule(spo2), spo2)
    fs = recording.fs_hz
    t, flow = recording.time_s, recording.flow_lps
    # breaths and events are slow: analyse at most ~25 Hz (block means are the anti-alias filter)
    step = max(int(fs // _ANALYSIS_HZ), 1)
    fs_a = fs / step
    if p["cutoff_hz"] >= fs_a / 2:
        raise ParameterError("cutoff_hz", f"must be below half the analysis rate ({fs_a / 2:g} Hz)")
    clean_t, clean_x, tables, event_tables, cycles = [], [], [], [], []
    segments = _segments(t)
    for seg in segments:
        ts, f = (_block_mean(a[seg], step) for a in (t, flow))
        x = _b.flow_clean(f, fs_a, cutoff_hz=p["cutoff_hz"]) if f.size > 30 else f
        clean_t.append(ts)
        clean_x.append(x)
        found = _b.breaths_find(x, fs_a, threshold=p["threshold"])
        table = _b.breaths_table(found, x, ts, fs_a)
        tables.append(table)
        cycles.append(ts[_b.minor_cycles(x, fs_a, found["onset"])])
        event_tables.append(_EVENT_METHODS[method](x, ts, fs_a, table, p, rule, spo2))
    breaths = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    events = pd.concat(event_tables, ignore_index=True) if len(event_tables) > 1 else event_tables[0]
    events = events.sort_values("start_s", kind="stable").reset_index(drop=True)
    if breaths.empty:
        raise RecordingError("no breaths found: the flow shows no breathing", file=recording.source)

    is_apnea = (events["kind"] == "apnea").to_numpy()
    apnea_spans = events.loc[is_apnea, ["start_s", "end_s"]].to_numpy()
    if is_apnea.any():
        from .airway import apnea_types

        events.loc[is_apnea, "apnea_type"] = apnea_types(t, flow, recording.pressure_cmh2o, apnea_spans)
    # the rate counts every respiratory cycle: the breaths and the small cycles between them
    onsets = np.sort(np.concatenate([breaths["start_s"].to_numpy(), *cycles]))
    rate = _b.breath_rate(onsets, exclude=np.vstack([apnea_spans, _gaps_as_spans(t, segments)]))
    net = float(flow.sum() / fs)
    return Analysis(
        recording=recording,
        method=method,
        params=p,
        hypopnea_rule=rule,
        breaths=breaths,
        events=events,
        clean_time_s=np.concatenate(clean_t),
        clean_flow_lps=np.concatenate(clean_x),
        breath_rate_bpm=rate,
        net_volume_l=net,
        cycle_onsets_s=onsets,
    )


def analyze_file(
    path: str | os.PathLike, *, method: str = "amplitude", hypopnea_rule: str | None = None, **params: float
) -> Analysis:
    """Read a recording (lab text file or ResMed EDF) and analyse it.

    See :func:`analyze` for the parameters; reading goes through
    :func:`cpap_lib.io.read_recording` where present.
    """
    from ..io import read_recording

    _check_params(method, params, hypopnea_rule)  # a bad parameter is reported before any reading
    return analyze(read_recording(path), method=method, hypopnea_rule=hypopnea_rule, **params)
