"""Reports on the server's patients: one per patient-night, from every upload of the admission in that night.

A bedside station uploads a measurement every few minutes (its analysis
summary, apneas and hypopneas, a decimated flow trace, the CPAP pressure);
the server stamps the time of receipt. A night's report puts every upload of
the admission in that night (:func:`cpap_lib.clock.night_of`, lab time) on
the clock: an upload received at ``t`` covers ``t - duration_s`` to ``t``.
The night's numbers add the uploads up (:func:`night_summary`); pressure
commands and technicians' notes come from the server's night timeline where
it has one.

Examples
--------
>>> night_summary([{"duration_s": 1800.0, "apnea_count": 3, "hypopnea_count": 1, "breath_rate_bpm": 14.0},
...                {"duration_s": 1800.0, "apnea_count": 1, "hypopnea_count": 3, "breath_rate_bpm": 16.0}])["ahi"]
8.0
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..clock import as_utc, lab_timezone, night_of
from ..errors import NotFoundError, ParameterError, ReportError
from .night import severity_of_ahi, sum_counts
from .subjects import TOKEN_ENV, ReportJob, ReportSubject, events_frame, safe_name

__all__ = ["server_jobs", "load_server_subject", "night_summary", "SEGMENT_COLUMNS"]

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = (
    "id",
    "recorded_at",
    "start_s",
    "end_s",
    "duration_s",
    "pressure_cmh2o",
    "apnea_count",
    "hypopnea_count",
    "ahi",
    "breath_rate_bpm",
    "leak_lpm",
)
"""One row per upload of a server night."""


def night_summary(analyses: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A night's summary from its uploads' analyses (keys of ``Analysis.to_dict()``).

    Counts add up; indices are events per hour of the summed durations
    (``apnea_index``, ``ahi``); breath rate and leak are duration-weighted
    means; ``severity`` is the AASM band of the night's AHI. The rule is the
    uploads' ``ahi_rule`` (or ``method``) when they agree.
    """
    durations = np.array([float(a.get("duration_s") or 0.0) for a in analyses])
    total = float(durations.sum())
    hours = total / 3600.0

    def weighted(key: str) -> float | None:
        values = np.array([np.nan if a.get(key) is None else float(a[key]) for a in analyses])
        keep = np.isfinite(values) & (durations > 0)
        return float(np.average(values[keep], weights=durations[keep])) if keep.any() else None

    apneas, hypopneas = sum_counts(analyses, "apnea_count"), sum_counts(analyses, "hypopnea_count")
    summary: dict[str, Any] = {
        "source": f"{len(analyses)} uploads",
        "uploads": len(analyses),
        "duration_s": total,
        "breath_count": sum_counts(analyses, "breath_count"),
        "breath_rate_bpm": weighted("breath_rate_bpm"),
        "apnea_count": apneas,
        "hypopnea_count": hypopneas,
        "apnea_index": apneas / hours if hours and apneas is not None else None,
        "ahi": (apneas + hypopneas) / hours if hours and apneas is not None and hypopneas is not None else None,
        "leak_lpm": weighted("leak_lpm"),
        "minute_ventilation_lpm": weighted("minute_ventilation_lpm"),
        "tidal_volume_l": weighted("tidal_volume_l"),
    }
    summary["severity"] = severity_of_ahi(summary["ahi"])
    for key in ("ahi_rule", "method"):
        values = {a.get(key) for a in analyses if a.get(key)}
        if len(values) == 1:
            summary[key] = values.pop()
        elif values:
            summary[key] = "mixed: " + ", ".join(sorted(map(str, values)))
    return summary


def _stay(client: Any, room: int, mrn: str, state: Any) -> tuple[datetime | None, datetime | None]:
    """``(admitted_at, discharged_at)`` of ``mrn``'s latest stay in ``room`` (UTC)."""
    if state.mrn == mrn and state.admitted_at is not None:
        return as_utc(state.admitted_at), None
    stays = [s for s in client.patient(mrn).admissions if s.room == room]
    if not stays:
        return None, None
    stay = max(stays, key=lambda s: s.admitted_at)
    return as_utc(stay.admitted_at), as_utc(stay.discharged_at)


def _in_stay(summaries: Sequence[Any], admitted: datetime | None, discharged: datetime | None) -> list[Any]:
    return [
        s
        for s in summaries
        if (admitted is None or as_utc(s.recorded_at) >= admitted - timedelta(seconds=1))
        and (discharged is None or as_utc(s.recorded_at) <= discharged)
    ]


