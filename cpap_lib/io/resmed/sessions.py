"""One mask-on session: its files (BRP, PLD, SAD/SA2, EVE, CSL) found by name stamp and read together.

The device's events are attributed to sessions by time, not by file: an
AirSense 10 / AirCurve 10 writes one EVE/CSL file per night (named after the
night's first session) whose annotations cover every session, an AirSense 11
one per session.  Every annotation of a folder's EVE/CSL files belongs to the
session whose flow recording it falls in (:func:`attribute_events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DeviceDataError, NoDataError
from ...recording import SIGNAL_UNITS, Recording, Signal
from .files import (
    COMPANION_TOLERANCE_S,
    _empty_events,
    read_brp,
    read_events,
    read_header,
    read_oximetry,
    read_trends,
    session_stamp,
)

__all__ = [
    "SessionFiles",
    "DeviceSession",
    "find_sessions",
    "read_session",
    "read_annotations",
    "attribute_events",
    "device_signals",
    "SIGNAL_COLUMNS",
]

SIGNAL_COLUMNS = {
    "mask_pressure_cmh2o": ("mask_pressure", 1.0),
    "pressure_cmh2o": ("pressure", 1.0),
    "epr_pressure_cmh2o": ("epr_pressure", 1.0),
    "leak_lps": ("leak", 60.0),
    "resp_rate_bpm": ("resp_rate", 1.0),
    "tidal_volume_l": ("tidal_volume", 1.0),
    "minute_ventilation_lpm": ("minute_ventilation", 1.0),
    "snore": ("snore", 1.0),
    "flow_limitation": ("flow_limitation", 1.0),
    "spo2_pct": ("spo2", 1.0),
    "pulse_bpm": ("pulse", 1.0),
    "target_ventilation_lpm": ("target_ventilation", 1.0),
    "inspiratory_time_s": ("inspiratory_time", 1.0),
}
"""Trend/oximetry column -> (standard :data:`~cpap_lib.recording.SIGNAL_UNITS` name, factor to its unit).

The device's leak is in L/s; the standard ``"leak"`` is L/min (x 60).
"""
_ANNOTATION_KINDS = ("EVE", "CSL")


@dataclass(frozen=True)
class SessionFiles:
    """The files of one mask-on session (``brp`` always; the others where present)."""

    brp: Path
    pld: Path | None = None
    sa2: Path | None = None
    eve: Path | None = None
    csl: Path | None = None
    sad: Path | None = None

    @property
    def start_time(self) -> datetime:
        """Start encoded in the BRP file's name."""
        return session_stamp(self.brp)[0]

    @property
    def oximetry(self) -> Path | None:
        """The oximetry file: ``*_SAD.edf`` (AirSense 10) or ``*_SA2.edf`` (AirSense 11)."""
        return self.sad or self.sa2


def _stamped(folder: Path) -> dict[str, list[tuple[datetime, Path]]]:
    by_kind: dict[str, list[tuple[datetime, Path]]] = {}
    for p in sorted(folder.iterdir()):
        stamp = session_stamp(p) if p.is_file() else None
        if stamp:
            by_kind.setdefault(stamp[1], []).append((stamp[0], p))
    return by_kind


