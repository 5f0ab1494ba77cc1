"""Database operations, one keyword-only function per use case.

Functions take an open :class:`~sqlalchemy.orm.Session` (the caller owns the
transaction: :meth:`Database.write` / :meth:`Database.read`) and raise
:class:`~cpap_lib.errors.NotFoundError` with a fixed message for unknown
rooms, patients and measurements; the app answers those 404.

Examples
--------
>>> from cpap_lib.server.db import Database
>>> from cpap_lib.server.schemas import MeasurementCreate
>>> db = Database("sqlite://")
>>> with db.write() as s:
...     receipt = upload(s, room=12, data=MeasurementCreate(mrn="A1", cpap_pressure_cmh2o=8,
...                                                       analysis={"apnea_count": 2}))
...     _ = command_pressure(s, room=12, cmh2o=10)
>>> receipt.new_admission, receipt.measurement_id
(True, 1)
>>> with db.read() as s:
...     state = ward(s)[0]
...     state.room, state.mrn, state.latest_measurement.apnea_count, state.commanded_cmh2o
(12, 'A1', 2, 10)
>>> with db.read() as s:
...     poll_pressure(s, room=99)
Traceback (most recent call last):
...
cpap_lib.errors.NotFoundError: room 99 not found
"""

from __future__ import annotations

import base64
from datetime import datetime

import numpy as np
from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..analysis.decimate import minmax_lttb
from ..errors import NotFoundError
from ..images import media_type
from .models import (
    METRIC_COLUMNS,
    STORED_TRACE_POINTS,
    Admission,
    Measurement,
    MeasurementEvent,
    Patient,
    PressureCommand,
    Room,
    utcnow,
)
from .schemas import (
    AdmissionCreate,
    AdmissionPublic,
    FlowTrace,
    Interval,
    MeasurementCreate,
    MeasurementPublic,
    MeasurementSummary,
    PatientPublic,
    PressureCommandPublic,
    PressurePoll,
    RoomPublic,
    UploadReceipt,
    decode_png_base64,
)

__all__ = [
    "admit",
    "command_pressure",
    "current_patient_records",
    "get_measurement",
    "get_patient",
    "latest_pressures",
    "list_measurements",
    "list_patients",
    "poll_pressure",
    "room_has_patient",
    "room_not_found",
    "room_state",
    "upload",
    "ward",
]


def room_not_found(room: int) -> NotFoundError:
    """The fixed 404 error for an unknown room."""
    return NotFoundError(f"room {room} not found")


def _insert_ignore(session: Session, model, values: dict) -> None:
    """INSERT a row unless its unique key exists (race-free on SQLite and PostgreSQL)."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(model).values(**values).on_conflict_do_nothing())


def _lock_room(session: Session, room: int, *, create: bool) -> Room | None:
    if create:
        _insert_ignore(session, Room, {"number": room, "created_at": utcnow()})
    return session.execute(select(Room).where(Room.number == room).with_for_update()).scalar_one_or_none()


def admit(session: Session, *, room: int, data: AdmissionCreate, now: datetime | None = None) -> tuple[Admission, bool]:
    """Make ``data.mrn`` the patient of ``room`` (creating room and patient as needed).

    A different MRN than the room's current patient discharges the current
    admission and opens a new one. A patient has one open admission: admitted
    here, their stay in another room ends (that room becomes empty). A given
    name replaces the stored one.

    Returns
    -------
    (Admission, bool)
        The current admission and whether it was opened by this call.
    """
    now = now or utcnow()
    room_row = _lock_room(session, room, create=True)
    _insert_ignore(session, Patient, {"mrn": data.mrn, "name": data.name, "created_at": now})
    patient = session.execute(select(Patient).where(Patient.mrn == data.mrn)).scalar_one()
    if data.name is not None and patient.name != data.name:
        patient.name = data.name
    current = session.get(Admission, room_row.current_admission_id) if room_row.current_admission_id else None
    if current is not None and current.patient_id == patient.id:
        return current, False
    if current is not None:
        current.discharged_at = now
    _discharge_elsewhere(session, patient_id=patient.id, room=room, now=now)
    admission = Admission(room_number=room, patient_id=patient.id, admitted_at=now)
    session.add(admission)
    session.flush()
    room_row.current_admission_id = admission.id
    if current is None:  # pressures preset before anyone was in the room are this patient's
        session.execute(
            update(PressureCommand)
            .where(PressureCommand.room_number == room, PressureCommand.admission_id.is_(None))
            .values(admission_id=admission.id)
        )
    return admission, True


def _discharge_elsewhere(session: Session, *, patient_id: int, room: int, now: datetime) -> None:
    """End the patient's open admissions in other rooms (a patient is in one room at a time)."""
    stays = (
        session.execute(
            select(Admission).where(
                Admission.patient_id == patient_id, Admission.discharged_at.is_(None), Admission.room_number != room
            )
        )
        .scalars()
        .all()
    )
    for stay in stays:
        other = _lock_room(session, stay.room_number, create=False)
        stay.discharged_at = now
        if other is not None and other.current_admission_id == stay.id:
            other.current_admission_id = None


