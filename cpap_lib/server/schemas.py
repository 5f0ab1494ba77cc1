"""Request and response bodies of the versioned API (pydantic), one family per resource.

Every range below is enforced on input; a value outside it is answered 422
with the field and the allowed range (FastAPI's standard error body).

Examples
--------
>>> m = MeasurementCreate(mrn="A123", cpap_pressure_cmh2o=8,
...                       analysis={"breath_rate_bpm": 14.2, "apnea_count": 3, "source": "x.txt"})
>>> m.analysis.breath_rate_bpm, m.analysis.apnea_count
(14.2, 3)
>>> PressureCommandCreate(cmh2o=30)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for PressureCommandCreate
cmh2o
  Input should be less than or equal to 25 ...
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..images import IMAGE_FORMATS, image_format
from ..limits import (
    MRN_MAX_LENGTH,
    MRN_PATTERN,
    PRESSURE_MAX_CMH2O,
    PRESSURE_MIN_CMH2O,
    ROOM_MAX,
    ROOM_MIN,
)

__all__ = [
    "MAX_IMAGE_BASE64_CHARS",
    "MAX_TRACE_POINTS",
    "PNG_SIGNATURE",
    "PRESSURE_MAX",
    "PRESSURE_MIN",
    "ROOM_MAX",
    "ROOM_MIN",
    "AdmissionCreate",
    "AdmissionPublic",
    "AnalysisIn",
    "FlowTrace",
    "Health",
    "Interval",
    "MeasurementCreate",
    "MeasurementPublic",
    "MeasurementSummary",
    "Mrn",
    "PatientName",
    "PatientPublic",
    "PressureCommandCreate",
    "PressureCommandPublic",
    "PressurePoll",
    "RoomPatient",
    "RoomPublic",
    "UploadReceipt",
    "WardPublic",
    "decode_image_base64",
    "decode_png_base64",
    # the night: alarms, notes, timeline
    "AcknowledgementCreate",
    "AcknowledgementPublic",
    "AlarmBoardPublic",
    "AlarmRulesPublic",
    "BoardRoomPublic",
    "NightTimeline",
    "NoteCreate",
    "NotePublic",
    "RoomAlarm",
    "TimelineCommand",
    "TimelineMeasurement",
]

PRESSURE_MIN, PRESSURE_MAX = PRESSURE_MIN_CMH2O, PRESSURE_MAX_CMH2O
MAX_TRACE_POINTS = 5000
MAX_EVENTS = 20_000
PNG_SIGNATURE = IMAGE_FORMATS["png"]
MAX_IMAGE_BASE64_CHARS = 6_000_000
"""Longest accepted base64 image (about 4.5 MB of image)."""

Mrn = Annotated[str, Field(min_length=1, max_length=MRN_MAX_LENGTH, pattern=MRN_PATTERN)]
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
PatientName = Annotated[str, Field(min_length=1, max_length=100, pattern=_PRINTABLE)]
_FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Interval(BaseModel):
    """One apnea or hypopnea, in the recording's time base (s)."""

    model_config = ConfigDict(extra="ignore")
    start_s: Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False)]
    end_s: Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end_s < self.start_s:
            raise ValueError("end_s must not be before start_s")
        return self


class AnalysisIn(BaseModel):
    """The metrics of ``Analysis.to_dict()``; unknown keys are ignored, missing ones stored as null."""

    model_config = ConfigDict(extra="ignore")
    breath_count: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    breath_rate_bpm: Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)] | None = None
    apnea_count: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    hypopnea_count: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    apnea_index: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] | None = None
    ahi: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] | None = None
    severity: Literal["normal", "mild", "moderate", "severe"] | None = None
    tidal_volume_l: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
    minute_ventilation_lpm: Annotated[float, Field(ge=0, le=500, allow_inf_nan=False)] | None = None
    inspiratory_time_s: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False)] | None = None
    net_volume_l: Annotated[float, Field(ge=-1e7, le=1e7, allow_inf_nan=False)] | None = None
    leak_lpm: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)] | None = None
    duration_s: Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False)] | None = None
    samples: Annotated[int, Field(ge=0, le=2_000_000_000)] | None = None
    fs_hz: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)] | None = None
    method: Literal["amplitude", "gap"] | None = None
    source: Annotated[str, Field(max_length=255, pattern=_PRINTABLE)] | None = None
    apneas: Annotated[list[Interval], Field(max_length=MAX_EVENTS)] = []
    hypopneas: Annotated[list[Interval], Field(max_length=MAX_EVENTS)] = []


class FlowTrace(BaseModel):
    """A (decimated) flow trace: time (s, non-decreasing) and flow (L/s), equal lengths."""

    time_s: Annotated[list[_FiniteFloat], Field(min_length=2, max_length=MAX_TRACE_POINTS)]
    flow_lps: Annotated[
        list[Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]],
        Field(min_length=2, max_length=MAX_TRACE_POINTS),
    ]

    @model_validator(mode="after")
    def _consistent(self) -> FlowTrace:
        if len(self.time_s) != len(self.flow_lps):
            raise ValueError(f"time_s has {len(self.time_s)} points but flow_lps has {len(self.flow_lps)}")
        if np.any(np.diff(np.asarray(self.time_s, dtype=np.float64)) < 0):
            raise ValueError("time_s must be non-decreasing")
        return self


