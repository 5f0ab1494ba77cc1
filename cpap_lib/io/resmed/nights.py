"""One night: a ``DATALOG/<date>/`` folder's sessions joined into one recording, gaps kept as gaps.

A night is the device's **sleep day**: ResMed's ``STR.edf`` holds one record
per day running from noon to noon (its start is 12:00:00, records of
86 400 s), its ``DATALOG/<date>`` folders are named after that day, and OSCAR
splits days at noon by default too.  So a session starting at 02:14 on
18 October belongs to the night of 17 October (:func:`sleep_day`).

Sessions that hold no data (a header and 0 data records, -1 when the file
was never closed, or less flow than a breath: an aborted session) and
sessions whose BRP file cannot be read are skipped with a note in
:attr:`DeviceNight.notes`; they never fail the night unless no session is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ...clock import NIGHT_STARTS_AT_HOUR
from ...errors import DeviceDataError, NoDataError
from ...recording import Recording, Signal
from .files import _empty_events
from .sessions import (
    DeviceSession,
    SessionFiles,
    _event_spans,
    _seconds_since,
    annotation_files,
    attribute_events,
    find_sessions,
    read_annotations,
    read_session,
)
from .summary import summary_for_day

__all__ = ["DeviceNight", "night_recording", "read_datalog", "read_night", "sleep_day"]


def sleep_day(when: datetime) -> date:
    """The sleep day a device clock time belongs to: the date of the noon that precedes it.

    The device's clock is its own wall clock (no zone): the day boundary is
    :data:`cpap_lib.clock.NIGHT_STARTS_AT_HOUR` (noon) on that clock, as in
    ``STR.edf``, OSCAR and the lab's own nights (:func:`cpap_lib.clock.night_of`).

    Examples
    --------
    >>> sleep_day(datetime(2024, 10, 18, 2, 14)), sleep_day(datetime(2024, 10, 17, 22, 18))
    (datetime.date(2024, 10, 17), datetime.date(2024, 10, 17))
    >>> sleep_day(datetime(2024, 10, 18, 12, 0))
    datetime.date(2024, 10, 18)
    """
    return (when - timedelta(hours=NIGHT_STARTS_AT_HOUR)).date()


def _concat_signals(sessions: list[DeviceSession], offsets: list[float]) -> dict[str, Signal]:
    names: dict[str, str] = {}
    for s in sessions:
        for name, sig in s.recording.signals.items():
            names.setdefault(name, sig.unit)
    out = {}
    for name, unit in names.items():
        parts = [(s.recording.signals[name], off) for s, off in zip(sessions, offsets) if name in s.recording.signals]
        out[name] = Signal(
            name=name,
            unit=unit,
            time_s=np.concatenate([sig.time_s + off for sig, off in parts]),
            values=np.concatenate([sig.values for sig, _ in parts]),
        )
    return out


def night_recording(sessions: list[DeviceSession] | tuple[DeviceSession, ...], *, source: str = "") -> Recording:
    """Concatenate sessions into one night-long Recording, gaps kept as gaps.

    ``time_s`` is wall-clock seconds since the first session's start: between
    sessions the time axis jumps over the gap (no samples are invented), so it
    stays strictly increasing.  ``duration_s`` (samples / fs) is therefore the
    time with data, not the span; ``meta["sessions"]`` lists each session's
    ``offset_s`` and ``duration_s`` and ``meta["gaps"]`` the gaps
    (``start_s``, ``end_s``).  ``channels["session"]`` holds each sample's
    session index; ``signals`` the sessions' device channels in the night's
    time base.

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
    times, flows, pressures, index, listing, gaps, offsets = [], [], [], [], [], [], []
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
        offsets.append(offset)
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
        signals=_concat_signals(sessions, offsets),
    )


@dataclass(frozen=True, eq=False)
class DeviceNight:
    """All sessions of one night (sleep day).

    Attributes
    ----------
    folder : Path
        The ``DATALOG/<date>/`` folder (the first, if the night's sessions span two).
    sessions : tuple of DeviceSession
        The sessions holding data, in time order.
    recording : Recording
        The night: :func:`night_recording` of the sessions, with
        ``meta["notes"]`` and ``meta["night"]`` (ISO sleep day).
    events, trends : DataFrame
        All the night's device events / trends, with ``start_s``/``end_s`` and
        ``recording_time_s`` in the night recording's time base, and a
        ``session`` column (index into ``sessions``; -1 for an event outside
        every session).
    notes : tuple of str
        Sessions and files skipped, and why (``"session 04:24:41 holds no data; skipped"``).
    day : date
        The sleep day (:func:`sleep_day` of the first session's start).
    summary : dict or None
        The device's own summary of the day from ``STR.edf`` (see
        :func:`~.summary.read_summary`), where the card has one.
    """

    folder: Path
    sessions: tuple[DeviceSession, ...]
    recording: Recording
    events: pd.DataFrame
    trends: pd.DataFrame
    notes: tuple[str, ...] = ()
    day: date | None = None
    summary: dict | None = field(default=None)

    def __repr__(self) -> str:
        return (
            f"DeviceNight({self.day or self.folder.name}, sessions={len(self.sessions)}, "
            f"events={len(self.events)}, notes={len(self.notes)})"
        )


