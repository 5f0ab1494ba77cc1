"""Simulated lab recordings with known ground truth.

:func:`simulate_recording` builds breathing flow (rate and amplitude
variability, apneas, hypopneas, short pauses, leak), turns it into the six ADC
columns of the lab's venturi format (the exact inverse of
:func:`cpap_lib.analysis.flow.lab_flow_lps`, with sensor noise and integer ADC
quantization), optionally inserts malformed rows, and records the truth
alongside in a :class:`Truth`. Everything is drawn from
``numpy.random.default_rng(seed)``: the same arguments give the same bytes.

Breath model (one cycle of period ``T``, drawn around ``60 / rate_bpm``):
inspiration is a positive half-sine of about ``0.40 T`` whose integral is the
breath's tidal volume, expiration a negative skewed lobe (fast rise, slow
decay) of about ``0.45 T`` with the same volume, then an end-expiratory pause
of zero flow. A breath's onset is the start of its inspiration, its end is
``onset + T``.

Truth times (breath onsets, event intervals) are in the recording's own time
base, the file's ``Time [s]`` column (which starts at ``start_s``).

Examples
--------
>>> from cpap_lib.sim import simulate_recording
>>> sim = simulate_recording(seed=1, minutes=1)
>>> sim.table.shape
(6000, 7)
>>> round(sim.truth.breath_rate_bpm)
15
>>> rec = sim.recording()
>>> rec.samples, rec.fs_hz, rec.skipped_rows
(6000, 100.0, 0)
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..analysis.flow import ADC_FLOOR, PA_PER_CMH2O, adc_to_pa, venturi_flow_lps
from ..errors import ParameterError
from ..io.lab_text import read_lab_file
from ..recording import Recording

__all__ = [
    "LAB_HEADER",
    "MALFORMED_KINDS",
    "SimParams",
    "SimulatedRecording",
    "Truth",
    "minimum_minutes",
    "range_text",
    "simulate_recording",
    "truth_path_for",
    "write_lab_file",
]

LAB_HEADER = (
    "Time [s],Pressure V1-P2 [ADC],Pressure V1-P1-Ins [ADC],Pressure V1-P1-Exp [ADC],"
    "Pressure V2-P2 [ADC],Pressure V2-P1-Ins [ADC],Pressure V2-P1-Exp [ADC]"
)
"""The header line :func:`write_lab_file` writes."""

MALFORMED_KINDS = ("empty_field", "nan", "text", "too_few_fields", "too_many_fields", "fraction")
"""Kinds of malformed rows, in the order ``malformed_rows=k`` cycles through them."""

# Event shapes (seconds) and spacing; see the module docstring of the analysis contract.
APNEA_S = (12.0, 40.0)
HYPOPNEA_S = (15.0, 40.0)
PAUSE_S = (3.0, 7.0)
APNEA_SCALE_MAX = 0.05
HYPOPNEA_SCALE = (0.30, 0.40)
"""Hypopnea breaths at 30-40 % of normal volume: a 60-70 % drop, a hypopnea by every named rule
(devices' 50 %, the AASM's 30 %) even with 10 % breath-to-breath variability, and never an apnea."""
PERIODIC_SCALE = (0.6, 1.4)
"""Periodic breathing: breaths between events wax from 60 % to 140 % of normal and wane back."""
SPO2_BASELINE_PCT = 96.0
SPO2_NOISE_PCT = 0.15
"""Sd of the oximeter's noise, percentage points (after its own averaging)."""
SPO2_LAG_S = (12.0, 22.0)
"""Circulation delay from the lungs to the finger probe: desaturations follow events by 12-22 s."""
SPO2_NADIR_S = 6.0
"""SpO2 stays at its nadir this long (a rounded bottom, longer than the oximeter's averaging)."""
SPO2_RECOVERY_S = 10.0
"""Time SpO2 takes to climb back to baseline after the nadir."""
APNEA_DESATURATION_PCT = (4.0, 8.0)
HYPOPNEA_DESATURATION_PCT = ((0.5, 1.5), (3.3, 3.6), (5.0, 7.0))
"""A hypopnea's desaturation is drawn from one of three bands (equally likely): below both oximetry
rules, >= 3 % but < 4 % (aasm_3pct only), >= 4 % (both); each band keeps clear of the 3 % and 4 %
thresholds by more than the noise the analysis sees."""
EVENT_GAP_S = 45.0
"""Least breathing time between two events (end of one to start of the next)."""
EDGE_S = 60.0
"""No event starts in the first, or ends in the last, this many seconds."""
PERIOD_CLIP = 0.35
"""Breath periods stay within +-35 % of ``60 / rate_bpm``."""
V2_BIAS_FLOW_LPS = 0.3
"""Bias flow through the CPAP-side venturi (V2) on top of the patient's flow."""

_INSPIRATION_FRACTION = 0.40
_EXPIRATION_FRACTION = 0.45
_PHASE_JITTER = 0.05  # relative sd of the two fractions, clipped at 3 sd
_EXP_SHAPE = (1.0, 2.5)  # expiratory lobe u**a * (1 - u)**b: fast rise, slow decay
_K_VENTURI = float(venturi_flow_lps(1.0))  # L/s per sqrt(Pa)
_PA_PER_COUNT = float(adc_to_pa(ADC_FLOOR + 1.0))
_ADC_MAX = 65535


# --------------------------------------------------------------------------- truth