class AdmissionCreate(BaseModel):
    """Register (or rename) the patient in a room without a measurement."""

    mrn: Mrn
    name: PatientName | None = None


class MeasurementCreate(AdmissionCreate):
    """One upload from a bedside station: who, the CPAP pressure, the analysis, the flow."""

    cpap_pressure_cmh2o: Annotated[float, Field(ge=0, le=40, allow_inf_nan=False)] | None = None
    analysis: AnalysisIn | None = None
    flow_trace: FlowTrace | None = None
    flow_image_png_base64: Annotated[str, Field(max_length=MAX_IMAGE_BASE64_CHARS)] | None = None

    @field_validator("flow_image_png_base64")
    @classmethod
    def _png(cls, value: str | None) -> str | None:
        if value is not None:
            decode_png_base64(value)
        return value


def decode_image_base64(value: str, formats: tuple[str, ...] = ("png", "jpeg")) -> bytes:
    """Decode a base64 image whose magic bytes are one of ``formats``; a ValueError says why not.

    >>> decode_image_base64(base64.b64encode(b"\\xff\\xd8\\xff\\xe0rest").decode())[:3]
    b'\\xff\\xd8\\xff'
    >>> decode_image_base64("aGVsbG8=")
    Traceback (most recent call last):
    ...
    ValueError: not a PNG or JPEG image (unknown signature)
    """
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if image_format(data) not in formats:
        raise ValueError(
            f"not a {' or '.join(f.upper() for f in formats)} image "
            f"({'wrong' if len(formats) == 1 else 'unknown'} signature)"
        )
    return data


def decode_png_base64(value: str) -> bytes:
    """Decode a base64 PNG; a ValueError says why it is not one.

    >>> decode_png_base64(base64.b64encode(PNG_SIGNATURE + b"rest").decode())[:4]
    b'\\x89PNG'
    >>> decode_png_base64("aGVsbG8=")
    Traceback (most recent call last):
    ...
    ValueError: not a PNG image (wrong signature)
    """
    return decode_image_base64(value, ("png",))


class UploadReceipt(BaseModel):
    room: int
    mrn: str
    admission_id: int
    new_admission: bool
    measurement_id: int | None
    recorded_at: datetime | None


class MeasurementSummary(BaseModel):
    id: int
    recorded_at: datetime
    cpap_pressure_cmh2o: float | None = None
    breath_rate_bpm: float | None = None
    apnea_count: int | None = None
    apnea_index: float | None = None
    ahi: float | None = None
    severity: str | None = None


class MeasurementPublic(BaseModel):
    id: int
    room: int
    mrn: str
    admission_id: int
    recorded_at: datetime
    cpap_pressure_cmh2o: float | None
    analysis: dict[str, float | int | str | None]
    apneas: list[Interval]
    hypopneas: list[Interval]
    flow_trace: FlowTrace | None
    flow_image_png_base64: str | None = Field(
        description="the uploaded flow image, base64, as it was sent: PNG, or JPEG from the old clients "
        "(see flow_image_type)"
    )
    flow_image_type: Literal["image/png", "image/jpeg"] | None = Field(
        None, description="the image's type, read from its magic bytes"
    )


class PressureCommandCreate(BaseModel):
    cmh2o: Annotated[int, Field(ge=PRESSURE_MIN, le=PRESSURE_MAX, strict=True)]


class PressureCommandPublic(BaseModel):
    id: int
    room: int
    cmh2o: int
    commanded_at: datetime
    commanded_by: str | None = None
    from_cmh2o: float | None = None
    admission_id: int | None = Field(
        None, description="the stay the command was given for; null: a preset for the room's next patient"
    )


class PressurePoll(BaseModel):
    """What a bedside station polls: the latest commanded pressure, or nulls if none yet."""

    room: int
    cmh2o: int | None
    command_id: int | None
    commanded_at: datetime | None


class RoomPublic(BaseModel):
    """A room's latest state (also one entry of the ward view)."""

    room: int
    mrn: str | None
    name: str | None
    admission_id: int | None
    admitted_at: datetime | None
    latest_measurement: MeasurementSummary | None
    commanded_cmh2o: int | None
    commanded_at: datetime | None


class RoomPatient(BaseModel):
    """The patient admitted to a room now (nulls when nobody); ``admitted_at`` UTC."""

    room: int
    mrn: str | None
    name: str | None
    admitted_at: datetime | None


class WardPublic(BaseModel):
    generated_at: datetime
    rooms: list[RoomPublic]


class AdmissionPublic(BaseModel):
    id: int
    room: int
    admitted_at: datetime
    discharged_at: datetime | None
    measurement_count: int