def _skip_note(files: SessionFiles, exc: DeviceDataError) -> str:
    when = f"{files.start_time:%H:%M:%S}"
    if isinstance(exc, NoDataError):
        reason = exc.reason.removeprefix("holds no data: ")
        if reason.startswith("holds "):  # too short
            return f"session {when} {reason}; skipped"
        return f"session {when} holds no data; skipped ({files.brp.name}: {reason})"
    return f"session {when} cannot be read; skipped ({files.brp.name}: {exc.reason})"


def read_night(
    files: list[SessionFiles] | tuple[SessionFiles, ...],
    annotations: list[Path] | tuple[Path, ...] = (),
    *,
    folder: Path,
    source: str = "",
    summary_path: Path | None = None,
) -> DeviceNight:
    """Read a night from its sessions' files and its EVE/CSL files.

    Each annotation goes to the session whose flow it falls in
    (:func:`~.sessions.attribute_events`), whichever file it came from.
    With ``summary_path`` (the card's ``STR.edf``) the device's summary of
    the day is in ``summary`` and ``recording.meta["device_summary"]``.

    Raises
    ------
    NoDataError
        Every session was skipped (the notes say why).
    DeviceDataError
        No session at all.
    """
    source = source or folder.name
    if not files:
        raise DeviceDataError("no sessions with flow data (no *_BRP.edf files)", file=str(folder))
    notes: list[str] = []
    sessions: list[DeviceSession] = []
    for f in sorted(files, key=lambda f: f.start_time):
        try:
            sessions.append(read_session(f, events=_empty_events()))
        except DeviceDataError as exc:
            notes.append(_skip_note(f, exc))
    if not sessions:
        raise NoDataError("no session holds flow data: " + "; ".join(notes), file=str(folder))
    events, event_notes = read_annotations(list(annotations))
    notes += event_notes
    origin = sessions[0].start_time
    starts = np.array([(s.start_time - origin).total_seconds() for s in sessions])
    ends = starts + np.array([s.duration_s for s in sessions])
    which = attribute_events(_seconds_since(events["start_time"], origin), starts, ends)
    sessions = [
        replace(s, events=_event_spans(events[which == i].reset_index(drop=True), s.start_time))
        for i, s in enumerate(sessions)
    ]
    for s in sessions:
        notes += list(s.notes)
    outside = int((which < 0).sum())
    if outside:
        notes.append(f"{outside} device event(s) fall outside every session; kept with session -1, not compared")
    recording = night_recording(sessions, source=source)
    day = sleep_day(origin)
    summary = summary_for_day(summary_path, day) if summary_path is not None else None
    recording = replace(
        recording, meta={**recording.meta, "notes": list(notes), "night": day.isoformat(), "device_summary": summary}
    )
    night_events = (
        _event_spans(events.assign(session=which), origin)
        if len(events)
        else _event_spans(_empty_events().assign(session=pd.Series(dtype=np.int64)), origin)
    )
    trends = [s.trends.assign(session=i) for i, s in enumerate(sessions) if len(s.trends)]
    night_trends = pd.concat(trends, ignore_index=True) if trends else pd.DataFrame()
    if len(night_trends):
        night_trends["recording_time_s"] = _seconds_since(night_trends["time"], origin)
    return DeviceNight(
        folder=folder,
        sessions=tuple(sessions),
        recording=recording,
        events=night_events,
        trends=night_trends,
        notes=tuple(notes),
        day=day,
        summary=summary,
    )


def read_datalog(folder: str | Path) -> DeviceNight:
    """Read every session of a ``DATALOG/<date>/`` folder into a :class:`DeviceNight`.

    With the card's ``STR.edf`` two levels up, ``summary`` holds the device's
    summary of the night.

    Raises
    ------
    DeviceDataError
        The folder holds no ``*_BRP.edf`` file, or no session holds data.
    """
    folder = Path(folder)
    files = find_sessions(folder)
    if not files:
        raise DeviceDataError("no sessions with flow data (no *_BRP.edf files)", file=str(folder))
    card_str = folder.parent.parent / "STR.edf" if folder.parent.name.upper() == "DATALOG" else None
    return read_night(files, annotation_files(folder), folder=folder, summary_path=card_str)
