"""Database operations for the night: alarm board, acknowledgements, technician notes, timeline.

Keyword-only functions on an open session, like :mod:`.crud`. The alarm
board costs a fixed number of queries whatever the night's length: the
rolling 30/60-minute AHI is one grouped query over the rows of the window
(index ``measurements(admission_id, recorded_at)``), the night's AHI comes
from the admission's running totals, the latest acknowledgement from the
index ``alarm_acknowledgements(admission_id, id)``.

A room's *alarm state* and the time it began are recorded on its admission
when the board (or an acknowledgement) first sees it change; an
acknowledgement names that state and time, so it holds only while they do.

Examples
--------
>>> from datetime import timedelta
>>> from cpap_lib.server.db import Database
>>> from cpap_lib.server import crud
>>> from cpap_lib.server.schemas import MeasurementCreate
>>> from cpap_lib.server.models import utcnow
>>> db = Database("sqlite://")
>>> analysis = {"apnea_count": 2, "hypopnea_count": 1, "duration_s": 300.0, "leak_lpm": 3.0}
>>> with db.write() as s:
...     _ = crud.upload(s, room=7, data=MeasurementCreate(mrn="N1", cpap_pressure_cmh2o=8, analysis=analysis))
>>> rules = AlarmRules()
>>> with db.write() as s:
...     room = alarm_board(s, rules=rules)[0]
>>> room.alarm.state, room.alarm.ahi_30min, room.alarm.ahi_night
('ahi_high', 36.0, 36.0)
>>> with db.write() as s:
...     ack = acknowledge(s, room=7, by="nurse-a", note="mask refitted", rules=rules)
...     room = alarm_board(s, rules=rules)[0]
>>> room.alarm.acknowledged.acknowledged_by, room.alarm.acknowledged.note
('nurse-a', 'mask refitted')
>>> with db.write() as s:  # 11 minutes later nothing came: another state, the acknowledgement no longer holds
...     room = alarm_board(s, rules=rules, now=utcnow() + timedelta(minutes=11))[0]
>>> room.alarm.state, room.alarm.alarms, room.alarm.acknowledged
('no_data', ['no_data', 'ahi_high'], None)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, and_, case, func, select
from sqlalchemy.orm import Session

from ..errors import CpapError
from .alarms import AlarmRules, RoomFacts, active_alarms, describe, loudness, state_of
from .crud import room_not_found, ward
from .models import Admission, AlarmAcknowledgement, Measurement, Patient, PressureCommand, Room, TechnicianNote, utcnow
from .schemas import (
    AcknowledgementPublic,
    AlarmRulesPublic,
    AlarmState,
    BoardRoomPublic,
    NightTimeline,
    NotePublic,
    RoomAlarm,
    TimelineCommand,
    TimelineMeasurement,
)

__all__ = [
    "NightConflict",
    "acknowledge",
    "board_order",
    "who",
    "add_note",
    "alarm_board",
    "list_notes",
    "night_timeline",
    "rules_public",
]

WINDOWS_MIN = (30, 60)
"""The rolling windows every tile shows, minutes."""


class NightConflict(CpapError):
    """The room has no patient admitted, or no alarm to acknowledge (the API answers 409 with the message)."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def who(token_name: str, person: str | None) -> str:
    """Who did it, as stored: the token's name, with the person typed on the page when given.

    >>> who("nurse-a", None), who("staff-1ec1c26b", "Ann B."), who("anonymous", "Ann B.")
    ('nurse-a', 'Ann B. (staff-1ec1c26b)', 'Ann B.')
    """
    person = (person or "").strip()
    if not person:
        return token_name
    return person if token_name == "anonymous" else f"{person} ({token_name})"[:100]


def rules_public(rules: AlarmRules) -> AlarmRulesPublic:
    """The rules as the API shows them."""
    return AlarmRulesPublic.model_validate(rules.as_dict())


def _ahi(events: float | None, seconds: float | None) -> float | None:
    """AHI: events per hour of analysed recording (None without recording)."""
    if not seconds or events is None:
        return None
    return round(3600.0 * float(events) / float(seconds), 1)