@dataclass(eq=False)
class Truth:
    """What a simulated recording really contains.

    All times are in the recording's own time base (the ``Time [s]`` column).

    Attributes
    ----------
    seed : int
        The seed it was drawn with.
    params : dict
        Every argument of :func:`simulate_recording`.
    breath_onsets_s : ndarray
        Onsets (start of inspiration) of the counted breaths: every breath with
        amplitude >= 35 % of normal (normal and hypopnea breaths, not the
        suppressed flow of apneas) whose whole cycle lies inside the recording.
    breath_periods_s : ndarray
        Cycle length of each counted breath (inserted pauses and apneas excluded).
    apneas, hypopneas, pauses : list of (start_s, end_s)
        Apnea: the end of the last breath's expiration before it to the onset of
        the next breath (the flat flow a scorer measures). Hypopnea: onset of
        its first reduced breath to the end of its last. Pause: the same flat
        flow as an apnea, shorter than 10 s (3-7 s by default): not an event.
    malformed_lines : list of int
        1-based physical line numbers of the inserted malformed rows (header = line 1).
    skipped_rows : int
        How many rows a reader must skip (``len(malformed_lines)``).
    duration_s : float
        Valid rows divided by the sampling rate.
    samples : int
        Number of valid rows.
    tidal_volume_l : float
        Median tidal volume of the normal (not hypopnea) counted breaths.
    leak_lps : float
        Constant leak flow added during breath cycles.
    breath_rate_bpm : float
        ``60 * len(breath_onsets_s) / breath_periods_s.sum()``.
    apnea_index : float
        Apneas per hour of ``duration_s``.
    ahi : float
        Apneas plus hypopneas per hour of ``duration_s``.
    net_volume_l : float
        Integral of the true flow over the recording (inspired minus expired), L.
    apnea_desaturations_pct, hypopnea_desaturations_pct : list of float
        With ``oximetry=1``: the depth of the desaturation (percentage points
        below the 96 % baseline) that follows each apnea / hypopnea; empty otherwise.

    Examples
    --------
    >>> from cpap_lib.sim import simulate_recording
    >>> truth = simulate_recording(seed=3, minutes=3, apneas=1).truth
    >>> len(truth.apneas), round(truth.apnea_index)
    (1, 20)
    >>> start, end = truth.apneas[0]
    >>> bool(12 <= end - start <= 40)
    True
    >>> Truth.from_dict(truth.to_dict()).apneas == truth.apneas
    True
    """

    seed: int
    params: dict[str, Any]
    breath_onsets_s: np.ndarray
    breath_periods_s: np.ndarray
    apneas: list[tuple[float, float]]
    hypopneas: list[tuple[float, float]]
    pauses: list[tuple[float, float]]
    malformed_lines: list[int]
    skipped_rows: int
    duration_s: float
    samples: int
    tidal_volume_l: float
    leak_lps: float
    breath_rate_bpm: float
    apnea_index: float
    ahi: float = 0.0
    net_volume_l: float = 0.0
    apnea_desaturations_pct: list[float] = field(default_factory=list)
    hypopnea_desaturations_pct: list[float] = field(default_factory=list)

    @property
    def breath_count(self) -> int:
        """Number of counted breaths."""
        return int(self.breath_onsets_s.size)

    def confirmed_hypopneas(self, min_desaturation_pct: float) -> list[tuple[float, float]]:
        """The hypopneas followed by a desaturation of at least ``min_desaturation_pct`` (needs oximetry).

        >>> truth = simulate_recording(seed=4, minutes=9, hypopneas=3, oximetry=1).truth
        >>> len(truth.confirmed_hypopneas(3.0)) <= 3
        True
        """
        return [h for h, d in zip(self.hypopneas, self.hypopnea_desaturations_pct) if d >= min_desaturation_pct]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (arrays become lists, intervals ``[start_s, end_s]``)."""
        return {
            "seed": int(self.seed),
            "params": dict(self.params),
            "breath_count": self.breath_count,
            "breath_rate_bpm": float(self.breath_rate_bpm),
            "apnea_index": float(self.apnea_index),
            "ahi": float(self.ahi),
            "duration_s": float(self.duration_s),
            "samples": int(self.samples),
            "skipped_rows": int(self.skipped_rows),
            "malformed_lines": [int(x) for x in self.malformed_lines],
            "tidal_volume_l": float(self.tidal_volume_l),
            "leak_lps": float(self.leak_lps),
            "net_volume_l": float(self.net_volume_l),
            "apnea_desaturations_pct": [float(x) for x in self.apnea_desaturations_pct],
            "hypopnea_desaturations_pct": [float(x) for x in self.hypopnea_desaturations_pct],
            "apneas": [[float(a), float(b)] for a, b in self.apneas],
            "hypopneas": [[float(a), float(b)] for a, b in self.hypopneas],
            "pauses": [[float(a), float(b)] for a, b in self.pauses],
            "breath_onsets_s": [float(x) for x in self.breath_onsets_s],
            "breath_periods_s": [float(x) for x in self.breath_periods_s],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Truth:
        """Rebuild a :class:`Truth` from :meth:`to_dict`'s output."""
        return cls(
            seed=int(data["seed"]),
            params=dict(data["params"]),
            breath_onsets_s=np.asarray(data["breath_onsets_s"], dtype=np.float64),
            breath_periods_s=np.asarray(data["breath_periods_s"], dtype=np.float64),
            apneas=[(float(a), float(b)) for a, b in data["apneas"]],
            hypopneas=[(float(a), float(b)) for a, b in data["hypopneas"]],
            pauses=[(float(a), float(b)) for a, b in data["pauses"]],
            malformed_lines=[int(x) for x in data["malformed_lines"]],
            skipped_rows=int(data["skipped_rows"]),
            duration_s=float(data["duration_s"]),
            samples=int(data["samples"]),
            tidal_volume_l=float(data["tidal_volume_l"]),
            leak_lps=float(data["leak_lps"]),
            breath_rate_bpm=float(data["breath_rate_bpm"]),
            apnea_index=float(data["apnea_index"]),
            ahi=float(data.get("ahi", 0.0)),
            net_volume_l=float(data.get("net_volume_l", 0.0)),
            apnea_desaturations_pct=[float(x) for x in data.get("apnea_desaturations_pct", [])],
            hypopnea_desaturations_pct=[float(x) for x in data.get("hypopnea_desaturations_pct", [])],
        )

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Truth:
        """Read a truth file written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- recording


@dataclass(eq=False)
class SimulatedRecording:
    """A simulated lab recording: the numeric table, the malformed rows, the truth.

    Attributes
    ----------
    table : ndarray, shape (n, 7), float64
        Time (s) and the six ADC columns (integers stored as float), valid rows only.
    malformed : list of (int, str)
        Inserted malformed rows: (1-based line number in the written file, line text).
    flow_lps : ndarray
        The true patient flow, L/s, one value per valid row.
    truth : Truth
        The ground truth.
    spo2 : Signal or None
        The SpO2 signal (``oximetry=1``), in the recording's time base; the
        lab's text format has no column for it, so only :meth:`recording` carries it.
    """

    table: np.ndarray
    malformed: list[tuple[int, str]]
    flow_lps: np.ndarray
    truth: Truth
    spo2: Any = None
    _recording: Recording | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        t = self.truth
        return (
            f"SimulatedRecording(seed={t.seed}, samples={t.samples}, breaths={t.breath_count}, "
            f"apneas={len(t.apneas)}, hypopneas={len(t.hypopneas)}, pauses={len(t.pauses)}, "
            f"malformed={t.skipped_rows})"
        )

    def recording(self) -> Recording:
        """The :class:`~cpap_lib.recording.Recording` a reader makes of the written file.

        Written to memory and read back with :func:`~cpap_lib.io.lab_text.read_lab_file`
        (cached after the first call).
        """
        if self._recording is None:
            buffer = io.BytesIO()
            write_lab_file(self, buffer)
            buffer.seek(0)
            buffer.name = f"simulated-seed-{self.truth.seed}.txt"
            rec = read_lab_file(buffer)
            if self.spo2 is not None:
                rec = dataclasses.replace(rec, signals={**rec.signals, "spo2": self.spo2})
            self._recording = rec
        return self._recording

    def write(self, path: str | os.PathLike) -> Path:
        """Write the lab file to ``path`` and its truth to ``<stem>.truth.json``; return the truth path."""
        return write_lab_file(self, path)


def truth_path_for(path: str | os.PathLike) -> Path:
    """Where the truth of a lab file is written: ``<stem>.truth.json`` next to it.

    >>> truth_path_for("sample_data/mild_apnea.txt").as_posix()
    'sample_data/mild_apnea.truth.json'
    """
    path = Path(path)
    return path.with_name(path.stem + ".truth.json")


# --------------------------------------------------------------------------- parameters


def _check_range(name: str, value: float, low: float, high: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, f"must be a number, got {value!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ParameterError(name, f"must be between {low:g} and {high:g}, got {value:g}")
    return value


def _check_count(name: str, value: int, high: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(name, f"must be a whole number, got {value!r}")
    if not 0 <= value <= high:
        raise ParameterError(name, f"must be between 0 and {high}, got {value}")
    return int(value)


def _param(
    default: Any,
    low: float,
    high: float | None,
    doc: str,
    option: str | None = None,
    metavar: str | None = None,
    *,
    whole: bool = False,
) -> Any:
    """A :class:`SimParams` field: default (``MISSING``: required), range, whole number or not, meaning, CLI option.

    The field's ``metadata`` holds ``low``, ``high`` (None: depends on other
    fields), ``whole``, ``doc``, ``option`` (of ``cpap-lab simulate``; None: not
    on the command line) and ``metavar``.
    """
    meta = {"low": low, "high": high, "whole": whole, "doc": doc, "option": option, "metavar": metavar}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


@dataclass(frozen=True)
class SimParams:
    """The arguments of :func:`simulate_recording`, each with its range and meaning: listed once, here.

    Integer fields (``seed``, the event counts, ``malformed_rows``) are whole
    numbers from 0; ``malformed_rows`` is below the number of samples. The
    attribute list below is generated from the fields; ``cpap-lab simulate``
    builds its options from them, and ``sample_data/make_samples.py`` names
    its samples with them. Constructing one checks every value
    (:class:`~cpap_lib.errors.ParameterError` naming the field).

    Examples
    --------
    >>> p = SimParams(seed=3, minutes=2, apneas=1)
    >>> p.minutes, p.rate_bpm, p.apneas
    (2.0, 15.0, 1)
    >>> SimParams(seed=3, minutes=2, rate_bpm=100)
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: rate_bpm: must be between 4 and 60, got 100
    """

    seed: int = _param(
        MISSING,
        0,
        2**63 - 1,
        "seed of numpy.random.default_rng; the result depends on nothing else",
        "--seed",
        whole=True,
    )
    minutes: float = _param(MISSING, 0.1, 1440.0, "length of the recording, minutes", "--minutes")
    rate_bpm: float = _param(15.0, 4.0, 60.0, "mean breath rate, breaths/min", "--rate", "BPM")
    rate_variability: float = _param(0.08, 0.0, 0.3, "relative sd of the breath period (periods clipped to +-35 %)")
    tidal_volume_l: float = _param(0.5, 0.05, 3.0, "mean tidal volume, L", "--tidal-volume", "L")
    amplitude_variability: float = _param(0.10, 0.0, 0.3, "relative sd of the tidal volume")
    apneas: int = _param(
        0,
        0,
        10_000,
        "apneas: flow at 0-5 % of normal (or zero) for apnea_min_s-apnea_max_s (12-40 s) each",
        "--apneas",
        "K",
        whole=True,
    )
    hypopneas: int = _param(
        0,
        0,
        10_000,
        "hypopneas: whole breaths at 30-40 % of normal volume for 15-40 s each",
        "--hypopneas",
        "K",
        whole=True,
    )
    pauses: int = _param(
        0,
        0,
        10_000,
        "short pauses: flat flow for pause_min_s-pause_max_s (3-7 s) between two breaths (not events)",
        "--pauses",
        "K",
        whole=True,
    )
    leak_lps: float = _param(0.0, 0.0, 2.0, "constant leak flow added during breath cycles, L/s", "--leak", "LPS")
    noise_counts: float = _param(
        0.7, 0.0, 20.0, "sd of the Gaussian sensor noise of each pressure port, ADC counts", "--noise", "COUNTS"
    )
    pressure_cmh2o: float = _param(8.0, 0.0, 25.0, "CPAP pressure at the throat port, cmH2O")
    fs_hz: float = _param(100.0, 10.0, 1000.0, "sampling rate, Hz", "--fs", "HZ")
    malformed_rows: int = _param(
        0,
        0,
        None,
        "extra corrupted lines inserted at random positions, cycling through the MALFORMED_KINDS",
        "--malformed",
        "K",
        whole=True,
    )
    start_s: float = _param(2.685, 0.0, 1e6, "time of the first row, s (the lab's files start a few seconds after 0)")
    apnea_min_s: float = _param(
        APNEA_S[0],
        10.0,
        120.0,
        "shortest apnea, s: flat flow from the end of the last expiration to the next onset, as a scorer measures it",
    )
    apnea_max_s: float = _param(APNEA_S[1], 10.0, 120.0, "longest apnea, s (at least apnea_min_s)")
    pause_min_s: float = _param(PAUSE_S[0], 1.0, 9.9, "shortest short pause, s (measured as apneas are)")
    pause_max_s: float = _param(PAUSE_S[1], 1.0, 9.9, "longest short pause, s (at least pause_min_s; under 10 s)")
    expiration_scale: float = _param(
        1.0,
        0.02,
        1.0,
        "share of the expiration the patient venturi sees: below 1 the "
        "patient breathes out through the mouth (mask leak) or the expiratory port "
        "floors, and the flow shows inspirations only",
        "--expiration-scale",
        "X",
    )
    periodic_breathing: int = _param(
        0,
        0,
        1,
        "1: breaths between events wax and wane (PERIODIC_SCALE), as in Cheyne-Stokes breathing around central apneas",
        whole=True,
    )
    oximetry: int = _param(
        0,
        0,
        1,
        "1: add an SpO2 signal (1 Hz, recording().signals['spo2']), each apnea and "
        "hypopnea followed by a desaturation (12-22 s circulation delay, noise; depths in the "
        "truth)",
        "--oximetry",
        "0|1",
        whole=True,
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            name = f.name
            if name == "malformed_rows":
                continue  # its bound depends on minutes and fs_hz: checked below, after them
            value = _check_field(name, getattr(self, name))
            object.__setattr__(self, name, value)
        high = self.samples - 1
        object.__setattr__(self, "malformed_rows", _check_count("malformed_rows", self.malformed_rows, high=high))
        for low, high_name in (("apnea_min_s", "apnea_max_s"), ("pause_min_s", "pause_max_s")):
            if getattr(self, high_name) < getattr(self, low):
                raise ParameterError(
                    high_name, f"must be at least {low} ({getattr(self, low):g}), got {getattr(self, high_name):g}"
                )

    @property
    def apnea_s(self) -> tuple[float, float]:
        """Range of apnea durations, s."""
        return self.apnea_min_s, self.apnea_max_s

    @property
    def pause_s(self) -> tuple[float, float]:
        """Range of short pause durations, s."""
        return self.pause_min_s, self.pause_max_s

    @property
    def samples(self) -> int:
        """Number of valid rows: ``round(minutes * 60 * fs_hz)``."""
        return round(self.minutes * 60.0 * self.fs_hz)

    def to_dict(self) -> dict[str, Any]:
        """Every field, in the order of the table (what :attr:`Truth.params` holds)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check_field(name: str, value: Any) -> Any:
    """``value`` checked against the range of :class:`SimParams` field ``name``."""
    meta = SimParams.__dataclass_fields__[name].metadata
    if meta["whole"]:
        return _check_count(name, value, high=meta["high"])
    return _check_range(name, value, meta["low"], meta["high"])