def server_jobs(
    server_url: str,
    *,
    token: str = "",
    rooms: Sequence[int | str] | None = None,
    method: str = "amplitude",
    night: str | date | None = None,
) -> list[ReportJob]:
    """One job per room of ``server_url`` whose patient has uploads: their latest night (or ``night``).

    With all rooms, a room whose patient has no upload (in that night) is
    left out (logged): a nightly run must not fail because a bed was just
    admitted. A room asked for by number is always reported; without data
    its report fails with a sentence saying so.

    Raises
    ------
    ApiError
        If the server cannot be reached or refuses the token.
    ReportError
        If an asked-for room has no patient.
    """
    from ..client import CpapClient

    tz = lab_timezone()
    try:
        wanted = date.fromisoformat(str(night)) if night else None
    except ValueError:
        raise ParameterError("night", f"expected a date YYYY-MM-DD, got {night!r}") from None
    jobs = []
    with CpapClient(server_url, token=token or None) as client:
        states = client.rooms() if rooms is None else [client.room(int(r)) for r in rooms]
        for state in states:
            if state.mrn is None:
                if rooms is not None:
                    raise ReportError(f"room {state.room} has no patient")
                continue
            admitted, discharged = _stay(client, state.room, state.mrn, state)
            stay = _in_stay(client.measurements(state.room, mrn=state.mrn), admitted, discharged)
            nights = sorted({night_of(s.recorded_at, tz) for s in stay})
            chosen = wanted or (nights[-1] if nights else (night_of(admitted, tz) if admitted else None))
            if rooms is None and chosen not in nights:
                log.info("room %s: no upload in the night of %s, no report", state.room, chosen)
                continue
            label = chosen.isoformat() if chosen else "no-night"
            jobs.append(
                ReportJob(
                    name=safe_name(f"{label}-room-{state.room}-{state.mrn}"),
                    server_url=server_url,
                    room=str(state.room),
                    mrn=state.mrn,
                    night=chosen.isoformat() if chosen else "",
                    method=method,
                )
            )
    log.info("%d server patient-nights at %s", len(jobs), server_url)
    return jobs


def _timeline(client: Any, room: int, mrn: str) -> Any:
    """The server's night timeline of the room's current admission (None from a server without one)."""
    fetch = getattr(client, "timeline", None)
    if fetch is None:
        return None
    try:
        timeline = fetch(room)
    except NotFoundError:  # a server of an earlier version
        return None
    return timeline if getattr(timeline, "mrn", None) == mrn else None


def _segments(measurements: Sequence[Any]) -> tuple[datetime, pd.DataFrame]:
    """The uploads on the clock: origin (UTC) and one row per upload (seconds from the origin)."""
    rows = []
    for m in measurements:
        duration = float(m.analysis.get("duration_s") or (m.time_s[-1] if m.time_s.size else 0.0))
        end = as_utc(m.recorded_at)
        rows.append((m, end - timedelta(seconds=duration), end, duration))
    origin = min(start for _, start, _, _ in rows)
    table = pd.DataFrame(
        [
            {
                "id": m.id,
                "recorded_at": end,
                "start_s": (start - origin).total_seconds(),
                "end_s": (end - origin).total_seconds(),
                "duration_s": duration,
                "pressure_cmh2o": m.cpap_pressure_cmh2o,
                "apnea_count": m.analysis.get("apnea_count"),
                "hypopnea_count": m.analysis.get("hypopnea_count"),
                "ahi": m.analysis.get("ahi"),
                "breath_rate_bpm": m.analysis.get("breath_rate_bpm"),
                "leak_lpm": m.analysis.get("leak_lpm"),
            }
            for m, start, end, duration in rows
        ],
        columns=list(SEGMENT_COLUMNS),
    )
    return origin, table


