"""The typed results of :class:`~cpap_lib.client.CpapClient`: one frozen dataclass per server response.

Each has ``from_json(data)`` building it from the parsed JSON of the matching
``server/schemas.py`` model (times parsed to ``datetime``); :data:`SERVER_SCHEMAS`
names that model, and ``tests/client/test_models.py`` checks that the fields
agree, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

__all__ = [
    "Admission",
    "Health",
    "Measurement",
    "MeasurementSummary",
    "Patient",
    "PressureCommand",
    "PressurePoll",
    "Room",
    "UploadReceipt",
    "WardRoom",
    "WardState",
]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Health:
    status: str
    database: str


@dataclass(frozen=True)
class MeasurementSummary:
    """A measurement's time and headline numbers (what lists and the ward show)."""

    id: int
    recorded_at: datetime
    cpap_pressure_cmh2o: float | None = None
    breath_rate_bpm: float | None = None
    apnea_count: int | None = None
    apnea_index: float | None = None
    ahi: float | None = None
    severity: str | None = None

    @classmethod
    def from_json(cls, data: dict) -> MeasurementSummary:
        return cls(**{**data, "recorded_at": _time(data["recorded_at"])})


@dataclass(frozen=True)
class Room:
    """A room's latest state: patient, latest measurement, commanded pressure (None where absent)."""

    room: int
    mrn: str | None
    name: str | None
    admission_id: int | None
    admitted_at: datetime | None
    latest_measurement: MeasurementSummary | None
    commanded_cmh2o: int | None
    commanded_at: datetime | None

    @classmethod
    def from_json(cls, data: dict) -> Room:
        latest = data.get("latest_measurement")
        return cls(
            room=data["room"],
            mrn=data["mrn"],
            name=data["name"],
            admission_id=data["admission_id"],
            admitted_at=_time(data["admitted_at"]),
            latest_measurement=MeasurementSummary.from_json(latest) if latest else None,
            commanded_cmh2o=data["commanded_cmh2o"],
            commanded_at=_time(data["commanded_at"]),
        )


WardRoom = Room
"""One room of the ward view (same shape as :class:`Room`)."""


@dataclass(frozen=True)
class WardState:
    generated_at: datetime
    rooms: list[Room]

    @classmethod
    def from_json(cls, data: dict) -> WardState:
        return cls(generated_at=_time(data["generated_at"]), rooms=[Room.from_json(r) for r in data["rooms"]])


@dataclass(frozen=True, eq=False)
class Measurement:
    """One measurement with every stored metric, events, flow trace and image.

    ``analysis`` holds the metric columns (keys of ``Analysis.to_dict()``);
    ``time_s`` / ``flow_lps`` are float64 arrays (empty when no trace was
    uploaded); ``flow_png`` the image's bytes or None (PNG, or JPEG from the old
    clients: ``flow_image_type`` says which).
    """

    id: int
    room: int
    mrn: str
    admission_id: int
    recorded_at: datetime
    cpap_pressure_cmh2o: float | None
    analysis: dict[str, Any]
    apneas: list[tuple[float, float]]
    hypopneas: list[tuple[float, float]]
    time_s: np.ndarray = field(repr=False)
    flow_lps: np.ndarray = field(repr=False)
    flow_png: bytes | None = field(repr=False, default=None)
    flow_image_type: str | None = None

    @classmethod
    def from_json(cls, data: dict) -> Measurement:
        trace = data.get("flow_trace") or {"time_s": [], "flow_lps": []}
        png = data.get("flow_image_png_base64")
        return cls(
            id=data["id"],
            room=data["room"],
            mrn=data["mrn"],
            admission_id=data["admission_id"],
            recorded_at=_time(data["recorded_at"]),
            cpap_pressure_cmh2o=data["cpap_pressure_cmh2o"],
            analysis=dict(data["analysis"]),
            apneas=[(e["start_s"], e["end_s"]) for e in data["apneas"]],
            hypopneas=[(e["start_s"], e["end_s"]) for e in data["hypopneas"]],
            time_s=np.asarray(trace["time_s"], dtype=np.float64),
            flow_lps=np.asarray(trace["flow_lps"], dtype=np.float64),
            flow_png=base64.b64decode(png) if png else None,
            flow_image_type=data.get("flow_image_type"),
        )


@dataclass(frozen=True)
class Admission:
    """One stay of a patient in a room."""

    id: int
    room: int
    admitted_at: datetime
    discharged_at: datetime | None
    measurement_count: int

    @classmethod
    def from_json(cls, data: dict) -> Admission:
        return cls(
            id=data["id"],
            room=data["room"],
            admitted_at=_time(data["admitted_at"]),
            discharged_at=_time(data["discharged_at"]),
            measurement_count=data["measurement_count"],
        )


@dataclass(frozen=True)
class Patient:
    mrn: str
    name: str | None
    admissions: list[Admission]

    @classmethod
    def from_json(cls, data: dict) -> Patient:
        return cls(mrn=data["mrn"], name=data["name"], admissions=[Admission.from_json(a) for a in data["admissions"]])


@dataclass(frozen=True)
class PressureCommand:
    """A commanded pressure: who commanded it (token name), the pressure before, and the stay it was for
    (``admission_id`` None: a preset for the room's next patient), where known."""

    id: int
    room: int
    cmh2o: int
    commanded_at: datetime
    commanded_by: str | None = None
    from_cmh2o: float | None = None
    admission_id: int | None = None

    @classmethod
    def from_json(cls, data: dict) -> PressureCommand:
        return cls(
            id=data["id"],
            room=data["room"],
            cmh2o=data["cmh2o"],
            commanded_at=_time(data["commanded_at"]),
            commanded_by=data.get("commanded_by"),
            from_cmh2o=data.get("from_cmh2o"),
            admission_id=data.get("admission_id"),
        )


@dataclass(frozen=True)
class PressurePoll:
    """The latest commanded pressure of a room (``cmh2o`` None when none was commanded)."""

    room: int
    cmh2o: int | None
    command_id: int | None
    commanded_at: datetime | None

    @classmethod
    def from_json(cls, data: dict) -> PressurePoll:
        return cls(
            room=data["room"],
            cmh2o=data["cmh2o"],
            command_id=data["command_id"],
            commanded_at=_time(data["commanded_at"]),
        )


@dataclass(frozen=True)
class UploadReceipt:
    room: int
    mrn: str
    admission_id: int
    new_admission: bool
    measurement_id: int | None
    recorded_at: datetime | None

    @classmethod
    def from_json(cls, data: dict) -> UploadReceipt:
        return cls(**{**data, "recorded_at": _time(data["recorded_at"])})


SERVER_SCHEMAS: dict[type, tuple[str, dict[str, tuple[str, ...]]]] = {
    Health: ("Health", {}),
    MeasurementSummary: ("MeasurementSummary", {}),
    Room: ("RoomPublic", {}),
    WardState: ("WardPublic", {}),
    Measurement: ("MeasurementPublic", {"flow_trace": ("time_s", "flow_lps"), "flow_image_png_base64": ("flow_png",)}),
    Admission: ("AdmissionPublic", {}),
    Patient: ("PatientPublic", {}),
    PressureCommand: ("PressureCommandPublic", {}),
    PressurePoll: ("PressurePoll", {}),
    UploadReceipt: ("UploadReceipt", {}),
}
"""Model -> (the ``cpap_lib.server.schemas`` model it is built from, server fields it holds under other names)."""
