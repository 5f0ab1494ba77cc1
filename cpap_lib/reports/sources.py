"""What a batch report is about: jobs (one per patient) and their data.

The runner (:mod:`cpap_lib.reports.runner`) turns its inputs into :class:`ReportJob`
objects (recording files and globs, or every room of a server); the report
notebook calls :func:`load_report_subject` with the job's parameters to get a
:class:`ReportSubject` (the analysis, and for server patients their pressure
history and earlier measurements) and :func:`write_summary` to hand the key
figures back to the runner as JSON.

Examples
--------
>>> jobs = file_jobs(["/data/a/night.txt", "/data/b/night.txt", "/data/c.txt"])
>>> [job.name for job in jobs]
['night', 'night-2', 'c']
>>> jobs[2].notebook_parameters("/out")["recording_path"]
'/data/c.txt'
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..analysis import analyze_file
from ..errors import ParameterError
from .subjects import SUMMARY_SUFFIX, ReportJob, ReportSubject, safe_name

__all__ = ["expand_inputs", "file_jobs", "load_report_subject", "write_summary"]

log = logging.getLogger(__name__)

_GLOB_CHARS = re.compile(r"[*?\[]")


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand recording paths and globs (``**`` allowed) into existing paths.

    Directories are kept as they are (a ResMed card or DATALOG folder is one
    recording). Duplicates are dropped; the order is that of the inputs,
    sorted within each glob.

    Raises
    ------
    ParameterError
        If a path does not exist or a glob matches nothing.

    >>> expand_inputs(["/no/such/night.txt"])
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: inputs: /no/such/night.txt does not exist
    """
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        if _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=True))
            if not matches:
                raise ParameterError("inputs", f"{text} matches no file")
            candidates = [Path(m) for m in matches]
        else:
            path = Path(text).expanduser()
            if not path.exists():
                raise ParameterError("inputs", f"{text} does not exist")
            candidates = [path]
        found.extend(c.resolve() for c in candidates)
    return list(dict.fromkeys(found))


def _unique_names(stems: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        base = safe_name(stem)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def file_jobs(paths: Sequence[str | os.PathLike], *, method: str = "amplitude", params: Mapping[str, Any] | None = None) -> list[ReportJob]:
    """One :class:`ReportJob` per recording path, named after the file."""
    stems = [Path(p).name if Path(p).is_dir() else Path(p).stem for p in paths]
    return [
        ReportJob(name=name, recording_path=os.fspath(path), method=method, params=dict(params or {}))
        for name, path in zip(_unique_names(stems), paths)
    ]


def load_report_subject(*, report_name: str = "", recording_path: str = "", server_url: str = "", room: str | int = "",
                        mrn: str = "", method: str = "amplitude",
                        params: Mapping[str, Any] | None = None) -> ReportSubject:
    """Read and analyze one patient's data for the report notebook.

    Give either ``recording_path`` (a recording file or folder, analyzed
    here with ``method`` and ``params``) or ``server_url`` with ``room``
    and/or ``mrn`` (the latest stored measurement is reported, with the
    patient's earlier ones).

    Raises
    ------
    ParameterError
        If neither or both sources are given.
    RecordingError
        If the recording cannot be read or analyzed.
    ApiError, ReportError
        If the server cannot be reached, refuses, or has no measurement.
    """
    if bool(recording_path) == bool(server_url):
        raise ParameterError("recording_path", "give either a recording path or a server URL (with room or MRN)")
    if server_url:
        from .server_source import load_server_subject

        return load_server_subject(report_name=report_name, server_url=server_url, room=room, mrn=mrn)
    started = time.perf_counter()
    analysis = analyze_file(recording_path, method=method, **dict(params or {}))
    analysis_s = time.perf_counter() - started
    recording = analysis.recording
    name = report_name or safe_name(Path(recording_path).stem)
    patient = {
        "name": name,
        "recording": os.path.basename(os.path.normpath(recording_path)),
        "start_time": recording.start_time.isoformat(sep=" ", timespec="seconds") if recording.start_time else "",
        "method": method,
    }
    log.info("analyzed %s in %.2f s", recording_path, analysis_s)
    return ReportSubject(name=name, summary=analysis.to_dict(), patient=patient, time_s=recording.time_s,
                         flow_lps=recording.flow_lps, events=analysis.events, breaths=analysis.breaths,
                         analysis=analysis, analysis_s=analysis_s)


def write_summary(subject: ReportSubject, output_dir: str | os.PathLike) -> Path | None:
    """Write the key figures of ``subject`` as ``<output_dir>/<name>.summary.json``.

    Does nothing (returns None) when ``output_dir`` is empty, so the notebook
    run on its own writes no files.
    """
    if not output_dir:
        return None
    path = Path(output_dir) / f"{subject.name}{SUMMARY_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"name": subject.name, "patient": subject.patient, "analysis": subject.summary,
               "timings": {"analysis_s": subject.analysis_s}}
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return path