def range_text(name: str) -> str:
    """The range of :class:`SimParams` field ``name`` as text.

    >>> range_text("rate_bpm"), range_text("apneas")
    ('4 to 60', '0 to 10000')
    """
    meta = SimParams.__dataclass_fields__[name].metadata
    if meta["high"] is None:
        return "0 to one less than the samples"
    if meta["whole"]:
        return f"{meta['low']} to {meta['high']}"
    return f"{meta['low']:g} to {meta['high']:g}"


def _fields_doc() -> str:
    lines = ["", "    Attributes", "    ----------"]
    for f in fields(SimParams):
        meta = f.metadata
        kind = "int" if meta["whole"] else "float"
        default = "required" if f.default is MISSING else f"default {f.default!r}"
        doc = meta["doc"][0].upper() + meta["doc"][1:]
        lines += [f"    {f.name} : {kind}", f"        {doc}; {range_text(f.name)}, {default}."]
    return "\n".join(lines) + "\n"


SimParams.__doc__ = SimParams.__doc__.replace("\n    Examples\n", _fields_doc() + "\n    Examples\n", 1)


def _least_event_time_s(
    t_max: float,
    apneas: int,
    hypopneas: int,
    pauses: int,
    apnea_s: tuple[float, float] = APNEA_S,
    pause_s: tuple[float, float] = PAUSE_S,
) -> float:
    """Shortest recording (s) that holds these events at their minimum durations.

    Reserves the edges, the least gaps, one breath of overrun before each
    event (events start at a breath boundary) and one breath of overrun per
    hypopnea (which is whole breaths).
    """
    k = apneas + hypopneas + pauses
    if k == 0:
        return 0.0
    fixed = 2 * EDGE_S + EVENT_GAP_S * (k - 1) + k * t_max
    return fixed + apneas * apnea_s[0] + pauses * pause_s[0] + hypopneas * (HYPOPNEA_S[0] + t_max)


