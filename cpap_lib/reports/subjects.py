"""The job and subject types of a batch report, shared by every source.

A :class:`ReportJob` says what one report is about (a recording file, or a
server patient); a :class:`ReportSubject` is what the report notebook shows
(built by :mod:`cpap_lib.reports.sources` for files and
:mod:`cpap_lib.reports.server_source` for server patients).

Examples
--------
>>> ReportJob(name="night", recording_path="/data/night.txt").notebook_parameters("/out")["recording_path"]
'/data/night.txt'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TOKEN_ENV", "ReportJob", "ReportSubject", "events_frame", "safe_name", "SUMMARY_SUFFIX"]

TOKEN_ENV = "CPAP_LAB_TOKEN"
"""Environment variable holding the API token (the CLI's default, and the only way it reaches a report kernel)."""
SUMMARY_SUFFIX = ".summary.json"
"""File name ending of the JSON a report notebook writes for the runner."""


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text`` (letters, digits, ``._-``).

    >>> safe_name("Room 3 / MRN 007")
    'Room-3-MRN-007'
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned or "report"


@dataclass(frozen=True)
class ReportJob:
    """One patient's report: a recording file, or a server patient.

    Attributes
    ----------
    name : str
        Unique, file-name-safe name of the report in the batch.
    recording_path : str
        Absolute path of the recording ("" for server patients).
    server_url, room, mrn, night : str
        Where a server patient's data lives and which night (ISO date; "" for
        files, and for the patient's latest night). The API token is
        not part of a job: it reaches the notebook only through the kernel's
        environment (see :mod:`cpap_lib.reports.engine`).
    method : str
        Analysis method (``"amplitude"`` or ``"gap"``).
    params : dict
        Further keyword arguments of :func:`cpap_lib.analysis.analyze`.
    """

    name: str
    recording_path: str = ""
    server_url: str = ""
    room: str = ""
    mrn: str = ""
    night: str = ""
    method: str = "amplitude"
    params: Mapping[str, Any] = field(default_factory=dict)

    def notebook_parameters(self, output_dir: str | os.PathLike) -> dict[str, Any]:
        """The values papermill injects into the notebook's ``parameters`` cell."""
        return {
            "report_name": self.name,
            "recording_path": self.recording_path,
            "server_url": self.server_url,
            "room": self.room,
            "mrn": self.mrn,
            "night": self.night,
            "output_dir": str(output_dir),
            "method": self.method,
            "analysis_params": dict(self.params),
        }


def events_frame(apneas: Iterable[Sequence[float]], hypopneas: Iterable[Sequence[float]]) -> pd.DataFrame:
    """Events as in ``Analysis.events`` (columns :data:`cpap_lib.analysis.events.EVENT_COLUMNS`) from ``(start_s, end_s)`` pairs (amplitude ratio unknown: NaN).

    >>> events_frame([(10.0, 22.5)], [(40.0, 52.0)])[["kind", "duration_s"]].to_dict("list")
    {'kind': ['apnea', 'hypopnea'], 'duration_s': [12.5, 12.0]}
    """
    rows = [("apnea", *pair) for pair in apneas] + [("hypopnea", *pair) for pair in hypopneas]
    frame = pd.DataFrame(rows, columns=["kind", "start_s", "end_s"]).astype({"start_s": float, "end_s": float})
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    frame["amplitude_ratio"] = np.nan
    return frame.sort_values("start_s", kind="stable").reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass
class ReportSubject:
    """Everything one report shows: one patient-night, from a recording or the server's uploads.

    Every time in seconds (``time_s``, ``start_s``...) counts from ``start``
    (the first sample), in the lab's clock when ``start`` is known.

    Attributes
    ----------
    name : str
        The report's name.
    summary : dict
        The analysis summary (keys of ``Analysis.to_dict()``); for a server
        night, the night's uploads added up (:func:`cpap_lib.reports.server_source.night_summary`).
    patient : dict
        Header facts: ``name``, ``mrn``, ``room``, ``night`` (ISO date), ``source``.
    time_s, flow_lps : ndarray
        The flow to draw (the server's stored traces, NaN between uploads).
    events : DataFrame
        Our scoring: ``kind, start_s, end_s, duration_s, amplitude_ratio``.
    breaths : DataFrame
        Per-breath table (``peak_s, rate_bpm`` ...); empty for server nights.
    start : datetime or None
        Clock time of ``time_s == 0`` (aware, lab zone), None when unknown.
    signals : dict of Signal
        Device channels (``pressure``, ``leak``, ``spo2``...) in the same time base.
    gaps : list of dict
        ``start_s``/``end_s`` of gaps without data inside a recording (device nights).
    device_events : DataFrame or None
        The device's own scoring (``kind, start_s, end_s, duration_s``), when present.
    device_summary : dict or None
        The device's own summary of the night (ResMed ``STR.edf``), when present.
    segments : DataFrame
        Server nights: one row per upload (``id, start_s, end_s, duration_s,
        pressure_cmh2o, apnea_count, hypopnea_count, leak_lpm, breath_rate_bpm``).
    commands, notes : DataFrame
        Server nights: pressure commands (``time_s, from_cmh2o, to_cmh2o, by``)
        and technicians' notes (``time_s, author, text``), where the server has them.
    inputs : list of dict
        What the report read: ``{"input": name, "sha256": hex}`` per file, or
        the server measurements.
    analysis : Analysis or None
        The analysis object (files only).
    analysis_s : float
        Seconds to read and analyze (or fetch) the data.
    """

    name: str
    summary: dict
    patient: dict
    time_s: np.ndarray
    flow_lps: np.ndarray
    events: pd.DataFrame
    breaths: pd.DataFrame = field(default_factory=_empty)
    start: datetime | None = None
    signals: dict = field(default_factory=dict)
    gaps: list = field(default_factory=list)
    device_events: pd.DataFrame | None = None
    device_summary: dict | None = None
    segments: pd.DataFrame = field(default_factory=_empty)
    commands: pd.DataFrame = field(default_factory=_empty)
    notes: pd.DataFrame = field(default_factory=_empty)
    inputs: list = field(default_factory=list)
    analysis: Any = None
    analysis_s: float = 0.0

    @property
    def is_server_patient(self) -> bool:
        """Whether the data came from the server's uploads."""
        return bool(self.patient.get("server"))

    def clock(self, seconds: float | np.ndarray) -> datetime | None:
        """The clock time of ``seconds`` after ``start`` (None when ``start`` is unknown)."""
        if self.start is None:
            return None
        return self.start + timedelta(seconds=float(seconds))