def _trace_bytes(trace: FlowTrace) -> tuple[bytes, bytes]:
    time_s = np.asarray(trace.time_s, dtype=np.float64)
    flow = np.asarray(trace.flow_lps, dtype=np.float64)
    if time_s.size > STORED_TRACE_POINTS:
        time_s, flow = minmax_lttb(time_s, flow, STORED_TRACE_POINTS)
    return time_s.astype("<f8").tobytes(), flow.astype("<f4").tobytes()


def upload(
    session: Session,
    *,
    room: int,
    data: MeasurementCreate,
    now: datetime | None = None,
    image: bytes | None = None,
    idempotency_key: str | None = None,
) -> UploadReceipt:
    """Admit the patient and, when a pressure, analysis, trace or image is given, append a measurement.

    The measurement is stamped with the server's time of receipt. ``image``
    (bytes already checked, e.g. an old client's JPEG) is stored instead of
    ``data.flow_image_png_base64``. An ``idempotency_key`` already stored
    answers that upload's receipt and stores nothing (a client's re-send).
    """
    if idempotency_key is not None:
        earlier = _receipt_for_key(session, idempotency_key)
        if earlier is not None:
            return earlier
    now = now or utcnow()
    admission, new = admit(session, room=room, data=data, now=now)
    if image is None and data.flow_image_png_base64 is not None:
        image = decode_png_base64(data.flow_image_png_base64)
    has_data = data.cpap_pressure_cmh2o is not None or data.analysis is not None
    has_data = has_data or data.flow_trace is not None or image is not None
    if not has_data:
        return UploadReceipt(
            room=room, mrn=data.mrn, admission_id=admission.id, new_admission=new, measurement_id=None, recorded_at=None
        )
    analysis = data.analysis
    metrics = {key: getattr(analysis, key) for key in METRIC_COLUMNS} if analysis else {}
    measurement = Measurement(
        admission_id=admission.id,
        recorded_at=now,
        idempotency_key=idempotency_key,
        cpap_pressure_cmh2o=data.cpap_pressure_cmh2o,
        **metrics,
    )
    if data.flow_trace is not None:
        measurement.trace_time_s, measurement.trace_flow_lps = _trace_bytes(data.flow_trace)
    measurement.flow_png = image
    session.add(measurement)
    session.flush()
    if analysis is not None:
        events = [
            {"measurement_id": measurement.id, "kind": kind, "start_s": iv.start_s, "end_s": iv.end_s}
            for kind, intervals in (("apnea", analysis.apneas), ("hypopnea", analysis.hypopneas))
            for iv in intervals
        ]
        if events:
            session.execute(insert(MeasurementEvent), events)
    admission.latest_measurement_id = measurement.id
    if analysis is not None and analysis.apnea_count is not None and analysis.duration_s is not None:
        admission.night_apneas = (admission.night_apneas or 0) + analysis.apnea_count
        admission.night_hypopneas = (admission.night_hypopneas or 0) + (analysis.hypopnea_count or 0)
        admission.night_recorded_s = (admission.night_recorded_s or 0.0) + analysis.duration_s
    return UploadReceipt(
        room=room,
        mrn=data.mrn,
        admission_id=admission.id,
        new_admission=new,
        measurement_id=measurement.id,
        recorded_at=now,
    )