def _window_sums(session: Session, admission_ids: list[int], now: datetime, rules: AlarmRules) -> dict[int, dict]:
    """Per admission: events and recorded seconds in each window, and the apnea run look-back."""
    if not admission_ids:
        return {}
    windows = {f"w{m}": now - timedelta(minutes=m) for m in WINDOWS_MIN}
    windows["rule"] = now - timedelta(minutes=rules.ahi_window_min)
    start = min(windows.values())
    scored = and_(Measurement.apnea_count.is_not(None), Measurement.duration_s.is_not(None))
    events = Measurement.apnea_count + func.coalesce(Measurement.hypopnea_count, 0)
    columns: list[Any] = [Measurement.admission_id]
    for key, since in windows.items():
        inside = and_(scored, Measurement.recorded_at >= since)
        columns.append(func.sum(case((inside, events), else_=None)).label(f"{key}_events"))
        columns.append(func.sum(case((inside, Measurement.duration_s), else_=None)).label(f"{key}_s"))
    query = (
        select(*columns)
        .where(Measurement.admission_id.in_(admission_ids), Measurement.recorded_at >= start)
        .group_by(Measurement.admission_id)
    )
    found: dict[int, dict] = {a: {} for a in admission_ids}
    for row in session.execute(query).mappings():
        found[row["admission_id"]] = dict(row)
    # apnea run: the latest uploads in the look-back, newest first
    numbered = (
        select(
            Measurement.admission_id,
            Measurement.apnea_count,
            func.row_number().over(partition_by=Measurement.admission_id, order_by=Measurement.id.desc()).label("rn"),
        )
        .where(Measurement.admission_id.in_(admission_ids), Measurement.recorded_at >= start)
        .subquery()
    )
    runs = session.execute(
        select(
            numbered.c.admission_id,
            func.count(),
            func.sum(case((numbered.c.apnea_count >= 1, 1), else_=0)).cast(Integer),
        )
        .where(numbered.c.rn <= rules.apnea_run_uploads)
        .group_by(numbered.c.admission_id)
    )
    for admission_id, uploads, with_apneas in runs:
        found[admission_id]["run_uploads"] = uploads
        found[admission_id]["run_with_apneas"] = with_apneas or 0
    return found


def _board_rows(session: Session, room: int | None = None):
    latest_ack = (
        select(func.max(AlarmAcknowledgement.id))
        .where(AlarmAcknowledgement.admission_id == Admission.id)
        .correlate(Admission)
        .scalar_subquery()
    )
    query = (
        select(Room.number, Admission, Measurement.recorded_at, Measurement.leak_lpm, AlarmAcknowledgement)
        .outerjoin(Admission, Admission.id == Room.current_admission_id)
        .outerjoin(Measurement, Measurement.id == Admission.latest_measurement_id)
        .outerjoin(AlarmAcknowledgement, AlarmAcknowledgement.id == latest_ack)
        .order_by(Room.number)
    )
    if room is not None:
        query = query.where(Room.number == room)
    return session.execute(query).all()


def _ack_public(ack: AlarmAcknowledgement, room: int) -> AcknowledgementPublic:
    return AcknowledgementPublic(
        id=ack.id,
        room=room,
        admission_id=ack.admission_id,
        state=cast(AlarmState, ack.state),
        state_since=ack.state_since,
        acknowledged_by=ack.acknowledged_by,
        acknowledged_at=ack.acknowledged_at,
        note=ack.note,
    )


