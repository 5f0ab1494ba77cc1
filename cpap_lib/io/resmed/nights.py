"""One night (a ``DATALOG/<date>/`` folder): its sessions joined into one recording, gaps kept as gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DeviceDataError
from ...recording import Recording
from .files import _empty_events
from .sessions import DeviceSession, _event_spans, _seconds_since, find_sessions, read_session

__all__ = ["DeviceNight", "night_recording", "read_datalog"]


def night_recording(sessions: list[DeviceSession] | tuple[DeviceSession, ...], *, source: str = "") -> Recording:
    """Concatenate sessions into one night-long Recording, gaps kept as gaps.

    ``time_s`` is wall-clock seconds since the first session's start: between
    sessions the time axis jumps over the gap (no samples are invented), so it
    stays strictly increasing.  ``duration_s`` (samples / fs) is therefore the
    time with data, not the span; ``meta["sessions"]`` lists each session's
    ``offset_s`` and ``duration_s`` and ``meta["gaps"]`` the gaps
    (``start_s``, ``end_s``).  ``channels["session"]`` holds each sample's
    session index.

    Raises
    ------
    DeviceDataError
        No sessions, mixed sampling rates, or sessions that overlap in time.
    """
    if not sessions:
        raise DeviceDataError("no sessions with flow data (no *_BRP.edf files)", file=source or None)
    sessions = sorted(sessions, key=lambda s: s.start_time)
    fs = sessions[0].recording.fs_hz
    origin = sessions[0].start_time
    times, flows, pressures, index, listing, gaps = [], [], [], [], [], []
    previous_end = None
    for i, session in enumerate(sessions):
        rec = session.recording
        if rec.fs_hz != fs:
            raise DeviceDataError(f"sampling rate {rec.fs_hz:g} Hz differs from {fs:g} Hz", file=rec.source)
        offset = (session.start_time - origin).total_seconds()
        if previous_end is not None:
            if offset <= previous_end:
                raise DeviceDataError(
                    f"session starts at {session.start_time:%H:%M:%S}, before the previous one ends", file=rec.source
                )
            gaps.append({"start_s": float(previous_end), "end_s": float(offset)})
        times.append(rec.time_s + offset)
        flows.append(rec.flow_lps)
        pressures.append(rec.pressure_cmh2o if rec.pressure_cmh2o is not None else np.full(rec.samples, np.nan))
        index.append(np.full(rec.samples, i, dtype=np.int32))
        previous_end = offset + float(rec.time_s[-1]) + 1.0 / fs
        listing.append(
            {
                "session": session.name,
                "source": rec.source,
                "start_time": session.start_time.isoformat(),
                "offset_s": offset,
                "duration_s": rec.duration_s,
            }
        )
    meta = dict(sessions[0].recording.meta)
    meta.update({"session": None, "file": source, "sessions": listing, "gaps": gaps})
    return Recording(
        time_s=np.concatenate(times),
        flow_lps=np.concatenate(flows),
        fs_hz=fs,
        source=source or sessions[0].recording.source,
        pressure_cmh2o=np.concatenate(pressures),
        start_time=origin,
        channels={"session": np.concatenate(index)},
        meta=meta,
    )


@dataclass(frozen=True, eq=False)
class DeviceNight:
    """All sessions of one ``DATALOG/<date>/`` folder.

    Attributes
    ----------
    folder : Path
    sessions : tuple of DeviceSession
        In time order.
    recording : Recording
        The night: :func:`night_recording` of the sessions.
    events, trends : DataFrame
        All sessions' events / trends, with ``start_s``/``end_s`` and
        ``recording_time_s`` in the night recording's time base, and a
        ``session`` column (index into ``sessions``).
    """

    folder: Path
    sessions: tuple[DeviceSession, ...]
    recording: Recording
    events: pd.DataFrame
    trends: pd.DataFrame

    def __repr__(self) -> str:
        return f"DeviceNight({self.folder.name}, sessions={len(self.sessions)}, events={len(self.events)})"


def _night_frames(sessions: tuple[DeviceSession, ...], origin: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    events, trends = [], []
    for i, session in enumerate(sessions):
        ev = _event_spans(session.events.assign(session=i), origin)
        events.append(ev)
        if len(session.trends):
            tr = session.trends.assign(session=i)
            tr["recording_time_s"] = _seconds_since(tr["time"], origin)
            trends.append(tr)
    night_events = pd.concat(events, ignore_index=True) if events else _empty_events()
    night_trends = pd.concat(trends, ignore_index=True) if trends else pd.DataFrame()
    return night_events, night_trends


def read_datalog(folder: str | Path) -> DeviceNight:
    """Read every session of a ``DATALOG/<date>/`` folder into a :class:`DeviceNight`.

    Raises
    ------
    DeviceDataError
        The folder holds no ``*_BRP.edf`` file, or one of its files is corrupt.
    """
    folder = Path(folder)
    files = find_sessions(folder)
    if not files:
        raise DeviceDataError("no sessions with flow data (no *_BRP.edf files)", file=str(folder))
    sessions = tuple(read_session(f) for f in files)
    recording = night_recording(sessions, source=folder.name)
    events, trends = _night_frames(sessions, recording.start_time)
    return DeviceNight(folder=folder, sessions=sessions, recording=recording, events=events, trends=trends)
