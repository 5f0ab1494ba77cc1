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
    server_url, room, mrn : str
        Where a server patient's data lives ("" for files). The API token is
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


@dataclass
class ReportSubject:
    """Everything one report shows, whether from a recording file or the server.

    Attributes
    ----------
    name : str
        The report's name.
    summary : dict
        The analysis summary (keys of ``Analysis.to_dict()``; a server
        measurement stores most of them).
    patient : dict
        Header facts (patient, room, MRN, source, start time, method).
    time_s, flow_lps : ndarray
        The flow to draw: the whole recording for a file, the stored
        (decimated) trace for a server measurement.
    events : DataFrame
        ``kind, start_s, end_s, duration_s, amplitude_ratio``.
    breaths : DataFrame
        Per-breath table (``peak_s, rate_bpm`` ...); empty for server patients.
    measurements : DataFrame
        The server patient's measurements, oldest first (``recorded_at,
        cpap_pressure_cmh2o, breath_rate_bpm, apnea_index, ahi, severity``);
        empty for files.
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
    breaths: pd.DataFrame
    measurements: pd.DataFrame = field(default_factory=pd.DataFrame)
    analysis: Any = None
    analysis_s: float = 0.0

    @property
    def is_server_patient(self) -> bool:
        """Whether the data came from the server (history sections apply)."""
        return bool(self.patient.get("server"))

    def header_markdown(self) -> str:
        """The report's header as Markdown.

        >>> subject = ReportSubject(name="p1", summary={}, patient={"name": "p1", "room": 3, "mrn": ""},
        ...     time_s=np.zeros(0), flow_lps=np.zeros(0), events=events_frame([], []), breaths=pd.DataFrame())
        >>> print(subject.header_markdown())
        # Sleep report: p1
        <BLANKLINE>
        - **Room**: 3
        """
        title = self.patient.get("name") or self.name
        lines = [f"# Sleep report: {title}", ""]
        lines += [f"- **{key.replace('_', ' ').capitalize()}**: {value}" for key, value in self.patient.items()
                  if key != "name" and value not in (None, "")]
        return "\n".join(lines)