def _receipt_for_key(session: Session, key: str) -> UploadReceipt | None:
    row = session.execute(
        select(Measurement.id, Measurement.recorded_at, Admission.id, Admission.room_number, Patient.mrn)
        .join(Admission, Admission.id == Measurement.admission_id)
        .join(Patient, Patient.id == Admission.patient_id)
        .where(Measurement.idempotency_key == key)
    ).one_or_none()
    if row is None:
        return None
    m_id, recorded_at, admission_id, room, mrn = row
    return UploadReceipt(
        room=room, mrn=mrn, admission_id=admission_id, new_admission=False, measurement_id=m_id, recorded_at=recorded_at
    )


def command_pressure(
    session: Session, *, room: int, cmh2o: int, by: str | None = None, preset: bool = False
) -> PressureCommandPublic:
    """Store a new commanded CPAP pressure for a room, with who sent it, what it changed from and its stay.

    ``from_cmh2o`` is the room's previous command during the current
    admission (a preset tied to it included), else the pressure of the
    patient's latest measurement. The
    command is tied to the room's current admission. With ``preset=True`` a
    room nobody was admitted to yet may be commanded (staff preset the
    pressure before the patient arrives): the room is created, the command
    waits with ``admission_id`` null, the room's poll answers it, and
    :func:`admit` ties it to the next patient admitted there. Without it an
    unknown room is a :class:`NotFoundError`.
    """
    room_row = _lock_room(session, room, create=preset)
    if room_row is None:
        raise room_not_found(room)
    now = utcnow()
    previous = _previous_pressure(session, room_row)
    command = PressureCommand(
        room_number=room,
        cmh2o=cmh2o,
        commanded_at=now,
        commanded_by=by,
        from_cmh2o=previous,
        admission_id=room_row.current_admission_id,
    )
    session.add(command)
    session.flush()
    room_row.latest_command_id = command.id
    return PressureCommandPublic(
        id=command.id,
        room=room,
        cmh2o=cmh2o,
        commanded_at=command.commanded_at,
        commanded_by=by,
        from_cmh2o=previous,
        admission_id=command.admission_id,
    )


def _previous_pressure(session: Session, room_row: Room) -> float | None:
    admission = session.get(Admission, room_row.current_admission_id) if room_row.current_admission_id else None
    if room_row.latest_command_id is not None:
        last = session.get(PressureCommand, room_row.latest_command_id)
        if admission is None or last.commanded_at >= admission.admitted_at or last.admission_id == admission.id:
            return float(last.cmh2o)  # this stay's command, or its preset
    if admission is not None and admission.latest_measurement_id is not None:
        return session.get(Measurement, admission.latest_measurement_id).cpap_pressure_cmh2o
    return None


def poll_pressure(session: Session, *, room: int) -> PressurePoll:
    """The room's latest commanded pressure (nulls when none was commanded)."""
    row = session.execute(
        select(Room.number, PressureCommand.id, PressureCommand.cmh2o, PressureCommand.commanded_at)
        .outerjoin(PressureCommand, PressureCommand.id == Room.latest_command_id)
        .where(Room.number == room)
    ).one_or_none()
    if row is None:
        raise room_not_found(room)
    return PressurePoll(room=room, command_id=row[1], cmh2o=row[2], commanded_at=row[3])


_SUMMARY_FIELDS = tuple(f for f in MeasurementSummary.model_fields if f != "recorded_at" and f != "id")


def _build_ward_query():
    latest = Measurement  # joined once, through the admission's latest_measurement_id
    columns = [
        Room.number,
        Patient.mrn,
        Patient.name,
        Admission.id,
        Admission.admitted_at,
        latest.id,
        latest.recorded_at,
        *(getattr(latest, f) for f in _SUMMARY_FIELDS),
        PressureCommand.cmh2o,
        PressureCommand.commanded_at,
    ]
    return (
        select(*columns)
        .outerjoin(Admission, Admission.id == Room.current_admission_id)
        .outerjoin(Patient, Patient.id == Admission.patient_id)
        .outerjoin(latest, latest.id == Admission.latest_measurement_id)
        .outerjoin(PressureCommand, PressureCommand.id == Room.latest_command_id)
        .order_by(Room.number)
    )