def minimum_minutes(*, apneas: int = 0, hypopneas: int = 0, pauses: int = 0, rate_bpm: float = 15.0) -> float:
    """The shortest ``minutes`` :func:`simulate_recording` accepts for these events.

    Events are at least 45 s apart, not in the first or last 60 s, and start
    at a breath boundary (slower breathing needs a little more room).

    Examples
    --------
    >>> minimum_minutes(apneas=15)
    16.9
    >>> minimum_minutes(apneas=15, rate_bpm=8)
    18.1
    >>> minimum_minutes()
    0.1
    """
    rate_bpm = _check_field("rate_bpm", rate_bpm)
    t_max = 60.0 / rate_bpm * (1 + PERIOD_CLIP)
    least = _least_event_time_s(
        t_max, _check_field("apneas", apneas), _check_field("hypopneas", hypopneas), _check_field("pauses", pauses)
    )
    return max(0.1, math.ceil(least / 60 * 10 - 1e-9) / 10)


def _event_budget(
    total_s: float,
    t_max: float,
    apneas: int,
    hypopneas: int,
    pauses: int,
    apnea_s: tuple[float, float] = APNEA_S,
    pause_s: tuple[float, float] = PAUSE_S,
) -> float:
    """How far event durations may stretch above their minimum (0..1) so all events fit.

    Raises ParameterError if even the shortest events do not fit.
    """
    k = apneas + hypopneas + pauses
    if k == 0:
        return 1.0
    least = _least_event_time_s(t_max, apneas, hypopneas, pauses, apnea_s, pause_s)
    if least > total_s:
        raise ParameterError(
            "minutes",
            f"{apneas} apneas, {hypopneas} hypopneas and {pauses} pauses do not fit in "
            f"{total_s / 60:g} minutes (events are >= {EVENT_GAP_S:g} s apart and not in the "
            f"first or last {EDGE_S:g} s); at least {math.ceil(least / 60 * 10 - 1e-9) / 10:g} minutes are needed",
        )
    stretch = (
        apneas * (apnea_s[1] - apnea_s[0])
        + pauses * (pause_s[1] - pause_s[0])
        + hypopneas * max(HYPOPNEA_S[1] - HYPOPNEA_S[0] - t_max, 0.0)
    )
    return 1.0 if stretch <= 0 else min(1.0, (total_s - least) / stretch)