class PatientPublic(BaseModel):
    mrn: str
    name: str | None
    admissions: list[AdmissionPublic]


class Health(BaseModel):
    status: Literal["ok"]
    database: str


# ---------------------------------------------------------------- the night: alarms, notes, timeline
# Every datetime the API returns is UTC (ISO 8601); clients show it in the lab's zone (cpap_lib.clock).

NoteText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$",
        description="Plain text (newlines allowed); shown escaped",
    ),
]

AlarmState = Literal["no_data", "ahi_high", "apnea_run", "high_leak", "ok", "empty"]


class AlarmRulesPublic(BaseModel):
    """The thresholds the alarm states are computed with (``CPAP_ALARM_*``; see GET /api/v1/alarms/rules)."""

    no_data_min: float = Field(description="no_data: nothing uploaded for this many minutes (the loudest alarm)")
    ahi_window_min: float = Field(description="ahi_high: the rolling window, minutes")
    ahi_threshold: float = Field(description="ahi_high: AHI (events/h of analysed recording) at or above this")
    ahi_min_recorded_min: float = Field(
        description="ahi_high: needs at least this many minutes of recording in the window"
    )
    apnea_run_uploads: int = Field(description="apnea_run: this many latest uploads in a row each scored an apnea")
    leak_lpm: float = Field(description="high_leak: latest upload's mean leak at or above this, L/min")


PersonName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        pattern=_PRINTABLE,
        description="the person at the screen (recorded beside the token's name)",
    ),
]


class AcknowledgementCreate(BaseModel):
    note: NoteText | None = None
    by: PersonName | None = None


class AcknowledgementPublic(BaseModel):
    """Staff acknowledged a room's alarm: the state (since when), who, when (UTC), a note."""

    id: int
    room: int
    admission_id: int
    state: AlarmState
    state_since: datetime
    acknowledged_by: str
    acknowledged_at: datetime
    note: str | None


class RoomAlarm(BaseModel):
    """A room's alarm state and the numbers behind it (see :mod:`cpap_lib.server.alarms`)."""

    state: AlarmState = Field(
        description="the loudest rule that holds: no_data > ahi_high > apnea_run > high_leak > ok > empty"
    )
    alarms: list[AlarmState] = Field(description="every alarm that holds, loudest first")
    since: datetime | None = Field(description="when the room entered this state (UTC), as first seen by the server")
    detail: str = Field(description="one sentence: what holds, against which threshold")
    acknowledged: AcknowledgementPublic | None = Field(
        description="the acknowledgement of this very state (null once the state changed)"
    )
    ahi_30min: float | None = Field(description="AHI over the uploads received in the last 30 minutes")
    ahi_60min: float | None = Field(description="AHI over the uploads received in the last 60 minutes")
    ahi_night: float | None = Field(description="AHI over the admission's uploads")
    minutes_since_data: float | None = Field(description="since the latest upload (since admission without one)")
    leak_lpm: float | None = Field(description="mean leak of the latest upload, when known")
    last_data_at: datetime | None


class BoardRoomPublic(RoomPublic):
    """A room of the alarm board: its latest state and its alarm."""

    alarm: RoomAlarm


class AlarmBoardPublic(BaseModel):
    """Every room, sorted for a nurse: unacknowledged alarms loudest first, then acknowledged ones, then ok, then empty."""

    generated_at: datetime
    rules: AlarmRulesPublic
    rooms: list[BoardRoomPublic]


class NoteCreate(BaseModel):
    text: NoteText
    by: PersonName | None = None


class NotePublic(BaseModel):
    """A technician's note about the room's night (UTC time)."""

    id: int
    room: int
    admission_id: int
    author: str
    created_at: datetime
    text: str


class TimelineCommand(BaseModel):
    """A pressure command: when (UTC), who, from (previous command, else the latest measured pressure) and to."""

    id: int
    commanded_at: datetime
    commanded_by: str | None
    from_cmh2o: float | None
    to_cmh2o: int
    before_admission: bool = Field(
        default=False,
        description="commanded before the admission began: the pressure in effect when it began (a preset for "
        "the empty room, or the room's last command), the night's first step",
    )


class TimelineMeasurement(MeasurementSummary):
    """An upload's headline numbers (received at ``recorded_at``, UTC; its recording lasted ``duration_s``)."""

    hypopnea_count: int | None = None
    duration_s: float | None = None
    leak_lpm: float | None = None


class NightTimeline(BaseModel):
    """The current admission's night: every pressure command, upload, note and acknowledgement, oldest first."""

    room: int
    mrn: str | None
    name: str | None
    admission_id: int | None
    admitted_at: datetime | None
    time_zone: Literal["UTC"] = Field(default="UTC", description="every time in this response is UTC")
    commands: list[TimelineCommand]
    measurements: list[TimelineMeasurement]
    notes: list[NotePublic]
    acknowledgements: list[AcknowledgementPublic]