_WARD_QUERY = _build_ward_query()
"""Built once: constructing the statement costs more than running it."""


def _ward_query(room: int | None = None):
    return _WARD_QUERY if room is None else _WARD_QUERY.where(Room.number == room)


def _room_public(row) -> RoomPublic:
    room, mrn, name, admission_id, admitted_at, m_id, m_at, *rest = row
    summary_values, (cmh2o, commanded_at) = rest[:-2], rest[-2:]
    latest = None
    if m_id is not None:
        latest = MeasurementSummary(id=m_id, recorded_at=m_at, **dict(zip(_SUMMARY_FIELDS, summary_values)))
    return RoomPublic(
        room=room,
        mrn=mrn,
        name=name,
        admission_id=admission_id,
        admitted_at=admitted_at,
        latest_measurement=latest,
        commanded_cmh2o=cmh2o,
        commanded_at=commanded_at,
    )


def ward(session: Session) -> list[RoomPublic]:
    """Every room's latest state, in one query of primary-key joins (cost independent of history)."""
    return [_room_public(row) for row in session.execute(_ward_query())]


def room_state(session: Session, *, room: int) -> RoomPublic:
    """One room's latest state."""
    row = session.execute(_ward_query(room)).one_or_none()
    if row is None:
        raise room_not_found(room)
    return _room_public(row)


def _patient(session: Session, mrn: str) -> Patient:
    patient = session.execute(select(Patient).where(Patient.mrn == mrn)).scalar_one_or_none()
    if patient is None:
        raise NotFoundError(f"patient {mrn} not found")
    return patient


def list_measurements(session: Session, *, room: int, mrn: str | None = None) -> list[MeasurementSummary]:
    """Measurements (oldest first) of a room's current patient, or of patient ``mrn`` in that room."""
    room_row = session.get(Room, room)
    if room_row is None:
        raise room_not_found(room)
    if mrn is None:
        if room_row.current_admission_id is None:
            return []
        patient_id = session.get(Admission, room_row.current_admission_id).patient_id
    else:
        patient_id = _patient(session, mrn).id
    columns = [Measurement.id, Measurement.recorded_at, *(getattr(Measurement, f) for f in _SUMMARY_FIELDS)]
    rows = session.execute(
        select(*columns)
        .join(Admission, Admission.id == Measurement.admission_id)
        .where(Admission.room_number == room, Admission.patient_id == patient_id)
        .order_by(Measurement.id)
    )
    return [MeasurementSummary(id=r[0], recorded_at=r[1], **dict(zip(_SUMMARY_FIELDS, r[2:]))) for r in rows]