# --------------------------------------------------------------------------- simulation


def _draw_breaths(
    rng: np.random.Generator,
    count: int,
    period_s: float,
    rate_variability: float,
    tidal_volume_l: float,
    amplitude_variability: float,
) -> dict[str, np.ndarray]:
    """Draw ``count`` independent breath cycles (period, phase fractions, volume)."""
    period = period_s * np.clip(1.0 + rate_variability * rng.standard_normal(count), 1 - PERIOD_CLIP, 1 + PERIOD_CLIP)
    jitter = np.clip(rng.standard_normal((2, count)), -3.0, 3.0) * _PHASE_JITTER
    volume = tidal_volume_l * np.clip(1.0 + amplitude_variability * rng.standard_normal(count), 0.5, 1.5)
    return {
        "period": period,
        "t_ins": period * _INSPIRATION_FRACTION * (1.0 + jitter[0]),
        "t_exp": period * _EXPIRATION_FRACTION * (1.0 + jitter[1]),
        "volume": volume,
    }


def _take(pool: dict[str, np.ndarray], start: int, stop: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    part = {key: values[start:stop] for key, values in pool.items()}
    part["volume"] = part["volume"] * scale
    part["scale"] = np.full(stop - start, scale)
    return part


def _build_timeline(rng, *, total_s, t_max, kinds, pool, hypopnea_parts, durations):
    """Lay breaths and events end to end; return (breath cycles with onsets, event intervals).

    Event ``j`` starts at the end of the first breath that ends at or after its
    planned start (an apnea or pause at the end of that breath's expiration);
    planned starts keep the edges and gaps even after that overrun.
    """
    lengths = np.array(
        [hypopnea_parts[j]["period"].sum() if kind == "hypopnea" else durations[j] for j, kind in enumerate(kinds)]
    )
    k = len(kinds)
    slack = total_s - (2 * EDGE_S + EVENT_GAP_S * max(k - 1, 0) + k * t_max + lengths.sum())
    shares = rng.dirichlet(np.ones(k + 1)) * max(slack, 0.0) if k else np.zeros(1)

    first_onset = -rng.uniform(0.0, 1.0) * pool["period"][0]  # the recording starts mid-breath
    cum_end = first_onset + np.cumsum(pool["period"])  # end of pool breath i if laid with no events
    parts, onsets, intervals = [], [], []
    t, used, shift = first_onset, 0, 0.0  # shift: time the events have inserted so far

    def lay(part: dict[str, np.ndarray]) -> None:
        nonlocal t
        parts.append(part)
        onsets.append(t + np.cumsum(part["period"]) - part["period"])
        t += float(part["period"].sum())

    def normal_until(when: float) -> None:
        """Lay pool breaths until one ends at or after ``when``."""
        nonlocal used
        stop = max(int(np.searchsorted(cum_end + shift, when, side="left")) + 1, used)
        if stop > pool["period"].size:
            raise AssertionError("breath pool too small")  # pragma: no cover - sized generously
        lay(_take(pool, used, stop))
        used = stop

    planned = EDGE_S + shares[0]
    for j, kind in enumerate(kinds):
        normal_until(planned)
        before = start = t
        if kind == "hypopnea":
            lay(hypopnea_parts[j])
        else:
            # an apnea or pause is the flat flow from the end of the last expiration to the next onset:
            # it includes that breath's own end-expiratory pause
            last = parts[-1]
            start = t - float(last["period"][-1] - last["t_ins"][-1] - last["t_exp"][-1])
            t = max(start + float(durations[j]), t)
        shift += t - before
        intervals.append((kind, start, t))
        planned += t_max + lengths[j] + EVENT_GAP_S + shares[j + 1]
    normal_until(total_s)
    cycles = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    cycles["onset"] = np.concatenate(onsets)
    return cycles, intervals


def _flow_from_cycles(
    tau: np.ndarray, cycles: dict[str, np.ndarray], leak_lps: float, expiration_scale: float = 1.0
) -> np.ndarray:
    """Sample the breath cycles at times ``tau`` (vectorized, one searchsorted)."""
    from scipy.special import beta

    a, b = _EXP_SHAPE
    idx = np.searchsorted(cycles["onset"], tau, side="right") - 1
    phase = tau - cycles["onset"][idx]
    t_ins = cycles["t_ins"][idx]
    t_exp = cycles["t_exp"][idx]
    volume = cycles["volume"][idx]
    inspiring = phase < t_ins
    u = np.clip((phase - t_ins) / t_exp, 0.0, 1.0)
    expiring = ~inspiring & (phase < t_ins + t_exp)
    flow = np.where(inspiring, volume * np.pi / (2 * t_ins) * np.sin(np.pi * np.clip(phase / t_ins, 0, 1)), 0.0)
    flow -= expiration_scale * np.where(expiring, volume / (t_exp * beta(a + 1, b + 1)) * u**a * (1 - u) ** b, 0.0)
    if leak_lps:
        flow += np.where(phase < cycles["period"][idx], leak_lps, 0.0)
    return flow


def _wax_and_wane(cycles: dict[str, np.ndarray], intervals, total_s: float) -> None:
    """Scale the normal breaths between events by a crescendo-decrescendo envelope (in place)."""
    bounds = np.array([(a, b) for _, a, b in intervals]).reshape(-1, 2)
    ends = np.concatenate(([0.0], bounds[:, 1]))  # end of the previous event (or the start)
    starts = np.concatenate((bounds[:, 0], [total_s]))  # start of the next event (or the end)
    onset = cycles["onset"]
    gap = np.clip(np.searchsorted(bounds[:, 0], onset, side="right"), 0, starts.size - 1)
    u = np.clip((onset - ends[gap]) / np.maximum(starts[gap] - ends[gap], 1e-9), 0.0, 1.0)
    envelope = PERIODIC_SCALE[0] + (PERIODIC_SCALE[1] - PERIODIC_SCALE[0]) * np.sin(np.pi * u)
    normal = cycles["scale"] == 1.0
    cycles["volume"] = np.where(normal, cycles["volume"] * envelope, cycles["volume"])


def _spo2_signal(seed: int, intervals, total_s: float, start_s: float):
    """SpO2 at 1 Hz with a desaturation after every apnea and hypopnea; (Signal, depths per interval)."""
    from ..recording import Signal

    rng = np.random.default_rng((seed, 0x5902))  # its own stream: the flow is the same with or without
    t = np.arange(0.0, total_s, 1.0)
    drop = np.zeros(t.size)
    depths: list[float | None] = []
    for kind, a, b in intervals:
        if kind == "pause":
            depths.append(None)
            continue
        band = APNEA_DESATURATION_PCT if kind == "apnea" else HYPOPNEA_DESATURATION_PCT[int(rng.integers(0, 3))]
        depth = float(rng.uniform(*band))
        lag = float(rng.uniform(*SPO2_LAG_S))
        fall = np.clip((t - (a + lag)) / max(b - a, 1e-9), 0.0, 1.0)
        rise = np.clip((t - (b + lag + SPO2_NADIR_S)) / SPO2_RECOVERY_S, 0.0, 1.0)
        drop = np.maximum(drop, depth * (fall - rise))
        depths.append(depth)
    values = SPO2_BASELINE_PCT - drop + SPO2_NOISE_PCT * rng.standard_normal(t.size)
    return Signal("spo2", "%", start_s + t, np.round(values, 1)), depths


def _adc_columns(rng: np.random.Generator, flow_lps: np.ndarray, pressure_cmh2o: float, noise_counts: float):
    """Throat, inspiratory and expiratory ADC counts for one venturi (integers, as float64)."""
    n = flow_lps.size
    dp_counts = (flow_lps / _K_VENTURI) ** 2 / _PA_PER_COUNT
    p2 = ADC_FLOOR + pressure_cmh2o * PA_PER_CMH2O / _PA_PER_COUNT + noise_counts * rng.standard_normal(n)
    upstream = np.round(p2 + dp_counts + noise_counts * rng.standard_normal(n))
    inhaling = flow_lps >= 0
    ins = np.where(inhaling, upstream, ADC_FLOOR)
    exp_ = np.where(inhaling, ADC_FLOOR, upstream)
    return [np.clip(np.round(c), 0, _ADC_MAX) for c in (p2, ins, exp_)]


def _malformed_text(kind: str, time_text: str, values: np.ndarray) -> str:
    fields = [time_text] + [str(int(v)) for v in values]
    if kind == "empty_field":
        fields[2] = ""
    elif kind == "nan":
        fields[3] = "NaN"
    elif kind == "text":
        fields[1] = "abc"
    elif kind == "too_few_fields":
        fields = fields[:-1]
    elif kind == "too_many_fields":
        fields.append(str(ADC_FLOOR))
    elif kind == "fraction":
        fields[1] = f"{int(values[0])}.5"
    return ",".join(fields)


def simulate_recording(**params: Any) -> SimulatedRecording:
    """Simulate a lab venturi recording with known ground truth.

    Parameters
    ----------
    **params
        The fields of :class:`SimParams` by name (``seed`` and ``minutes``
        required; the others have defaults): the table of the simulator's
        parameters with their ranges and meaning.

    Returns
    -------
    SimulatedRecording
        The table, the malformed rows, the true flow and the :class:`Truth`.

    Raises
    ------
    ParameterError
        An argument out of range, or more events than fit in ``minutes``
        (events are at least 45 s apart and not in the first or last 60 s).

    Examples
    --------
    >>> sim = simulate_recording(seed=7, minutes=5, apneas=1, hypopneas=1, pauses=1, malformed_rows=2)
    >>> t = sim.truth
    >>> len(t.apneas), len(t.hypopneas), len(t.pauses), t.skipped_rows
    (1, 1, 1, 2)
    >>> rec = sim.recording()
    >>> rec.skipped_rows, list(rec.skipped_lines) == t.malformed_lines
    (2, True)
    >>> simulate_recording(seed=1, minutes=2, apneas=3)
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: minutes: 3 apneas, 0 hypopneas and 0 pauses do not fit in 2 minutes (events are >= 45 s apart and not in the first or last 60 s); at least 4.4 minutes are needed
    """
    p = SimParams(**params)
    n = p.samples

    total_s = n / p.fs_hz
    period_s = 60.0 / p.rate_bpm
    t_max = period_s * (1 + PERIOD_CLIP)
    t_min = period_s * (1 - PERIOD_CLIP)
    stretch = _event_budget(total_s, t_max, p.apneas, p.hypopneas, p.pauses, p.apnea_s, p.pause_s)
    rng = np.random.default_rng(p.seed)

    # events: order, durations, scales
    kinds = [str(k) for k in rng.permutation(["apnea"] * p.apneas + ["hypopnea"] * p.hypopneas + ["pause"] * p.pauses)]
    k = len(kinds)
    u = rng.uniform(0.0, 1.0, size=k)
    scale_draw = rng.uniform(0.0, 1.0, size=k)
    durations = np.zeros(k)
    scales = np.ones(k)
    hyp_span = max(HYPOPNEA_S[1] - HYPOPNEA_S[0] - t_max, 0.0)
    hypopnea_parts: dict[int, dict[str, np.ndarray]] = {}
    hyp_pool_size = math.ceil(HYPOPNEA_S[1] / t_min) + 2
    for j, kind in enumerate(kinds):
        if kind == "apnea":
            durations[j] = p.apnea_min_s + u[j] * stretch * (p.apnea_max_s - p.apnea_min_s)
            # a third of apneas have no flow at all, the others 1-5 % of normal
            scales[j] = 0.0 if scale_draw[j] < 1 / 3 else 0.01 + (APNEA_SCALE_MAX - 0.01) * (1.5 * scale_draw[j] - 0.5)
        elif kind == "pause":
            durations[j] = p.pause_min_s + u[j] * stretch * (p.pause_max_s - p.pause_min_s)
            scales[j] = 0.0
        else:
            target = HYPOPNEA_S[0] + u[j] * stretch * hyp_span
            scales[j] = HYPOPNEA_SCALE[0] + scale_draw[j] * (HYPOPNEA_SCALE[1] - HYPOPNEA_SCALE[0])
            breaths = _draw_breaths(
                rng, hyp_pool_size, period_s, p.rate_variability, p.tidal_volume_l, p.amplitude_variability
            )
            count = int(np.searchsorted(np.cumsum(breaths["period"]), target, side="left")) + 1
            if breaths["period"][:count].sum() > HYPOPNEA_S[1]:
                count -= 1  # never longer than 40 s; what is left is >= 40 s - one breath >= 15 s
            hypopnea_parts[j] = _take(breaths, 0, count, scale=scales[j])

    pool_size = math.ceil(total_s / t_min) + 4
    pool = _draw_breaths(rng, pool_size, period_s, p.rate_variability, p.tidal_volume_l, p.amplitude_variability)
    cycles, intervals = _build_timeline(
        rng,
        total_s=total_s,
        t_max=t_max,
        kinds=kinds,
        pool=pool,
        hypopnea_parts=hypopnea_parts,
        durations=durations,
    )

    # true flow, sampled
    tau = np.arange(n) / p.fs_hz
    if p.periodic_breathing:
        _wax_and_wane(cycles, intervals, total_s)
    flow = _flow_from_cycles(tau, cycles, p.leak_lps, p.expiration_scale)
    peak_normal = p.tidal_volume_l * np.pi / (2 * _INSPIRATION_FRACTION * period_s)
    for j, (kind, start, end) in enumerate(intervals):
        if kind == "apnea" and scales[j] > 0:  # a whole number of faint efforts: no net volume
            lo, hi = np.searchsorted(tau, [start, end])
            cycles_in = max(1, round((end - start) / period_s))
            flow[lo:hi] = scales[j] * peak_normal * np.sin(2 * np.pi * cycles_in * (tau[lo:hi] - start) / (end - start))

    # ADC columns for both venturis
    v1 = _adc_columns(rng, flow, p.pressure_cmh2o, p.noise_counts)
    v2 = _adc_columns(rng, flow + V2_BIAS_FLOW_LPS, p.pressure_cmh2o, p.noise_counts)
    table = np.empty((n, 7), dtype=np.float64)
    table[:, 0] = p.start_s + tau
    for i, column in enumerate(v1 + v2, start=1):
        table[:, i] = column

    # malformed rows: inserted before good row `row` (0-based), never before the first
    positions = np.sort(rng.integers(1, n, size=p.malformed_rows))
    malformed: list[tuple[int, str]] = []
    for j, row in enumerate(positions):
        line = 2 + int(row) + j
        time_text = f"{p.start_s + (row - 0.5) / p.fs_hz:.4f}"
        malformed.append((line, _malformed_text(MALFORMED_KINDS[j % len(MALFORMED_KINDS)], time_text, table[row, 1:])))

    # truth
    counted = (
        (cycles["scale"] >= HYPOPNEA_SCALE[0])
        & (cycles["onset"] >= 0)
        & (cycles["onset"] + cycles["period"] <= total_s + 1e-9)
    )
    onsets = cycles["onset"][counted]
    periods = cycles["period"][counted]
    normal = counted & (cycles["scale"] == 1.0)
    duration_s = n / p.fs_hz

    def _events(kind: str) -> list[tuple[float, float]]:
        return [(p.start_s + a, p.start_s + b) for kd, a, b in intervals if kd == kind]

    truth = Truth(
        seed=p.seed,
        params=p.to_dict(),
        breath_onsets_s=p.start_s + onsets,
        breath_periods_s=periods,
        apneas=_events("apnea"),
        hypopneas=_events("hypopnea"),
        pauses=_events("pause"),
        malformed_lines=[line for line, _ in malformed],
        skipped_rows=p.malformed_rows,
        duration_s=duration_s,
        samples=n,
        tidal_volume_l=float(np.median(cycles["volume"][normal])) if normal.any() else float("nan"),
        leak_lps=p.leak_lps,
        breath_rate_bpm=float(60.0 * onsets.size / periods.sum()) if onsets.size else 0.0,
        apnea_index=p.apneas * 3600.0 / duration_s,
        ahi=(p.apneas + p.hypopneas) * 3600.0 / duration_s,
        # rounded to 1e-9 L: the last bits of a float sum depend on the CPU's SIMD width, and the
        # committed truth files must be what make_samples writes on every machine
        net_volume_l=round(float(flow.sum() / p.fs_hz), 9),
    )
    spo2 = None
    if p.oximetry:
        spo2, depths = _spo2_signal(p.seed, intervals, total_s, p.start_s)
        truth.apnea_desaturations_pct = [d for (kd, _, _), d in zip(intervals, depths) if kd == "apnea"]
        truth.hypopnea_desaturations_pct = [d for (kd, _, _), d in zip(intervals, depths) if kd == "hypopnea"]
    return SimulatedRecording(table=table, malformed=malformed, flow_lps=flow, truth=truth, spo2=spo2)


# --------------------------------------------------------------------------- writing


def _time_decimals(fs_hz: float) -> int:
    step_ms = 1000.0 / fs_hz
    return 3 if abs(step_ms - round(step_ms)) < 1e-9 else 6


def _arrow_chunk(table: np.ndarray, decimals: int):
    """An Arrow table of one slice: time as text with fixed decimals, ADC as int64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    scale = 10**decimals
    ticks = np.round(table[:, 0] * scale).astype(np.int64)
    whole = pc.cast(pa.array(ticks // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(ticks % scale), pa.string()), decimals, "0")
    time_text = pc.binary_join_element_wise(whole, frac, ".")
    columns = [time_text] + [pa.array(table[:, i].astype(np.int64)) for i in range(1, 7)]
    return pa.table(columns, names=[f"c{i}" for i in range(7)])


def _write_body(sim: SimulatedRecording, out: IO[bytes]) -> None:
    from pyarrow import csv

    options = csv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)
    decimals = _time_decimals(sim.truth.params["fs_hz"])
    out.write((LAB_HEADER + "\n").encode())
    start = 0
    for j, (line, text) in enumerate(sim.malformed):
        row = line - 2 - j  # the good row it precedes
        _write_rows(sim.table, start, row, decimals, out, options)
        out.write((text + "\n").encode())
        start = row
    _write_rows(sim.table, start, sim.table.shape[0], decimals, out, options)


def _write_rows(table: np.ndarray, start: int, stop: int, decimals: int, out: IO[bytes], options) -> None:
    """Write good rows ``start:stop``, a million at a time to bound memory."""
    from pyarrow import csv

    for lo in range(start, stop, 1 << 20):
        csv.write_csv(_arrow_chunk(table[lo : min(lo + (1 << 20), stop)], decimals), out, options)


def write_lab_file(sim: SimulatedRecording, path_or_stream: str | os.PathLike | IO) -> Path | None:
    """Write a simulated recording in the lab's text format.

    Parameters
    ----------
    sim : SimulatedRecording
        What :func:`simulate_recording` returned.
    path_or_stream : path or file-like
        A file path (the truth then goes to ``<stem>.truth.json`` next to it),
        or an open binary or text stream (the truth is not written).

    Returns
    -------
    Path or None
        The truth file's path when writing to a path.

    Examples
    --------
    >>> import io
    >>> sim = simulate_recording(seed=2, minutes=1, malformed_rows=1)
    >>> out = io.StringIO()
    >>> write_lab_file(sim, out)
    >>> lines = out.getvalue().splitlines()
    >>> lines[0] == LAB_HEADER, len(lines), lines[1].split(",")[0]
    (True, 6002, '2.685')
    """
    if isinstance(path_or_stream, (str, os.PathLike)):
        path = Path(path_or_stream)
        with open(path, "wb") as out:
            _write_body(sim, out)
        truth_path = truth_path_for(path)
        sim.truth.to_json(truth_path)
        return truth_path
    if isinstance(path_or_stream, io.TextIOBase):
        buffer = io.BytesIO()
        _write_body(sim, buffer)
        path_or_stream.write(buffer.getvalue().decode("ascii"))
    else:
        _write_body(sim, path_or_stream)
    return None