def _evaluate(session: Session, *, rules: AlarmRules, now: datetime, room: int | None = None) -> list[tuple]:
    """``(room, admission or None, RoomAlarm)`` per room; records state changes on the admissions."""
    rows = _board_rows(session, room)
    sums = _window_sums(session, [r[1].id for r in rows if r[1] is not None], now, rules)
    evaluated = []
    for number, admission, last_at, leak, ack in rows:
        if admission is None:
            alarm = RoomAlarm(
                state="empty",
                alarms=[],
                since=None,
                detail=describe("empty", RoomFacts(False), rules),
                acknowledged=None,
                ahi_30min=None,
                ahi_60min=None,
                ahi_night=None,
                minutes_since_data=None,
                leak_lpm=None,
                last_data_at=None,
            )
            evaluated.append((number, None, alarm))
            continue
        s = sums.get(admission.id, {})
        reference = last_at or admission.admitted_at
        minutes = max(0.0, (now - reference).total_seconds() / 60.0)
        facts = RoomFacts(
            admitted=True,
            minutes_since_data=minutes,
            ahi_window=_ahi(s.get("rule_events"), s.get("rule_s")),
            window_recorded_min=(s.get("rule_s") or 0.0) / 60.0,
            recent_uploads_with_apneas=s.get("run_with_apneas", 0),
            recent_uploads=s.get("run_uploads", 0),
            leak_lpm=leak,
        )
        alarms = active_alarms(facts, rules)
        state = state_of(alarms)
        if admission.alarm_state != state:
            admission.alarm_state, admission.alarm_since = state, now
        acknowledged = None
        if ack is not None and ack.state == state and ack.state_since == admission.alarm_since:
            acknowledged = _ack_public(ack, number)
        alarm = RoomAlarm(
            state=state,
            alarms=list(alarms),
            since=admission.alarm_since,
            detail=describe(state, facts, rules),
            acknowledged=acknowledged,
            ahi_30min=_ahi(s.get("w30_events"), s.get("w30_s")),
            ahi_60min=_ahi(s.get("w60_events"), s.get("w60_s")),
            ahi_night=_ahi(
                (admission.night_apneas or 0) + (admission.night_hypopneas or 0), admission.night_recorded_s
            ),
            minutes_since_data=round(minutes, 1),
            leak_lpm=leak,
            last_data_at=last_at,
        )
        evaluated.append((number, admission, alarm))
    return evaluated


def board_order(room: BoardRoomPublic) -> tuple:
    """Sort key of the board: unacknowledged alarms (loudest first), acknowledged alarms, ok, empty; then room.

    A state's loudness is :func:`~.alarms.loudness`; within one state the
    longest-standing comes first.
    """
    alarm = room.alarm
    is_alarm = alarm.state not in ("ok", "empty")
    group = 0 if is_alarm and alarm.acknowledged is None else (1 if is_alarm else 2)
    since = alarm.since.timestamp() if alarm.since is not None and is_alarm else 0.0
    return group, loudness(alarm.state), since, room.room


def alarm_board(session: Session, *, rules: AlarmRules, now: datetime | None = None) -> list[BoardRoomPublic]:
    """Every room with its alarm, sorted by :func:`board_order`. Needs a write session (state changes are recorded)."""
    now = now or utcnow()
    alarms = {number: alarm for number, _admission, alarm in _evaluate(session, rules=rules, now=now)}
    rooms = [BoardRoomPublic(**state.model_dump(), alarm=alarms[state.room]) for state in ward(session)]
    return sorted(rooms, key=board_order)


def acknowledge(
    session: Session, *, room: int, by: str, note: str | None, rules: AlarmRules, now: datetime | None = None
) -> AcknowledgementPublic:
    """Acknowledge the room's current alarm (who, note); :class:`NightConflict` if it has none."""
    now = now or utcnow()
    evaluated = _evaluate(session, rules=rules, now=now, room=room)
    if not evaluated:
        raise room_not_found(room)
    _number, admission, alarm = evaluated[0]
    if admission is None:
        raise NightConflict(f"room {room} has no patient admitted")
    if alarm.state == "ok":
        raise NightConflict(f"room {room} has no alarm to acknowledge")
    session.flush()
    ack = AlarmAcknowledgement(
        admission_id=admission.id,
        state=alarm.state,
        state_since=admission.alarm_since,
        acknowledged_by=by,
        acknowledged_at=now,
        note=note,
    )
    session.add(ack)
    session.flush()
    return _ack_public(ack, room)


def _current_admission(session: Session, room: int) -> Admission:
    room_row = session.get(Room, room)
    if room_row is None:
        raise room_not_found(room)
    if room_row.current_admission_id is None:
        raise NightConflict(f"room {room} has no patient admitted")
    return session.get(Admission, room_row.current_admission_id)


