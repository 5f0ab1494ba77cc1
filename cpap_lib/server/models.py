"""The database schema: rooms, patients, admissions, measurements, events, pressure commands.

A *room* is a bed in the lab. An *admission* is one patient's stay in one room;
a different MRN uploaded to a room ends the current admission and starts a
new one, so no history is ever deleted. Each *measurement* belongs to an
admission and holds every metric as a column, a compact flow trace (float32
little-endian arrays, at most :data:`STORED_TRACE_POINTS` points) and an
optional PNG. Apnea / hypopnea intervals are rows of ``measurement_events``.
*Pressure commands* are kept per room, newest last, with who sent them, the
pressure they changed from (a night's commands are those given during its admission).
*Alarm acknowledgements* and *technician notes* (who, when, text) belong to
an admission, so each night has its own timeline.

An admission keeps running totals of its night (apneas, hypopneas, seconds
of analysed recording) so the night's AHI is one row, and the state its
alarm was last seen in (``alarm_state`` since ``alarm_since``), which an
acknowledgement refers to. All times are stored in UTC.

Two pointers keep the ward view a fixed number of primary-key joins however
long the history grows: ``rooms.current_admission_id`` /
``rooms.latest_command_id`` and ``admissions.latest_measurement_id``.

Examples
--------
>>> sorted(Base.metadata.tables)  # doctest: +NORMALIZE_WHITESPACE
['admissions', 'alarm_acknowledgements', 'audit_events', 'measurement_events', 'measurements', 'patients',
 'pressure_commands', 'rooms', 'technician_notes']
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "STORED_TRACE_POINTS",
    "Admission",
    "AlarmAcknowledgement",
    "AuditEvent",
    "Base",
    "Measurement",
    "MeasurementEvent",
    "Patient",
    "PressureCommand",
    "Room",
    "TechnicianNote",
    "as_utc",
    "utcnow",
]

STORED_TRACE_POINTS = 2000
"""Longest flow trace kept per measurement (longer uploads are decimated with MinMaxLTTB)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored timestamp (a datetime, or SQLite's text form) as timezone-aware UTC.

    >>> as_utc("2026-01-02 03:04:05.600000").isoformat()
    '2026-01-02T03:04:05.600000+00:00'
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UtcDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        return as_utc(value)


class Base(DeclarativeBase):
    pass


class Room(Base):
    __tablename__ = "rooms"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    current_admission_id: Mapped[int | None] = mapped_column(
        ForeignKey("admissions.id", use_alter=True, name="fk_rooms_current_admission")
    )
    latest_command_id: Mapped[int | None] = mapped_column(
        ForeignKey("pressure_commands.id", use_alter=True, name="fk_rooms_latest_command")
    )


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Admission(Base):
    __tablename__ = "admissions"
    __table_args__ = (Index("ix_admissions_room", "room_number", "id"), Index("ix_admissions_patient", "patient_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_number: Mapped[int] = mapped_column(ForeignKey("rooms.number"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    admitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    discharged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    latest_measurement_id: Mapped[int | None] = mapped_column(
        ForeignKey("measurements.id", use_alter=True, name="fk_admissions_latest_measurement")
    )
    night_apneas: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    night_hypopneas: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    night_recorded_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    alarm_state: Mapped[str | None] = mapped_column(String(16))
    alarm_since: Mapped[datetime | None] = mapped_column(UtcDateTime)


METRIC_COLUMNS = (
    "breath_count",
    "breath_rate_bpm",
    "apnea_count",
    "hypopnea_count",
    "apnea_index",
    "ahi",
    "severity",
    "tidal_volume_l",
    "minute_ventilation_lpm",
    "inspiratory_time_s",
    "net_volume_l",
    "leak_lpm",
    "duration_s",
    "samples",
    "fs_hz",
    "method",
    "source",
)
"""Analysis keys stored as columns of ``measurements`` (same names)."""


class Measurement(Base):
    __tablename__ = "measurements"
    __table_args__ = (
        Index("ix_measurements_admission", "admission_id", "id"),
        Index("ix_measurements_admission_recorded", "admission_id", "recorded_at"),
        Index("ux_measurements_idempotency_key", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("admissions.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cpap_pressure_cmh2o: Mapped[float | None] = mapped_column(Float)
    breath_count: Mapped[int | None] = mapped_column(Integer)
    breath_rate_bpm: Mapped[float | None] = mapped_column(Float)
    apnea_count: Mapped[int | None] = mapped_column(Integer)
    hypopnea_count: Mapped[int | None] = mapped_column(Integer)
    apnea_index: Mapped[float | None] = mapped_column(Float)
    ahi: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str | None] = mapped_column(String(16))
    tidal_volume_l: Mapped[float | None] = mapped_column(Float)
    minute_ventilation_lpm: Mapped[float | None] = mapped_column(Float)
    inspiratory_time_s: Mapped[float | None] = mapped_column(Float)
    net_volume_l: Mapped[float | None] = mapped_column(Float)
    leak_lpm: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int | None] = mapped_column(Integer)
    fs_hz: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(255))
    trace_time_s: Mapped[bytes | None] = mapped_column(LargeBinary)
    trace_flow_lps: Mapped[bytes | None] = mapped_column(LargeBinary)
    flow_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    """The client's ``Idempotency-Key`` (unique where given): a re-sent upload is not stored twice."""


class MeasurementEvent(Base):
    __tablename__ = "measurement_events"
    __table_args__ = (Index("ix_measurement_events_measurement", "measurement_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    measurement_id: Mapped[int] = mapped_column(ForeignKey("measurements.id"))
    kind: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)


class PressureCommand(Base):
    __tablename__ = "pressure_commands"
    __table_args__ = (
        Index("ix_pressure_commands_room", "room_number", "id"),
        Index("ix_pressure_commands_admission", "admission_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_number: Mapped[int] = mapped_column(ForeignKey("rooms.number"))
    cmh2o: Mapped[int] = mapped_column(Integer)
    commanded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    commanded_by: Mapped[str | None] = mapped_column(String(100))
    from_cmh2o: Mapped[float | None] = mapped_column(Float)
    admission_id: Mapped[int | None] = mapped_column(ForeignKey("admissions.id", name="fk_pressure_commands_admission"))
    """The stay the command was given for; null while it is a preset for a room without a patient
    (set when the next patient is admitted there)."""


class AlarmAcknowledgement(Base):
    """Staff saw a room's alarm: which state (and since when), who, when, a note."""

    __tablename__ = "alarm_acknowledgements"
    __table_args__ = (Index("ix_alarm_acknowledgements_admission", "admission_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("admissions.id"))
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(2000))


class TechnicianNote(Base):
    """A timestamped note about a room's night (who, when, text)."""

    __tablename__ = "technician_notes"
    __table_args__ = (Index("ix_technician_notes_admission", "admission_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    admission_id: Mapped[int] = mapped_column(ForeignKey("admissions.id"))
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(String(2000))


class AuditEvent(Base):
    """Who did what to which room, when and from where (pressure commands, acknowledgements, notes)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    room_number: Mapped[int | None] = mapped_column(Integer)
    record_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(16))
    actor_address: Mapped[str | None] = mapped_column(String(64))
