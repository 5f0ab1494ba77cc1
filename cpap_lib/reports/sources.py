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
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..clock import lab_timezone, night_of, recording_start
from ..errors import ParameterError
from ..jsonable import jsonable
from .subjects import SUMMARY_SUFFIX, ReportJob, ReportSubject, safe_name

__all__ = [
    "expand_inputs",
    "file_jobs",
    "card_nights",
    "load_report_subject",
    "load_file_subject",
    "file_checksums",
    "write_summary",
]

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


def card_nights(path: str | os.PathLike) -> list[str]:
    """The nights (ISO sleep days) of a ResMed card root holding several; [] for anything else.

    >>> card_nights(__file__)
    []
    """
    from ..io import resmed

    root = Path(path)
    if not (root.is_dir() and resmed.is_card_root(root)):
        return []
    nights = resmed.read_card(root).nights
    return [n.day.isoformat() for n in nights] if len(nights) > 1 else []


def file_jobs(
    paths: Sequence[str | os.PathLike], *, method: str = "amplitude", params: Mapping[str, Any] | None = None
) -> list[ReportJob]:
    """One :class:`ReportJob` per recording path, named after the file; one per night of a multi-night card."""
    entries = []
    for path in paths:
        stem = Path(path).name if Path(path).is_dir() else Path(path).stem
        nights = card_nights(path)
        entries += [(f"{stem}-{night}", path, night) for night in nights] if nights else [(stem, path, "")]
    return [
        ReportJob(name=name, recording_path=os.fspath(path), night=night, method=method, params=dict(params or {}))
        for name, (_, path, night) in zip(_unique_names([e[0] for e in entries]), entries)
    ]


MAX_LISTED_INPUTS = 200
"""Files of a folder input listed (with checksums) in a report's footer."""


def file_checksums(path: str | os.PathLike) -> list[dict[str, str]]:
    """``{"input": name, "sha256": hex}`` for a file, or each file in a folder (sorted, at most 200).

    >>> file_checksums(__file__)[0]["input"]
    'sources.py'
    """
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    rows = []
    for file in files[:MAX_LISTED_INPUTS]:
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        rows.append(
            {
                "input": file.name if not root.is_dir() else str(file.relative_to(root.parent)),
                "sha256": digest.hexdigest(),
            }
        )
    return rows


def _is_device_path(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".edf"


def _device_events(device: Any) -> pd.DataFrame | None:
    events = getattr(device, "events", None)
    if events is None:
        return None
    frame = events[["kind", "start_s", "end_s"]].astype({"start_s": float, "end_s": float}).copy()
    frame["duration_s"] = frame["end_s"] - frame["start_s"]
    if "label" in events:
        frame["label"] = events["label"].to_numpy()
    return frame.sort_values("start_s", kind="stable").reset_index(drop=True)


def load_file_subject(
    *,
    report_name: str = "",
    recording_path: str,
    night: str = "",
    method: str = "amplitude",
    params: Mapping[str, Any] | None = None,
) -> ReportSubject:
    """One recording (lab file, ResMed session or night) analysed for its report.

    A device recording also brings the device's own events and night summary
    (shown beside ours) and its channels (pressure, leak, SpO2...). Its start
    time is the device's clock, taken as the lab's clock time. ``night``
    picks one night (ISO sleep day) of a card root that holds several.
    """
    from ..analysis import analyze
    from ..io import read_device_data, read_recording, resmed

    started = time.perf_counter()
    path = Path(recording_path)
    device: resmed.DeviceSession | resmed.DeviceNight | None
    if night and path.is_dir() and resmed.is_card_root(path):
        card = resmed.read_card(path)
        device = card.read(card.find(night))
    else:
        device = read_device_data(path) if _is_device_path(path) else None
    recording = device.recording if device is not None else read_recording(path)
    analysis = analyze(recording, method=method, **dict(params or {}))
    analysis_s = time.perf_counter() - started
    start = recording_start(recording.start_time, lab_timezone())
    night = recording.meta.get("night") or (night_of(start, start.tzinfo).isoformat() if start else "")
    name = report_name or safe_name(path.stem if not path.is_dir() else path.name)
    patient = {
        "name": name,
        "night": night,
        "source": os.path.basename(os.path.normpath(recording_path)),
        "device": _device_name(recording.meta),
    }
    log.info("analyzed %s in %.2f s", recording_path, analysis_s)
    return ReportSubject(
        name=name,
        summary=analysis.to_dict(),
        patient=patient,
        time_s=recording.time_s,
        flow_lps=recording.flow_lps,
        events=analysis.events,
        breaths=analysis.breaths,
        start=start,
        signals=dict(recording.signals),
        gaps=list(recording.meta.get("gaps") or []),
        device_events=_device_events(device),
        device_summary=getattr(device, "summary", None),
        inputs=file_checksums(getattr(device, "folder", None) or path),
        analysis=analysis,
        analysis_s=analysis_s,
    )


def _device_name(meta: Mapping[str, Any]) -> str:
    """``"ResMed (serial 2324...)"`` for device recordings, "" for lab files."""
    device = meta.get("device") or {}
    if meta.get("format", "").startswith("resmed"):
        serial = device.get("serial_number")
        return "ResMed" + (f" (serial {serial})" if serial else "")
    return ""


def load_report_subject(
    *,
    report_name: str = "",
    recording_path: str = "",
    server_url: str = "",
    room: str | int = "",
    mrn: str = "",
    night: str = "",
    method: str = "amplitude",
    params: Mapping[str, Any] | None = None,
) -> ReportSubject:
    """Read and analyze one patient-night for the report notebook.

    Give either ``recording_path`` (a recording file or folder, analyzed
    here with ``method`` and ``params``: :func:`load_file_subject`) or
    ``server_url`` with ``room`` and/or ``mrn`` (every upload of the
    admission in the ``night``, default the latest:
    :func:`cpap_lib.reports.server_source.load_server_subject`).

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

        return load_server_subject(report_name=report_name, server_url=server_url, room=room, mrn=mrn, night=night)
    return load_file_subject(
        report_name=report_name, recording_path=recording_path, night=night, method=method, params=params
    )


def write_summary(subject: ReportSubject, output_dir: str | os.PathLike) -> Path | None:
    """Write the key figures of ``subject`` as ``<output_dir>/<name>.summary.json``.

    ``analysis`` is the summary the report shows (the library's analysis, or
    the night's uploads added up), ``night`` page 1's numbers
    (:func:`cpap_lib.reports.night.night_metrics`). Does nothing (returns
    None) when ``output_dir`` is empty, so the notebook run on its own writes
    no files.
    """
    from .night import night_metrics

    if not output_dir:
        return None
    path = Path(output_dir) / f"{subject.name}{SUMMARY_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": subject.name,
        "patient": subject.patient,
        "analysis": subject.summary,
        "night": jsonable(night_metrics(subject)),
        "alarms": list(subject.patient.get("alarms") or []),
        "timings": {"analysis_s": subject.analysis_s},
    }
    path.write_text(json.dumps(jsonable(payload), indent=1, default=str), encoding="utf-8")
    return path