def _note_public(note: TechnicianNote, room: int) -> NotePublic:
    return NotePublic(
        id=note.id,
        room=room,
        admission_id=note.admission_id,
        author=note.author,
        created_at=note.created_at,
        text=note.text,
    )


def add_note(session: Session, *, room: int, by: str, text: str, now: datetime | None = None) -> NotePublic:
    """A technician's note on the current admission of ``room``."""
    admission = _current_admission(session, room)
    note = TechnicianNote(admission_id=admission.id, author=by, created_at=now or utcnow(), text=text)
    session.add(note)
    session.flush()
    return _note_public(note, room)


def list_notes(session: Session, *, room: int) -> list[NotePublic]:
    """Notes of the room's current admission, oldest first (empty without a patient)."""
    room_row = session.get(Room, room)
    if room_row is None:
        raise room_not_found(room)
    if room_row.current_admission_id is None:
        return []
    admission = session.get(Admission, room_row.current_admission_id)
    notes = session.execute(
        select(TechnicianNote).where(TechnicianNote.admission_id == admission.id).order_by(TechnicianNote.id)
    ).scalars()
    return [_note_public(n, room) for n in notes]


_TIMELINE_FIELDS = tuple(f for f in TimelineMeasurement.model_fields)


def _night_commands(session: Session, *, room: int, admission: Admission) -> list[TimelineCommand]:
    """The admission's pressure commands, oldest first, after the one in effect when it began.

    The pressure in effect at admission is the room's latest command given
    before it (a preset for the empty room, tied to this admission, or the
    room's last command, which its poll still answers): it comes first,
    marked ``before_admission``, so the night's titration starts at the
    pressure the night began with.
    """
    in_room = PressureCommand.room_number == room
    window = [in_room, PressureCommand.commanded_at >= admission.admitted_at]
    if admission.discharged_at is not None:
        window.append(PressureCommand.commanded_at <= admission.discharged_at)
    in_effect = session.execute(
        select(PressureCommand)
        .where(in_room, PressureCommand.commanded_at < admission.admitted_at)
        .order_by(PressureCommand.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    rows = [in_effect] if in_effect is not None else []
    rows += session.execute(select(PressureCommand).where(*window).order_by(PressureCommand.id)).scalars().all()
    return [
        TimelineCommand(
            id=c.id,
            commanded_at=c.commanded_at,
            commanded_by=c.commanded_by,
            from_cmh2o=c.from_cmh2o,
            to_cmh2o=c.cmh2o,
            before_admission=c is in_effect,
        )
        for c in rows
    ]


def night_timeline(session: Session, *, room: int) -> NightTimeline:
    """The current admission's commands, uploads, notes and acknowledgements, oldest first.

    The commands begin with the one in effect when the admission began (see :func:`_night_commands`).
    """
    room_row = session.get(Room, room)
    if room_row is None:
        raise room_not_found(room)
    if room_row.current_admission_id is None:
        return NightTimeline(
            room=room,
            mrn=None,
            name=None,
            admission_id=None,
            admitted_at=None,
            commands=[],
            measurements=[],
            notes=[],
            acknowledgements=[],
        )
    admission = session.get(Admission, room_row.current_admission_id)
    patient = session.get(Patient, admission.patient_id)
    commands = _night_commands(session, room=room, admission=admission)
    rows = session.execute(
        select(*(getattr(Measurement, f) for f in _TIMELINE_FIELDS))
        .where(Measurement.admission_id == admission.id)
        .order_by(Measurement.id)
    )
    measurements = [TimelineMeasurement.model_construct(**dict(zip(_TIMELINE_FIELDS, r))) for r in rows]
    acks = session.execute(
        select(AlarmAcknowledgement)
        .where(AlarmAcknowledgement.admission_id == admission.id)
        .order_by(AlarmAcknowledgement.id)
    ).scalars()
    return NightTimeline(
        room=room,
        mrn=patient.mrn,
        name=patient.name,
        admission_id=admission.id,
        admitted_at=admission.admitted_at,
        commands=commands,
        measurements=measurements,
        notes=list_notes(session, room=room),
        acknowledgements=[_ack_public(a, room) for a in acks],
    )