def find_sessions(folder: str | Path) -> list[SessionFiles]:
    """List the sessions in a ``DATALOG/<date>/`` folder, in time order (no data read).

    Each ``*_BRP.edf`` file is a session; its PLD, SAD/SA2, EVE and CSL files
    are the ones whose name stamps lie nearest to it, within
    :data:`COMPANION_TOLERANCE_S` (the EVE/CSL named here are the ones next to
    the session; its events come from every EVE/CSL file of the folder, see
    :func:`read_session`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ["20241018_055249_EVE.edf", "20241018_055256_BRP.edf", "20241018_055256_PLD.edf"]:
    ...     _ = (d / n).write_bytes(b"")
    >>> s = find_sessions(d)[0]
    >>> s.brp.name, s.eve.name, s.csl
    ('20241018_055256_BRP.edf', '20241018_055249_EVE.edf', None)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeviceDataError("not a folder", file=str(folder))
    by_kind = _stamped(folder)
    sessions = []
    for when, brp in sorted(by_kind.get("BRP", [])):
        companions: dict[str, Path | None] = {}
        for kind in ("PLD", "SA2", "SAD", "EVE", "CSL"):
            best = None
            for other_when, other in by_kind.get(kind, []):
                offset = abs((other_when - when).total_seconds())
                if offset <= COMPANION_TOLERANCE_S and (best is None or offset < best[0]):
                    best = (offset, other)
            companions[kind.lower()] = best[1] if best else None
        sessions.append(SessionFiles(brp=brp, **companions))
    return sessions


def annotation_files(folder: str | Path) -> list[Path]:
    """The folder's ``*_EVE.edf`` and ``*_CSL.edf`` files, in time order."""
    by_kind = _stamped(Path(folder))
    return [p for _, p in sorted(x for k in _ANNOTATION_KINDS for x in by_kind.get(k, []))]


@dataclass(frozen=True, eq=False)
class DeviceSession:
    """One mask-on session: flow recording, the device's events, trends and oximetry.

    Attributes
    ----------
    recording : Recording
        The BRP flow and pressure (``time_s`` from 0 at ``start_time``), with
        the device's channels in ``signals`` (:func:`device_signals`).
    events : DataFrame
        :func:`~.files.read_events` columns (EVE and CSL together) of the
        annotations that fall in this session, plus the event's span
        ``start_s`` = stamp - duration, ``end_s`` = stamp, in the recording's
        time base (aligned by absolute time, so the annotation file's earlier
        start is accounted for).
    trends : DataFrame
        :func:`~.files.read_trends` columns plus ``recording_time_s`` in the
        recording's time base; empty if the session has no PLD file.
    files : SessionFiles
        Where the data came from.
    oximetry : DataFrame
        :func:`~.files.read_oximetry` columns plus ``recording_time_s``;
        empty without a SAD/SA2 file.
    notes : tuple of str
        What was skipped and why (a companion file holding no data).
    """

    recording: Recording
    events: pd.DataFrame
    trends: pd.DataFrame
    files: SessionFiles
    oximetry: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()

    @property
    def start_time(self) -> datetime:
        """Wall-clock start of the flow recording."""
        return self.recording.start_time

    @property
    def end_time(self) -> datetime:
        """Wall-clock end of the flow recording."""
        return self.recording.start_time + timedelta(seconds=self.recording.duration_s)

    @property
    def duration_s(self) -> float:
        """Length of the flow recording, seconds."""
        return self.recording.duration_s

    @property
    def name(self) -> str:
        """The session's stamp, e.g. ``"20241018_055256"``."""
        return self.recording.meta.get("session", self.recording.source)

    def __repr__(self) -> str:
        return (
            f"DeviceSession({self.name}, start={self.start_time:%Y-%m-%d %H:%M:%S}, "
            f"duration_s={self.duration_s:.0f}, events={len(self.events)}, trends={len(self.trends)})"
        )


def _seconds_since(times: pd.Series, origin: datetime) -> np.ndarray:
    return ((times - pd.Timestamp(origin)) / pd.Timedelta(seconds=1)).to_numpy(np.float64)


def _event_spans(events: pd.DataFrame, origin: datetime) -> pd.DataFrame:
    """Add ``start_s``/``end_s``: the event fills the ``duration_s`` before its stamp."""
    stamp = _seconds_since(events["start_time"], origin)
    return events.assign(start_s=stamp - events["duration_s"].to_numpy(np.float64), end_s=stamp)


