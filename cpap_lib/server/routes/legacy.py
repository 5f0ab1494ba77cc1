"""Compatibility routes of the old Flask CPAP server, so its clients keep working unchanged.

================================  =====================================================================
route                             answer
================================  =====================================================================
``POST /add_patient``             JSON object with ``patient_name``, ``patient_mrn``, ``room_number``,
                                  ``CPAP_pressure``, ``breath_rate``, ``apnea_count``, ``flow_image``
                                  (base64 PNG). Numbers may be numeric strings; ``""`` (or null) means
                                  "not given". ``patient_mrn`` and ``room_number`` are required.
                                  200 ``text/plain`` ``Patient successfully added``.
``GET /CPAP_query/<room>``        200 JSON number: the commanded pressure, or (before any command) the
                                  latest uploaded one; 404 when the room has neither.
``GET /new_cpap_pressure/<r>/<v>`` 200 ``text/plain`` ``CPAP pressure for room <r> set to <v>``;
                                  ``v`` an integer 4-25.
``GET /get_all_patients``         200 JSON list, one object per occupied room: ``room_number`` (int),
                                  ``patient_mrn``, ``patient_name``, ``CPAP_pressure`` (commanded, else
                                  latest uploaded), ``breath_rate``, ``apnea_count``, ``timestamp``
                                  (ISO 8601 of the latest measurement) -- null where unknown.
``GET /health``                   shared with the new API (:mod:`.health`).
================================  =====================================================================

Where the old server crashed (500) on bad input, these answer 400 with a
``text/plain`` sentence naming the key and the reason (``room_number: must be
an integer from 1 to 99999, got 'abc'``), or 404 ``room 12 not found``.
A request refused for any reason stores nothing.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ...errors import NotFoundError
from .. import crud
from ..deps import ANY_ROLE, DEVICE, STAFF, DbDep
from ..schemas import PRESSURE_MAX, PRESSURE_MIN, ROOM_MAX, ROOM_MIN, MeasurementCreate

__all__ = ["LegacyInputError", "parse_add_patient", "router"]

router = APIRouter(tags=["legacy (old clients)"])

LEGACY_KEYS = {
    "patient_mrn": "mrn",
    "patient_name": "name",
    "CPAP_pressure": "cpap_pressure_cmh2o",
    "breath_rate": "breath_rate_bpm",
    "apnea_count": "apnea_count",
    "flow_image": "flow_image_png_base64",
}
_NEW_TO_LEGACY = {new: old for old, new in LEGACY_KEYS.items()}


class LegacyInputError(ValueError):
    """Bad input to a compatibility route; the message names the old key."""


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def _number(key: str, value: Any) -> float:
    """A finite number from a JSON number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LegacyInputError(f"{key}: must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise LegacyInputError(f"{key}: must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise LegacyInputError(f"{key}: must be a finite number, got {value!r}")
    return number


def _integer(key: str, value: Any, low: int, high: int) -> int:
    number = _number(key, value) if not isinstance(value, int) or isinstance(value, bool) else value
    if number != int(number) or not low <= number <= high:
        raise LegacyInputError(f"{key}: must be an integer from {low} to {high}, got {value!r}")
    return int(number)


def parse_add_patient(payload: Any) -> tuple[int, MeasurementCreate]:
    """Turn an old ``/add_patient`` JSON payload into ``(room, MeasurementCreate)``.

    Examples
    --------
    >>> room, m = parse_add_patient({"patient_name": "", "patient_mrn": "101", "room_number": "3",
    ...                              "CPAP_pressure": "8", "breath_rate": "14.5", "apnea_count": "2",
    ...                              "flow_image": ""})
    >>> room, m.mrn, m.name, m.cpap_pressure_cmh2o, m.analysis.breath_rate_bpm, m.analysis.apnea_count
    (3, '101', None, 8.0, 14.5, 2)
    >>> parse_add_patient({"patient_mrn": 5, "room_number": "x"})
    Traceback (most recent call last):
    ...
    cpap_lib.server.routes.legacy.LegacyInputError: room_number: must be a number, got 'x'
    """
    if not isinstance(payload, dict):
        raise LegacyInputError("body: must be a JSON object")
    for key in ("patient_mrn", "room_number"):
        if not _given(payload.get(key)):
            raise LegacyInputError(f"{key}: is required")
    room = _integer("room_number", payload["room_number"], ROOM_MIN, ROOM_MAX)
    mrn = payload["patient_mrn"]
    if isinstance(mrn, bool) or not isinstance(mrn, (int, str)):
        raise LegacyInputError(f"patient_mrn: must be a number or text, got {mrn!r}")
    fields: dict[str, Any] = {"mrn": str(mrn).strip()}
    if _given(payload.get("patient_name")):
        if not isinstance(payload["patient_name"], str):
            raise LegacyInputError("patient_name: must be text")
        fields["name"] = payload["patient_name"].strip()
    if _given(payload.get("CPAP_pressure")):
        fields["cpap_pressure_cmh2o"] = _number("CPAP_pressure", payload["CPAP_pressure"])
    analysis = {}
    if _given(payload.get("breath_rate")):
        analysis["breath_rate_bpm"] = _number("breath_rate", payload["breath_rate"])
    if _given(payload.get("apnea_count")):
        analysis["apnea_count"] = _integer("apnea_count", payload["apnea_count"], 0, 1_000_000)
    if analysis:
        fields["analysis"] = analysis
    if _given(payload.get("flow_image")):
        image = payload["flow_image"]
        if not isinstance(image, str):
            raise LegacyInputError("flow_image: must be a base64 PNG string")
        fields["flow_image_png_base64"] = image.split(",", 1)[1] if image.startswith("data:") else image
    try:
        return room, MeasurementCreate(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = [str(p) for p in error["loc"]]
        key = next((_NEW_TO_LEGACY[p] for p in reversed(path) if p in _NEW_TO_LEGACY), ".".join(path))
        raise LegacyInputError(f"{key}: {error['msg']}") from None


_ADD_PATIENT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["patient_mrn", "room_number"],
        "properties": {
            "patient_name": {"type": "string"},
            "patient_mrn": {"type": ["string", "integer"]},
            "room_number": {"type": ["string", "integer"]},
            "CPAP_pressure": {"type": ["string", "number"]},
            "breath_rate": {"type": ["string", "number"]},
            "apnea_count": {"type": ["string", "integer"]},
            "flow_image": {"type": "string", "description": "base64 PNG"},
        },
    }}},
}


