"""Reports on the server's patients: which ones, and their data.

The server keeps, per measurement, the analysis summary, the apneas and
hypopneas, a decimated flow trace and the CPAP pressure (not the raw
recording), so a server patient's report shows their latest measurement as
stored, plus the history of all their measurements (pressure, apnea index,
breath rate).

Examples
--------
>>> from cpap_lib.reports.server_source import measurements_frame
>>> measurements_frame([]).columns.tolist()
['id', 'recorded_at', 'cpap_pressure_cmh2o', 'breath_rate_bpm', 'apnea_count', 'apnea_index', 'ahi', 'severity']
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ReportError
from .subjects import TOKEN_ENV, ReportJob, ReportSubject, events_frame, safe_name

__all__ = ["server_jobs", "load_server_subject", "measurements_frame", "MEASUREMENT_COLUMNS"]

log = logging.getLogger(__name__)

MEASUREMENT_COLUMNS = ("id", "recorded_at", "cpap_pressure_cmh2o", "breath_rate_bpm", "apnea_count", "apnea_index",
                       "ahi", "severity")


def measurements_frame(summaries: Sequence[Any]) -> pd.DataFrame:
    """The client's ``MeasurementSummary`` list as a DataFrame, oldest first."""
    frame = pd.DataFrame([asdict(s) for s in summaries], columns=list(MEASUREMENT_COLUMNS))
    return frame.sort_values("recorded_at", kind="stable").reset_index(drop=True)


def server_jobs(server_url: str, *, token: str = "", rooms: Sequence[int | str] | None = None,
                method: str = "amplitude") -> list[ReportJob]:
    """One job per room of ``server_url`` whose patient has data (or per given room).

    With all rooms, a room whose patient has no measurement yet is left out
    (logged): a nightly run must not fail because a bed was just admitted.
    A room asked for by number is always reported; without data its report
    fails with a message saying so.

    Raises
    ------
    ApiError
        If the server cannot be reached or refuses the token.
    """
    from ..client import CpapClient

    with CpapClient(server_url, token=token or None) as client:
        states = client.rooms() if rooms is None else [client.room(int(r)) for r in rooms]
    jobs = []
    for state in states:
        if state.mrn is None:
            if rooms is not None:
                raise ReportError(f"room {state.room} has no patient")
            continue
        if rooms is None and state.latest_measurement is None:
            log.info("room %s, patient %s: no measurement yet, no report", state.room, state.mrn)
            continue
        jobs.append(ReportJob(name=safe_name(f"room-{state.room}-{state.mrn}"), server_url=server_url,
                              room=str(state.room), mrn=state.mrn, method=method))
    log.info("%d server patients at %s", len(jobs), server_url)
    return jobs


def load_server_subject(*, report_name: str = "", server_url: str, room: str | int = "", mrn: str = "") -> ReportSubject:
    """The latest measurement of a server patient, with their earlier ones.

    Give ``room`` (its current patient, or ``mrn``'s measurements there) or
    ``mrn`` alone (the room of their latest stay). The API token is read
    from ``$CPAP_LAB_TOKEN`` (the kernel's environment).

    Raises
    ------
    ReportError
        If the room has no patient or the patient no measurement.
    ApiError
        If the server cannot be reached or refuses the request.
    """
    from ..client import CpapClient

    started = time.perf_counter()
    token = os.environ.get(TOKEN_ENV, "")  # never a notebook parameter: it would be written into the notebook
    with CpapClient(server_url, token=token or None) as client:
        if room in ("", None):
            stays = client.patient(mrn).admissions
            if not stays:
                raise ReportError(f"patient {mrn} has no stay on the server")
            room = max(stays, key=lambda stay: stay.admitted_at).room
        state = client.room(int(room))
        mrn = mrn or state.mrn or ""
        if not mrn:
            raise ReportError(f"room {room} has no patient")
        summaries = client.measurements(int(room), mrn=mrn)
        if not summaries:
            raise ReportError(f"room {room}, patient {mrn}: no measurement on the server yet")
        latest = client.measurement(summaries[-1].id)
        current = state.mrn == mrn
        name = state.name if current else None
        commanded = state.commanded_cmh2o if current else None
    fetch_s = time.perf_counter() - started
    summary = dict(latest.analysis)
    summary.update(apneas=[{"start_s": a, "end_s": b} for a, b in latest.apneas],
                   hypopneas=[{"start_s": a, "end_s": b} for a, b in latest.hypopneas])
    patient = {
        "name": name or mrn,
        "mrn": mrn,
        "room": int(room),
        "measurement": f"#{latest.id} received {latest.recorded_at.isoformat(sep=' ', timespec='seconds')}",
        "cpap_pressure": "" if latest.cpap_pressure_cmh2o is None else f"{latest.cpap_pressure_cmh2o:g} cmH2O",
        "commanded_pressure": "" if commanded is None else f"{commanded} cmH2O",
        "recording": summary.get("source") or "",
        "server": server_url,
    }
    return ReportSubject(
        name=report_name or safe_name(f"room-{room}-{mrn}"), summary=summary, patient=patient,
        time_s=latest.time_s, flow_lps=latest.flow_lps, events=events_frame(latest.apneas, latest.hypopneas),
        breaths=pd.DataFrame({"peak_s": np.zeros(0), "rate_bpm": np.zeros(0)}),
        measurements=measurements_frame(summaries), analysis_s=fetch_s,
    )
