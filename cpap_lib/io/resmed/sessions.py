"""One mask-on session: its files (BRP, PLD, SA2, EVE, CSL) found by name stamp and read together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DeviceDataError
from ...recording import Recording
from .files import COMPANION_TOLERANCE_S, _empty_events, read_brp, read_events, read_trends, session_stamp

__all__ = ["SessionFiles", "DeviceSession", "find_sessions", "read_session"]


@dataclass(frozen=True)
class SessionFiles:
    """The files of one mask-on session (``brp`` always; the others where present)."""

    brp: Path
    pld: Path | None = None
    sa2: Path | None = None
    eve: Path | None = None
    csl: Path | None = None

    @property
    def start_time(self) -> datetime:
        """Start encoded in the BRP file's name."""
        return session_stamp(self.brp)[0]


def find_sessions(folder: str | Path) -> list[SessionFiles]:
    """List the sessions in a ``DATALOG/<date>/`` folder, in time order (no data read).

    Each ``*_BRP.edf`` file is a session; its PLD, SA2, EVE and CSL files are
    the ones whose name stamps lie nearest to it, within
    :data:`COMPANION_TOLERANCE_S`.

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
    stamped = [(session_stamp(p), p) for p in sorted(folder.iterdir()) if p.is_file()]
    by_kind: dict[str, list[tuple[datetime, Path]]] = {}
    for stamp, p in stamped:
        if stamp:
            by_kind.setdefault(stamp[1], []).append((stamp[0], p))
    sessions = []
    for when, brp in sorted(by_kind.get("BRP", [])):
        companions: dict[str, Path | None] = {}
        for kind in ("PLD", "SA2", "EVE", "CSL"):
            best = None
            for other_when, other in by_kind.get(kind, []):
                offset = abs((other_when - when).total_seconds())
                if offset <= COMPANION_TOLERANCE_S and (best is None or offset < best[0]):
                    best = (offset, other)
            companions[kind.lower()] = best[1] if best else None
        sessions.append(SessionFiles(brp=brp, **companions))
    return sessions


@dataclass(frozen=True, eq=False)
class DeviceSession:
    """One mask-on session: flow recording, the device's events and trends.

    Attributes
    ----------
    recording : Recording
        The BRP flow and pressure (``time_s`` from 0 at ``start_time``).
    events : DataFrame
        :func:`read_events` columns (EVE and CSL together) plus the event's
        span ``start_s`` = stamp - duration, ``end_s`` = stamp, in the
        recording's time base (aligned by absolute time, so the annotation
        file's earlier start is accounted for).
    trends : DataFrame
        :func:`read_trends` columns plus ``recording_time_s`` in the
        recording's time base; empty if the session has no PLD file.
    files : SessionFiles
        Where the data came from.
    """

    recording: Recording
    events: pd.DataFrame
    trends: pd.DataFrame
    files: SessionFiles

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


def read_session(session: SessionFiles | str | Path) -> DeviceSession:
    """Read one session: its BRP file plus the PLD/EVE/CSL files that go with it.

    Parameters
    ----------
    session : SessionFiles or path
        A :class:`SessionFiles` from :func:`find_sessions`, or the path of a
        ``*_BRP.edf`` file (its companions are looked up in the same folder).

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
    frames = [read_events(p) for p in (session.eve, session.csl) if p is not None]
    frames = [f for f in frames if len(f)]
    events = pd.concat(frames, ignore_index=True) if frames else _empty_events()
    events = events.sort_values("start_time", kind="stable").reset_index(drop=True)
    events = _event_spans(events, recording.start_time)
    if session.pld is not None:
        trends = read_trends(session.pld)
        trends["recording_time_s"] = _seconds_since(trends["time"], recording.start_time)
    else:
        trends = pd.DataFrame({"time_s": [], "time": pd.Series(dtype="datetime64[us]"), "recording_time_s": []})
    return DeviceSession(recording=recording, events=events, trends=trends, files=session)