def _bad(message: str, status: int = 400) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status)


@router.post("/add_patient", dependencies=[DEVICE], response_class=PlainTextResponse,
             openapi_extra={"requestBody": _ADD_PATIENT_BODY},
             responses={400: {"description": "bad input (text names the key)"}})
async def add_patient(request: Request, db: DbDep) -> PlainTextResponse:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _bad("body: must be a JSON object")
    try:
        room, data = parse_add_patient(payload)
    except LegacyInputError as exc:
        return _bad(str(exc))
    await run_in_threadpool(_store_upload, db, room, data)
    return PlainTextResponse("Patient successfully added")


def _store_upload(db, room: int, data: MeasurementCreate) -> None:
    with db.write() as session:
        crud.upload(session, room=room, data=data)


def _room_number(value: str) -> int:
    return _integer("room_number", value, ROOM_MIN, ROOM_MAX)


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


@router.get("/CPAP_query/{room_number}", dependencies=[ANY_ROLE],
            responses={200: {"content": {"application/json": {"schema": {"type": "number"}}}}, 400: {}, 404: {}})
async def cpap_query(room_number: str, db: DbDep):
    # Old bedside clients poll this route: the commanded pressure comes from the fast poll lookup.
    try:
        room = _room_number(room_number)
    except LegacyInputError as exc:
        return _bad(str(exc))
    row = db.poll_row(room)
    if row is None:
        return _bad(f"room {room} not found", 404)
    if row[2] is not None:
        return JSONResponse(row[2])
    measured = await run_in_threadpool(_latest_measured_pressure, db, room)
    if measured is None:
        return _bad(f"no CPAP pressure for room {room} yet", 404)
    return JSONResponse(_plain_number(measured))


def _latest_measured_pressure(db, room: int) -> float | None:
    with db.read() as session:
        return crud.latest_pressures(session, room=room)[1]


@router.get("/new_cpap_pressure/{room_number}/{value}", dependencies=[STAFF], response_class=PlainTextResponse,
            responses={400: {}, 404: {}})
def new_cpap_pressure(room_number: str, value: str, db: DbDep) -> PlainTextResponse:
    try:
        room = _room_number(room_number)
        cmh2o = _integer("CPAP_pressure", value, PRESSURE_MIN, PRESSURE_MAX)
    except LegacyInputError as exc:
        return _bad(str(exc))
    try:
        with db.write() as session:
            crud.command_pressure(session, room=room, cmh2o=cmh2o)
    except NotFoundError as exc:
        return _bad(exc.message, 404)
    return PlainTextResponse(f"CPAP pressure for room {room} set to {cmh2o}")


@router.get("/get_all_patients", dependencies=[STAFF])
def get_all_patients(db: DbDep) -> list[dict]:
    with db.read() as session:
        rooms = crud.ward(session)
    answer = []
    for state in rooms:
        if state.mrn is None:
            continue
        latest = state.latest_measurement
        measured = latest.cpap_pressure_cmh2o if latest else None
        pressure = state.commanded_cmh2o if state.commanded_cmh2o is not None else measured
        answer.append({
            "room_number": state.room,
            "patient_mrn": state.mrn,
            "patient_name": state.name,
            "CPAP_pressure": None if pressure is None else _plain_number(pressure),
            "breath_rate": latest.breath_rate_bpm if latest else None,
            "apnea_count": latest.apnea_count if latest else None,
            "timestamp": latest.recorded_at.isoformat().replace("+00:00", "Z") if latest else None,
        })
    return answer