def _night_trace(measurements: Sequence[Any], segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The uploads' stored flow traces on the night's time axis, NaN between uploads (breaks the line)."""
    times, flows = [], []
    for m, offset in zip(measurements, segments["start_s"]):
        if m.time_s.size:
            times += [m.time_s + offset, np.array([offset + float(m.time_s[-1]) + 1e-3])]
            flows += [m.flow_lps, np.array([np.nan])]
    if not times:
        return np.zeros(0), np.zeros(0)
    time_s, flow = np.concatenate(times), np.concatenate(flows)
    if np.any(np.diff(time_s) < 0):  # uploads that overlap in time (received closer than they last)
        order = np.argsort(time_s, kind="stable")
        time_s, flow = time_s[order], flow[order]
    return time_s, flow


def _night_events(measurements: Sequence[Any], segments: pd.DataFrame) -> pd.DataFrame:
    parts = [
        events_frame([(a + off, b + off) for a, b in m.apneas], [(a + off, b + off) for a, b in m.hypopneas])
        for m, off in zip(measurements, segments["start_s"])
    ]
    if not parts:
        return events_frame([], [])
    return pd.concat(parts, ignore_index=True).sort_values("start_s", kind="stable").reset_index(drop=True)


def _in_night(when: datetime, night: date, tz: Any) -> bool:
    return night_of(when, tz) == night


def load_server_subject(
    *, report_name: str = "", server_url: str, room: str | int = "", mrn: str = "", night: str = ""
) -> ReportSubject:
    """Every upload of a server patient's admission in one night (default: their latest night).

    Give ``room`` (its current patient, or ``mrn``'s stay there) or ``mrn``
    alone (the room of their latest stay). The API token is read from
    ``$CPAP_LAB_TOKEN`` (the kernel's environment). An upload without a flow
    trace still counts (its numbers and events); the figures show what exists.

    Raises
    ------
    ReportError
        If the room has no patient, or the patient no upload (in that night).
    ApiError
        If the server cannot be reached or refuses the request.
    """
    from ..client import CpapClient

    started = time.perf_counter()
    tz = lab_timezone()
    token = os.environ.get(TOKEN_ENV, "")  # never a notebook parameter: it would be written into the notebook
    with CpapClient(server_url, token=token or None) as client:
        if room in ("", None):
            stays = client.patient(mrn).admissions
            if not stays:
                raise ReportError(f"patient {mrn} has no stay on the server")
            room = max(stays, key=lambda stay: stay.admitted_at).room
        room = int(room)
        state = client.room(room)
        mrn = mrn or state.mrn or ""
        if not mrn:
            raise ReportError(f"room {room} has no patient")
        admitted, discharged = _stay(client, room, mrn, state)
        stay = _in_stay(client.measurements(room, mrn=mrn), admitted, discharged)
        if not stay:
            raise ReportError(f"room {room}, patient {mrn}: no measurement on the server yet")
        wanted = date.fromisoformat(night) if night else max(night_of(s.recorded_at, tz) for s in stay)
        chosen = [s for s in stay if _in_night(s.recorded_at, wanted, tz)]
        if not chosen:
            raise ReportError(f"room {room}, patient {mrn}: no measurement in the night of {wanted.isoformat()}")
        measurements = [client.measurement(s.id) for s in chosen]
        timeline = _timeline(client, room, mrn) if state.mrn == mrn else None
        current = state.mrn == mrn
        name = state.name if current else None
    measurements.sort(key=lambda m: as_utc(m.recorded_at))
    origin, segments = _segments(measurements)
    time_s, flow_lps = _night_trace(measurements, segments)
    summary = night_summary([m.analysis for m in measurements])
    commands, notes, alarms = _timeline_frames(timeline, origin, wanted, tz)
    if (
        commands.empty
        and current
        and state.commanded_cmh2o is not None
        and state.commanded_at is not None
        and _in_night(state.commanded_at, wanted, tz)
    ):
        commands = pd.DataFrame(
            [
                {
                    "time_s": (as_utc(state.commanded_at) - origin).total_seconds(),
                    "from_cmh2o": None,
                    "to_cmh2o": state.commanded_cmh2o,
                    "by": None,
                }
            ]
        )
    patient = {
        "name": name or mrn,
        "mrn": mrn,
        "room": room,
        "night": wanted.isoformat(),
        "source": f"{len(measurements)} uploads to {server_url}",
        "server": server_url,
        "alarms": alarms,
    }
    return ReportSubject(
        name=report_name or safe_name(f"{wanted.isoformat()}-room-{room}-{mrn}"),
        summary=summary,
        patient=patient,
        time_s=time_s,
        flow_lps=flow_lps,
        events=_night_events(measurements, segments),
        start=origin.astimezone(tz),
        segments=segments,
        commands=commands,
        notes=notes,
        inputs=[
            {"input": f"measurement #{m.id} received {as_utc(m.recorded_at):%Y-%m-%d %H:%M:%S} UTC", "sha256": ""}
            for m in measurements
        ],
        analysis_s=time.perf_counter() - started,
    )


def _timeline_frames(timeline: Any, origin: datetime, night: date, tz: Any) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """The night's pressure commands, notes and acknowledged alarm states from the server's timeline."""
    commands = pd.DataFrame(columns=["time_s", "from_cmh2o", "to_cmh2o", "by"])
    notes = pd.DataFrame(columns=["time_s", "author", "text"])
    if timeline is None:
        return commands, notes, []
    rows = [
        {
            "time_s": (as_utc(c.commanded_at) - origin).total_seconds(),
            "from_cmh2o": c.from_cmh2o,
            "to_cmh2o": c.to_cmh2o,
            "by": c.commanded_by,
        }
        for c in timeline.commands
        if _in_night(c.commanded_at, night, tz)
    ]
    if rows:
        commands = pd.DataFrame(rows)
    rows = [
        {"time_s": (as_utc(n.created_at) - origin).total_seconds(), "author": n.author, "text": n.text}
        for n in timeline.notes
        if _in_night(n.created_at, night, tz)
    ]
    if rows:
        notes = pd.DataFrame(rows)
    alarms = sorted(
        {str(a.state) for a in getattr(timeline, "acknowledgements", []) if _in_night(a.acknowledged_at, night, tz)}
    )
    return commands, notes, alarms