def attribute_events(
    stamps_s: np.ndarray, starts_s: np.ndarray, ends_s: np.ndarray, tolerance_s: float = COMPANION_TOLERANCE_S
) -> np.ndarray:
    """Index of the session each event stamp falls in; the nearest within ``tolerance_s``, else -1.

    Parameters
    ----------
    stamps_s : ndarray
        Event stamps (the device stamps an event at its end), s, any common time base.
    starts_s, ends_s : ndarray
        Each session's flow recording span in the same time base.

    Examples
    --------
    >>> attribute_events(np.array([5.0, 130.0, 205.0, 900.0]), np.array([0.0, 100.0]), np.array([60.0, 200.0])).tolist()
    [0, 1, 1, -1]
    """
    t = np.asarray(stamps_s, dtype=np.float64)[:, None]
    starts, ends = np.asarray(starts_s, dtype=np.float64), np.asarray(ends_s, dtype=np.float64)
    if t.size == 0 or starts.size == 0:
        return np.full(t.shape[0], -1, dtype=np.int64)
    distance = np.maximum(np.maximum(starts[None, :] - t, t - ends[None, :]), 0.0)
    best = np.argmin(distance, axis=1)
    return np.where(distance[np.arange(t.shape[0]), best] <= tolerance_s, best, -1)


