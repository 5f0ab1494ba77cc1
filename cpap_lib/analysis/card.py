"""A whole ResMed card analysed night by night: one row per night.

:func:`analyze_card` reads the card's nights one at a time (only one night's
flow is in memory at once) and keeps a :class:`NightRow` for each: what
``cpap-lab analyze CARD`` prints.  Per night:

hours
    Hours of flow (the sessions read; skipped ones not counted).
breath_rate_bpm, ahi, apnea_count, hypopnea_count
    Our analysis of the night (:func:`cpap_lib.analysis.analyze`).  ``ahi``
    counts the events of the rule named in ``ahi_rule`` per hour of flow, as
    :meth:`~cpap_lib.analysis.Analysis.to_dict` defines them.
leak_median_lpm, leak_95_lpm
    Median and 95th percentile of the device's leak channel (PLD, L/min)
    over the night.
pressure_median_cmh2o, pressure_95_cmh2o
    The same of the device's mask pressure (PLD ``MaskPress``; STR.edf's
    pressure statistics are of the mask pressure too).
device_ahi
    The device's own AHI for the day from STR.edf, where the card has one.
start_clock, end_clock
    When the night's flow began and ended: ISO 8601 in the lab's zone
    (``CPAP_LAB_TZ``) with its offset, the device's clock read as lab time
    (:func:`cpap_lib.clock.recording_start`); the table prints them ``22:18-07:20``.
notes
    Sessions and files skipped, and why.

Examples
--------
>>> row = NightRow(night="2024-10-17", hours=8.9, sessions=4, notes=["session 04:24:41 holds no data; skipped"])
>>> row.to_dict()["notes"]
['session 04:24:41 holds no data; skipped']
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..clock import clock_iso, zone_name
from ..errors import CpapError, DeviceDataError
from ..io.resmed import DeviceCard, DeviceNight, read_card
from ..jsonable import jsonable

__all__ = ["NightRow", "analyze_card", "iter_card", "night_row", "format_rows", "DEFAULT_AHI_RULE"]

DEFAULT_AHI_RULE = "apneas + hypopnea candidates per hour of flow"
"""What ``ahi`` counts when the analysis does not name its rule."""


@dataclass
class NightRow:
    """One night of a card: our analysis beside the device's figures (see the module docstring)."""

    night: str
    hours: float = float("nan")
    sessions: int = 0
    breath_rate_bpm: float = float("nan")
    ahi: float = float("nan")
    ahi_rule: str = DEFAULT_AHI_RULE
    severity: str | None = None
    apnea_count: int | None = None
    hypopnea_count: int | None = None
    leak_median_lpm: float = float("nan")
    leak_95_lpm: float = float("nan")
    pressure_median_cmh2o: float = float("nan")
    pressure_95_cmh2o: float = float("nan")
    device_ahi: float = float("nan")
    start_clock: str | None = None
    end_clock: str | None = None
    folder: str = ""
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN -> None)."""
        return jsonable(asdict(self))


def _percentiles(signal, qs=(50, 95)) -> tuple[float, float]:
    if signal is None:
        return float("nan"), float("nan")
    v = signal.values[np.isfinite(signal.values)]
    if not v.size:
        return float("nan"), float("nan")
    a, b = np.percentile(v, qs)
    return float(a), float(b)


def night_row(night: DeviceNight, analysis) -> NightRow:
    """The row of one night from its device data and our :class:`~cpap_lib.analysis.Analysis`."""
    d = analysis.to_dict()
    signals = night.recording.signals
    leak = _percentiles(signals.get("leak"))
    pressure = _percentiles(signals.get("mask_pressure"))
    summary = night.summary or {}
    device_ahi = summary.get("ahi")
    rec = night.recording
    span = [0.0, float(rec.time_s[-1] + 1.0 / rec.fs_hz)] if rec.samples else [0.0, 0.0]
    start_clock, end_clock = clock_iso(span, rec.start_time) or [None, None]
    return NightRow(
        night=night.day.isoformat(),
        hours=night.recording.duration_s / 3600.0,
        sessions=len(night.sessions),
        breath_rate_bpm=analysis.breath_rate_bpm,
        ahi=d.get("ahi") if d.get("ahi") is not None else float("nan"),
        ahi_rule=d.get("ahi_rule") or DEFAULT_AHI_RULE,
        severity=d.get("severity"),
        apnea_count=d.get("apnea_count"),
        hypopnea_count=d.get("hypopnea_count"),
        leak_median_lpm=leak[0],
        leak_95_lpm=leak[1],
        pressure_median_cmh2o=pressure[0],
        pressure_95_cmh2o=pressure[1],
        device_ahi=float(device_ahi) if device_ahi is not None else float("nan"),
        start_clock=start_clock,
        end_clock=end_clock,
        folder=night.folder.name,
        notes=list(night.notes),
    )


def iter_card(
    card: DeviceCard | str | os.PathLike, *, method: str = "amplitude", **params: Any
) -> Iterator[tuple[NightRow, DeviceNight | None, Any]]:
    """Each night of the card in order: ``(row, night, analysis)``, read and analysed one at a time.

    A night that cannot be read or analysed gives a row with ``error`` set
    (and ``None`` for the night / analysis); it never stops the card.
    """
    from . import _check_params, analyze

    _check_params(method, {k: v for k, v in params.items() if k != "hypopnea_rule"}, params.get("hypopnea_rule"))
    card = card if isinstance(card, DeviceCard) else read_card(Path(card))
    for index, night in card.read_nights():
        if isinstance(night, DeviceDataError):
            yield NightRow(night=index.day.isoformat(), folder=index.name, error=night.reason), None, None
            continue
        try:
            analysis = analyze(night.recording, method=method, **params)
        except CpapError as exc:
            row = NightRow(
                night=index.day.isoformat(),
                folder=index.name,
                sessions=len(night.sessions),
                hours=night.recording.duration_s / 3600.0,
                notes=list(night.notes),
                error=str(exc),
            )
            yield row, night, None
            continue
        yield night_row(night, analysis), night, analysis


def analyze_card(card: DeviceCard | str | os.PathLike, *, method: str = "amplitude", **params: Any) -> list[NightRow]:
    """One :class:`NightRow` per night of the card, oldest first (nights read lazily, one at a time)."""
    return [row for row, _, _ in iter_card(card, method=method, **params)]


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def format_rows(rows: list[NightRow]) -> str:
    """The table ``cpap-lab analyze CARD`` prints: one line per night, then the AHI rule and the notes.

    The last column is the night's flow from first to last sample in clock
    time, in the lab's zone (``22:18-07:20``; the zone is named under it).
    """
    head = (
        f"{'night':<10}  {'hours':>5}  {'sess':>4}  {'rate':>5}  {'AHI':>5}  {'device':>6}  {'apneas':>6}  "
        f"{'hypop':>5}  {'leak L/min':>11}  {'pressure':>11}   flow"
    )
    sub = (
        f"{'':<10}  {'':>5}  {'':>4}  {'/min':>5}  {'/h':>5}  {'AHI':>6}  {'':>6}  {'':>5}  "
        f"{'med / 95th':>11}  {'med / 95th':>11}   {zone_name()}"
    )
    lines = [head, sub]
    for r in rows:
        if r.error and r.apnea_count is None:
            lines.append(f"{r.night:<10}  {_num(r.hours, '5.2f'):>5}  {r.sessions:>4}  not analysed: {r.error}")
            continue
        span = f"{r.start_clock[11:16]}-{r.end_clock[11:16]}" if r.start_clock and r.end_clock else "-"
        lines.append(
            f"{r.night:<10}  {_num(r.hours, '.2f'):>5}  {r.sessions:>4}  {_num(r.breath_rate_bpm, '.1f'):>5}  "
            f"{_num(r.ahi, '.1f'):>5}  {_num(r.device_ahi, '.1f'):>6}  {r.apnea_count:>6}  {r.hypopnea_count:>5}  "
            f"{_num(r.leak_median_lpm, '.1f'):>5} / {_num(r.leak_95_lpm, '.1f'):<4}  "
            f"{_num(r.pressure_median_cmh2o, '.1f'):>5} / {_num(r.pressure_95_cmh2o, '.1f'):<4}  {span}"
        )
    rules = sorted({r.ahi_rule for r in rows if r.apnea_count is not None})
    if rules:
        lines.append("AHI: " + "; ".join(rules) + ". device AHI: STR.edf.")
    for r in rows:
        for note in r.notes:
            lines.append(f"{r.night}: {note}")
    return "\n".join(lines)
