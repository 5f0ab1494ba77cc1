"""The recording contract every reader returns and the analysis takes.

A :class:`Recording` is a time axis in seconds (the recording's own time base),
the patient's flow in L/s (positive on inspiration), the mask pressure in cmH2O
where known, and what the reader had to skip; :class:`Signal` is a channel on
its own clock (device trends, oximetry), named after :data:`SIGNAL_UNITS`.

Readers live in :mod:`cpap_lib.io` (:func:`cpap_lib.io.read_recording`; the
lab's venturi text files in :mod:`cpap_lib.io.lab_text`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["Recording", "Signal", "SIGNAL_UNITS"]


SIGNAL_UNITS = {
    "spo2": "%",
    "pulse": "bpm",
    "mask_pressure": "cmH2O",
    "pressure": "cmH2O",
    "epr_pressure": "cmH2O",
    "leak": "L/min",
    "resp_rate": "bpm",
    "tidal_volume": "L",
    "minute_ventilation": "L/min",
    "snore": "",
    "flow_limitation": "",
}
"""Standard names of the slow channels a recording may carry, with their units.

Readers use these names where the source records the quantity (ResMed PLD
trends, SAD/SA2 oximetry, the simulator's SpO2); other channels keep a
lower-case name of their own.
"""


@dataclass(frozen=True, eq=False)
class Signal:
    """A channel sampled on its own clock (device trends at 0.5 Hz, oximetry at 1 Hz).

    Attributes
    ----------
    name : str
        A key of :data:`SIGNAL_UNITS` where one fits (``"spo2"``, ``"leak"``...).
    unit : str
        Unit of ``values`` (``"%"``, ``"L/min"``...).
    time_s : ndarray of float64
        Sample times in the owning recording's time base (same origin as
        ``Recording.time_s``), increasing.
    values : ndarray of float64
        Values; NaN where the device marked a sample invalid (no oximeter
        contact, mask off).
    """

    name: str
    unit: str
    time_s: np.ndarray
    values: np.ndarray

    def __repr__(self) -> str:
        return f"Signal(name={self.name!r}, unit={self.unit!r}, samples={self.values.size})"


@dataclass(frozen=True, eq=False)
class Recording:
    """One recording, ready for analysis.

    Attributes
    ----------
    time_s : ndarray of float64
        Sample times in seconds, strictly increasing, in the recording's own
        time base (the lab files start a few seconds after 0).
    flow_lps : ndarray of float64
        Patient flow, L/s, positive on inspiration.
    fs_hz : float
        Nominal sampling rate, Hz.
    source : str
        Where it came from (a file name, or ``"<stream>"``).
    pressure_cmh2o : ndarray of float64 or None
        Mask pressure, cmH2O, where the format records it.
    skipped_rows : int
        Exact number of data rows the reader skipped.
    skipped_lines : tuple of int
        The first few (at most ``MAX_REPORTED_LINES``) skipped 1-based line numbers.
    start_time : datetime or None
        Wall-clock time of ``time_s[0]`` where the format records it.
    channels : dict of str to ndarray
        Further channels sampled with ``time_s`` (raw ADC columns, session index), keyed by name.
    signals : dict of str to Signal
        Channels on their own clock (device trends, oximetry), keyed by name
        (:data:`SIGNAL_UNITS`).
    meta : dict
        Format-specific facts (device, session, ...).
    """

    time_s: np.ndarray
    flow_lps: np.ndarray
    fs_hz: float
    source: str = "<recording>"
    pressure_cmh2o: np.ndarray | None = None
    skipped_rows: int = 0
    skipped_lines: tuple[int, ...] = ()
    start_time: datetime | None = None
    channels: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Signal] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        """Number of samples."""
        return int(self.time_s.size)

    @property
    def duration_s(self) -> float:
        """Duration in seconds: samples divided by the sampling rate."""
        return float(self.samples / self.fs_hz)

    def __repr__(self) -> str:
        return (
            f"Recording(source={self.source!r}, samples={self.samples}, fs_hz={self.fs_hz:g}, "
            f"duration_s={self.duration_s:.1f}, skipped_rows={self.skipped_rows})"
        )