def read_annotations(paths: list[Path] | tuple[Path, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Every device event in these EVE/CSL files (duplicates across files dropped), and notes.

    An annotation file holding no data, or one that cannot be read, is
    noted, not an error.
    """
    frames, notes = [], []
    for path in paths:
        try:
            frame = read_events(path)
        except NoDataError:
            notes.append(f"{path.name} holds no data; skipped")
            continue
        except DeviceDataError as exc:
            notes.append(f"{path.name} cannot be read; skipped ({exc.reason})")
            continue
        if len(frame):
            frames.append(frame)
    if not frames:
        return _empty_events(), notes
    events = pd.concat(frames, ignore_index=True)
    events = events.drop_duplicates(["start_time", "label", "duration_s"]).sort_values("start_time", kind="stable")
    return events.reset_index(drop=True), notes


def device_signals(frames: list[pd.DataFrame], origin: datetime) -> dict[str, Signal]:
    """The device's channels as :class:`~cpap_lib.recording.Signal` objects in the time base starting at ``origin``.

    ``frames`` are :func:`~.files.read_trends` / :func:`~.files.read_oximetry`
    frames (with their absolute ``time``).  Columns in :data:`SIGNAL_COLUMNS`
    get the standard names and units (leak in L/min); other channels keep a
    lower-case name of their own with the EDF's unit.  An oximetry channel
    that holds no valid sample (no oximeter connected) gives **no** signal,
    so ``"spo2" in recording.signals`` tells whether SpO2 was recorded.
    """
    out: dict[str, Signal] = {}
    for frame in frames:
        if not len(frame):
            continue
        t = _seconds_since(frame["time"], origin)
        units = frame.attrs.get("units", {})
        for column in frame.columns:
            if column in ("time", "time_s", "recording_time_s"):
                continue
            values = frame[column].to_numpy(np.float64)
            name, factor = SIGNAL_COLUMNS.get(column, (column.lower(), 1.0))
            if name in ("spo2", "pulse") and not np.isfinite(values).any():
                continue
            unit = SIGNAL_UNITS.get(name, units.get(column, ""))
            out[name] = Signal(name=name, unit=unit, time_s=t, values=values * factor if factor != 1.0 else values)
    return out


def _empty_trends() -> pd.DataFrame:
    return pd.DataFrame({"time_s": [], "time": pd.Series(dtype="datetime64[us]"), "recording_time_s": []})


def _read_optional(reader, path: Path | None, kind: str, notes: list[str]) -> pd.DataFrame:
    if path is None:
        return _empty_trends()
    try:
        return reader(path)
    except NoDataError:
        notes.append(f"{path.name} ({kind}) holds no data; skipped")
    except DeviceDataError as exc:  # a broken companion file never costs the session its flow
        notes.append(f"{path.name} ({kind}) cannot be read; skipped ({exc.reason})")
    return _empty_trends()


def _folder_spans(folder: Path, origin: datetime) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each session's BRP name and flow span (from the BRP headers), s since ``origin``."""
    names, starts, ends = [], [], []
    for files in find_sessions(folder):
        try:
            header = read_header(files.brp)
        except DeviceDataError:
            continue
        names.append(files.brp.name)
        starts.append((header.start - origin).total_seconds())
        ends.append(starts[-1] + header.duration_s)
    return names, np.array(starts), np.array(ends)


def _own_events(files: SessionFiles, recording: Recording) -> tuple[pd.DataFrame, list[str]]:
    """The events of the folder's EVE/CSL files that belong to this session."""
    folder = files.brp.parent
    paths = annotation_files(folder) if folder.is_dir() else []
    events, notes = read_annotations(paths)
    if not len(events):
        return events, notes
    origin = recording.start_time
    names, starts, ends = _folder_spans(folder, origin)
    if files.brp.name not in names:  # unreadable header: this session's own span only
        names, starts, ends = [files.brp.name], np.zeros(1), np.array([recording.duration_s])
    which = attribute_events(_seconds_since(events["start_time"], origin), starts, ends)
    return events[which == names.index(files.brp.name)].reset_index(drop=True), notes


def read_session(session: SessionFiles | str | Path, *, events: pd.DataFrame | None = None) -> DeviceSession:
    """Read one session: its BRP file plus the PLD, SAD/SA2 and device events that go with it.

    Parameters
    ----------
    session : SessionFiles or path
        A :class:`SessionFiles` from :func:`find_sessions`, or the path of a
        ``*_BRP.edf`` file (its companions are looked up in the same folder).
    events : DataFrame, optional
        The device events already attributed to this session (as
        :func:`~.nights.read_datalog` does for a night); by default every
        EVE/CSL file of the folder is read and the events falling in this
        session kept (:func:`attribute_events`).

    Raises
    ------
    NoDataError
        The BRP file holds no data or less than a breath (an aborted session).
    DeviceDataError
        The BRP file is missing, truncated or corrupt.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, edfio
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> edfio.Edf([edfio.EdfSignal(np.zeros(1500), 25, label="Flow.40ms", physical_range=(-2, 3))],
    ...     starttime=datetime.time(5, 52, 56), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))
    ...     ).write(d / "20241018_055256_BRP.edf")
    >>> edfio.Edf([], annotations=[edfio.EdfAnnotation(30, 10, "Central Apnea")],
    ...     starttime=datetime.time(5, 52, 49), recording=edfio.Recording(startdate=datetime.date(2024, 10, 18))
    ...     ).write(d / "20241018_055249_EVE.edf")
    >>> s = read_session(d / "20241018_055256_BRP.edf")
    >>> s.events[["kind", "onset_s", "start_s", "end_s"]].to_dict("records")  # EVE starts 7 s earlier
    [{'kind': 'central_apnea', 'onset_s': 30.0, 'start_s': 13.0, 'end_s': 23.0}]
    """
    if not isinstance(session, SessionFiles):
        brp = Path(session)
        matches = [s for s in find_sessions(brp.parent) if s.brp.name == brp.name] if brp.parent.is_dir() else []
        session = matches[0] if matches else SessionFiles(brp=brp)
    recording = read_brp(session.brp)
    notes: list[str] = []
    if events is None:
        events, notes = _own_events(session, recording)
    events = _event_spans(events.sort_values("start_time", kind="stable").reset_index(drop=True), recording.start_time)
    trends = _read_optional(read_trends, session.pld, "trends", notes)
    oximetry = _read_optional(read_oximetry, session.oximetry, "oximetry", notes)
    for frame in (trends, oximetry):
        frame["recording_time_s"] = _seconds_since(frame["time"], recording.start_time)
    signals = device_signals([trends, oximetry], recording.start_time)
    recording = replace(recording, signals=signals, meta={**recording.meta, "notes": list(notes)})
    return DeviceSession(
        recording=recording, events=events, trends=trends, files=session, oximetry=oximetry, notes=tuple(notes)
    )