def get_measurement(session: Session, *, measurement_id: int) -> MeasurementPublic:
    """One measurement with every metric, its events, flow trace and image."""
    row = session.execute(
        select(Measurement, Admission.room_number, Patient.mrn)
        .join(Admission, Admission.id == Measurement.admission_id)
        .join(Patient, Patient.id == Admission.patient_id)
        .where(Measurement.id == measurement_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"measurement {measurement_id} not found")
    m, room, mrn = row
    events = session.execute(
        select(MeasurementEvent.kind, MeasurementEvent.start_s, MeasurementEvent.end_s)
        .where(MeasurementEvent.measurement_id == m.id)
        .order_by(MeasurementEvent.id)
    ).all()
    trace = None
    if m.trace_time_s is not None:
        trace = FlowTrace.model_construct(
            time_s=np.frombuffer(m.trace_time_s, dtype="<f8").tolist(),
            flow_lps=np.frombuffer(m.trace_flow_lps, dtype="<f4").astype(np.float64).tolist(),
        )
    return MeasurementPublic(
        id=m.id,
        room=room,
        mrn=mrn,
        admission_id=m.admission_id,
        recorded_at=m.recorded_at,
        cpap_pressure_cmh2o=m.cpap_pressure_cmh2o,
        analysis={key: getattr(m, key) for key in METRIC_COLUMNS},
        apneas=[Interval(start_s=s, end_s=e) for kind, s, e in events if kind == "apnea"],
        hypopneas=[Interval(start_s=s, end_s=e) for kind, s, e in events if kind == "hypopnea"],
        flow_trace=trace,
        flow_image_png_base64=base64.b64encode(m.flow_png).decode("ascii") if m.flow_png else None,
        flow_image_type=media_type(m.flow_png),
    )


def _admissions_public(session: Session, patient_ids: list[int]) -> dict[int, list[AdmissionPublic]]:
    counts = select(Measurement.admission_id, func.count().label("n")).group_by(Measurement.admission_id).subquery()
    rows = session.execute(
        select(Admission, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.admission_id == Admission.id)
        .where(Admission.patient_id.in_(patient_ids))
        .order_by(Admission.id)
    )
    found: dict[int, list[AdmissionPublic]] = {pid: [] for pid in patient_ids}
    for admission, count in rows:
        found[admission.patient_id].append(
            AdmissionPublic(
                id=admission.id,
                room=admission.room_number,
                admitted_at=admission.admitted_at,
                discharged_at=admission.discharged_at,
                measurement_count=count,
            )
        )
    return found


def get_patient(session: Session, *, mrn: str) -> PatientPublic:
    """A patient with every stay (room, dates, number of measurements)."""
    patient = _patient(session, mrn)
    admissions = _admissions_public(session, [patient.id])[patient.id]
    return PatientPublic(mrn=patient.mrn, name=patient.name, admissions=admissions)


def list_patients(session: Session) -> list[PatientPublic]:
    """Every patient ever admitted, with their stays."""
    patients = session.execute(select(Patient).order_by(Patient.id)).scalars().all()
    admissions = _admissions_public(session, [p.id for p in patients]) if patients else {}
    return [PatientPublic(mrn=p.mrn, name=p.name, admissions=admissions[p.id]) for p in patients]


def latest_pressures(session: Session, *, room: int) -> tuple[int | None, float | None]:
    """``(commanded cmH2O, latest measured cmH2O)`` of a room, either None when absent."""
    state = room_state(session, room=room)
    measured = state.latest_measurement.cpap_pressure_cmh2o if state.latest_measurement else None
    return state.commanded_cmh2o, measured


def room_has_patient(session: Session, *, room: int) -> bool:
    """Whether someone is admitted to ``room`` (False for an unknown room)."""
    current = session.execute(select(Room.current_admission_id).where(Room.number == room)).scalar_one_or_none()
    return current is not None


def current_patient_records(session: Session) -> list[tuple[int, str, str | None, list[tuple]]]:
    """Every room's current patient with their complete uploads, oldest first (the old clients' view).

    A *complete upload* has a CPAP pressure, a breath rate and an apnea count:
    what the old system called a record. Others (an upload without a pressure)
    are stored and shown in our dashboards, but not listed here.

    Returns
    -------
    list of (room, mrn, name, records)
        ``records``: ``(recorded_at, cpap_pressure_cmh2o, breath_rate_bpm, apnea_count, image bytes or None)``.
        Rooms without a current patient are left out; ordered by room.
    """
    complete = and_(
        Measurement.admission_id == Admission.id,
        Measurement.cpap_pressure_cmh2o.is_not(None),
        Measurement.breath_rate_bpm.is_not(None),
        Measurement.apnea_count.is_not(None),
    )
    rows = session.execute(
        select(
            Room.number,
            Patient.mrn,
            Patient.name,
            Measurement.id,
            Measurement.recorded_at,
            Measurement.cpap_pressure_cmh2o,
            Measurement.breath_rate_bpm,
            Measurement.apnea_count,
            Measurement.flow_png,
        )
        .join(Admission, Admission.id == Room.current_admission_id)
        .join(Patient, Patient.id == Admission.patient_id)
        .outerjoin(Measurement, complete)
        .order_by(Room.number, Measurement.id)
    )
    found: dict[int, tuple[int, str, str | None, list[tuple]]] = {}
    for room, mrn, name, m_id, *record in rows:
        entry = found.setdefault(room, (room, mrn, name, []))
        if m_id is not None:
            entry[3].append(tuple(record))
    return list(found.values())
