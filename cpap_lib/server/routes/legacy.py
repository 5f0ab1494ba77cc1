"""The old Flask server's routes, answering what it answered, so its clients work unchanged.

The oracle is the original system in ``../shared/reference_system`` (its
``server.py`` and the Tk / Streamlit clients); ``tests/legacy`` sends both
servers the same old-client requests and compares the answers byte for byte.

=================================  ===================================================================
request (as the old clients send)  answer (as the old server answered)
=================================  ===================================================================
``POST /add_patient``              JSON object with ``patient_mrn``, ``room_number``, ``patient_name``,
                                   ``CPAP_pressure``, ``breath_rate``, ``apnea_count``, ``flow_image``
                                   (base64 JPEG, PNG, or ``""``); ``""`` means "not given", numbers may
                                   be numeric strings. 200 ``"New patient created"`` or ``"Patient
                                   successfully updated"`` (a JSON string and a newline, as Flask's
                                   ``jsonify``).
``GET /CPAP_query/<room>``         200 ``12\\n``: the pressure commanded for the room (JSON number);
                                   400 ``"Patient not in database"`` while nobody is in the room.
``GET /new_cpap_pressure/<r>/<v>`` 200 ``text/html`` ``Room number 31 CPAP pressure updated to 12``,
                                   also for a room nobody is in yet (a preset, applied when the
                                   patient arrives); 400 ``Bad value for room number or new value``.
                                   Stored with who sent it (:func:`legacy_commander`).
``GET /get_all_patients``          200 JSON list ordered by room, one object per current patient:
                                   ``room_number`` and ``patient_mrn`` ints, ``patient_name``
                                   (``"Not provided"`` when none), and one list entry per complete
                                   upload in ``CPAP_pressure`` (ints), ``breath_rate`` (floats),
                                   ``apnea_count`` (ints), ``flow_image`` (base64 as sent, ``""`` for
                                   none) and ``timestamp`` (local clock time ``YYYY-MM-DD HH:MM:SS``).
                                   Keys sorted, compact, ASCII, a trailing newline (Flask's ``jsonify``).
=================================  ===================================================================

Where the old server answered 400 we answer the same status and body. Where
it crashed (500: an empty room number, a poll before any command, a room that
is not a number ...) or stored nonsense (a pressure of 30, a negative room, a
breath rate of NaN, an image that is not an image), we answer 400 or 404 with a
sentence naming the key and the reason, in the route's own format, which the
old clients show as they showed the old server's messages; a refused request
stores nothing. Every such difference is listed in the README ("Old clients").
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ...clock import as_utc, to_lab_time
from .. import crud
from ..deps import LEGACY_DEVICE, LEGACY_POLL, STAFF, Actor, ActorDep, DbDep, database_of
from ..schemas import (
    MAX_IMAGE_BASE64_CHARS,
    PRESSURE_MAX,
    PRESSURE_MIN,
    ROOM_MAX,
    ROOM_MIN,
    AnalysisIn,
    MeasurementCreate,
    decode_image_base64,
)

__all__ = [
    "OLD_KEYS",
    "LegacyInputError",
    "LegacyUpload",
    "flask_json",
    "legacy_commander",
    "old_server_refusal",
    "parse_add_patient",
    "router",
]

router = APIRouter(tags=["legacy (old clients)"])

OLD_KEYS = (
    ("patient_mrn", int),
    ("room_number", int),
    ("patient_name", str),
    ("CPAP_pressure", int),
    ("breath_rate", float),
    ("apnea_count", int),
    ("flow_image", str),
)
"""The old ``/add_patient`` keys, in the order and with the types its validation checked them."""
MRN_MAX = 10**32 - 1
APNEA_MAX = 1_000_000
BREATH_RATE_MAX = 200
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class LegacyInputError(ValueError):
    """Bad input to an old route; the message is what the old client shows."""


def flask_json(value: Any) -> bytes:
    """``value`` encoded exactly as Flask's ``jsonify`` does: sorted keys, compact, ASCII, a newline.

    >>> flask_json(12), flask_json("Patient not in database")
    (b'12\\n', b'"Patient not in database"\\n')
    >>> flask_json([{"room_number": 3, "CPAP_pressure": [8], "patient_name": "Zoe"}])
    b'[{"CPAP_pressure":[8],"patient_name":"Zoe","room_number":3}]\\n'
    """
    return (json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False) + "\n").encode(
        "ascii"
    )


class FlaskJSONResponse(Response):
    """A JSON response with Flask's ``jsonify`` bytes (see :func:`flask_json`)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return flask_json(content)


def _empty(value: Any) -> bool:
    return isinstance(value, str) and value == ""


def old_server_refusal(payload: Any) -> str | None:
    """The 400 message the old server answered for this ``/add_patient`` payload, or None.

    Its validation, reimplemented: the payload must be an object with every
    key of :data:`OLD_KEYS`; ``""`` is skipped; an int key must be an int or a
    string ``str.isnumeric`` accepts, the float key anything ``float()``
    converts, a text key a string. The first failing key is named. (Payloads
    it let through and then crashed on or stored as nonsense are refused by
    :func:`parse_add_patient` with our own messages.)

    >>> old_server_refusal([1]), old_server_refusal({"patient_mrn": 1})
    ('Input is not a dictionary', 'Key room_number is missing from input')
    >>> old_server_refusal({"patient_mrn": "12a", "room_number": 1})
    'Key patient_mrn is not an int or numeric string'
    """
    if not isinstance(payload, dict):
        return "Input is not a dictionary"
    for key, kind in OLD_KEYS:
        if key not in payload:
            return f"Key {key} is missing from input"
        value = payload[key]
        if _empty(value) or type(value) is kind:
            continue
        if kind is float:
            try:
                float(value)
            except ValueError:
                return f"Key {key} is not an int or numeric string"
            except TypeError:
                continue  # the old server crashed here: parse_add_patient says why
        elif kind is int:
            if not str(value).isnumeric():
                return f"Key {key} is not an int or numeric string"
        else:
            return f"Key {key} has the incorrect value type"
    return None


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message never echoes a whole upload).

    >>> _shown("30"), _shown("9" * 100)
    ("'30'", "'999999999999999999999999999999999999...")
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _whole(key: str, value: Any, low: int, high: int, unit: str = "") -> int:
    """An int from an int or a numeric string (as the old server's ``int()``), within ``[low, high]``."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value)
        except ValueError:
            number = None
    if number is None or not low <= number <= high:
        raise LegacyInputError(f"{key}: must be a whole number from {low} to {high}{unit}, got {_shown(value)}")
    return number


@dataclass(frozen=True)
class LegacyUpload:
    """One old ``/add_patient`` request, checked: who, where, and what to store."""

    room: int
    measurement: MeasurementCreate
    image: bytes | None


def parse_add_patient(payload: Any) -> LegacyUpload:
    """Check an old ``/add_patient`` payload; :class:`LegacyInputError` says what is wrong.

    Examples
    --------
    >>> up = parse_add_patient({"patient_name": "", "patient_mrn": 101, "room_number": "3",
    ...                         "CPAP_pressure": "8", "breath_rate": "14.5", "apnea_count": "2",
    ...                         "flow_image": ""})
    >>> m = up.measurement
    >>> up.room, m.mrn, m.name, m.cpap_pressure_cmh2o, m.analysis.breath_rate_bpm, m.analysis.apnea_count, up.image
    (3, '101', None, 8.0, 14.5, 2, None)
    >>> parse_add_patient({"patient_mrn": 5, "room_number": "", "patient_name": "", "CPAP_pressure": "",
    ...                    "breath_rate": "", "apnea_count": "", "flow_image": ""})
    Traceback (most recent call last):
    ...
    cpap_lib.server.routes.legacy.LegacyInputError: room_number: is required (an empty string was sent)
    """
    refusal = old_server_refusal(payload)
    if refusal is not None:
        raise LegacyInputError(refusal)
    for key in ("patient_mrn", "room_number"):
        if _empty(payload[key]):
            raise LegacyInputError(f"{key}: is required (an empty string was sent)")
    room = _whole("room_number", payload["room_number"], ROOM_MIN, ROOM_MAX)
    fields: dict[str, Any] = {"mrn": str(_whole("patient_mrn", payload["patient_mrn"], 0, MRN_MAX))}
    name = payload["patient_name"]
    if name.strip():
        fields["name"] = name.strip()
    given = {key: payload[key] for key in ("CPAP_pressure", "breath_rate", "apnea_count") if not _empty(payload[key])}
    if "CPAP_pressure" in given:
        fields["cpap_pressure_cmh2o"] = _whole(
            "CPAP_pressure", given["CPAP_pressure"], PRESSURE_MIN, PRESSURE_MAX, " cmH2O"
        )
    analysis: dict[str, Any] = {}
    if "breath_rate" in given:
        rate = given["breath_rate"]
        number = None if isinstance(rate, bool) or not isinstance(rate, (int, float, str)) else _float(rate)
        if number is None or not 0 <= number <= BREATH_RATE_MAX:
            raise LegacyInputError(
                f"breath_rate: must be a number from 0 to {BREATH_RATE_MAX} breaths/min, got {_shown(rate)}"
            )
        analysis["breath_rate_bpm"] = number
    if "apnea_count" in given:
        analysis["apnea_count"] = _whole("apnea_count", given["apnea_count"], 0, APNEA_MAX)
    elif "CPAP_pressure" in given and "breath_rate" in given:
        raise LegacyInputError("apnea_count: is required with CPAP_pressure and breath_rate (an empty string was sent)")
    if analysis:
        fields["analysis"] = AnalysisIn(**analysis, method="gap")
    image = None
    if not _empty(payload["flow_image"]):
        image = _image(payload["flow_image"])
    try:
        measurement = MeasurementCreate(**fields)
    except ValidationError as exc:  # the name (length, control characters): the rest is checked above
        error = exc.errors()[0]
        raise LegacyInputError(f"patient_name: {error['msg']}") from None
    return LegacyUpload(room=room, measurement=measurement, image=image)


def _float(value: int | float | str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _image(value: str) -> bytes:
    if len(value) > MAX_IMAGE_BASE64_CHARS:
        raise LegacyInputError(f"flow_image: larger than {MAX_IMAGE_BASE64_CHARS} base64 characters")
    try:
        return decode_image_base64(value)
    except ValueError as exc:
        raise LegacyInputError(f"flow_image: {exc}") from None


_ADD_PATIENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": [key for key, _ in OLD_KEYS],
                "properties": {
                    "patient_name": {"type": "string"},
                    "patient_mrn": {"type": ["string", "integer"]},
                    "room_number": {"type": ["string", "integer"]},
                    "CPAP_pressure": {"type": ["string", "integer"]},
                    "breath_rate": {"type": ["string", "number"]},
                    "apnea_count": {"type": ["string", "integer"]},
                    "flow_image": {"type": "string", "description": "base64 JPEG or PNG, or empty"},
                },
            }
        }
    },
}
_JSON_TEXT = {"content": {"application/json": {"schema": {"type": "string"}}}}


@router.post(
    "/add_patient",
    dependencies=[LEGACY_DEVICE],
    response_class=FlaskJSONResponse,
    openapi_extra={"requestBody": _ADD_PATIENT_BODY},
    responses={200: _JSON_TEXT, 400: {"description": "bad input (a JSON string naming the key)", **_JSON_TEXT}},
)
async def add_patient(request: Request, db: DbDep) -> FlaskJSONResponse:
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays nested thousands deep
        return FlaskJSONResponse("body: must be a JSON object with the old client's keys", status_code=400)
    try:
        upload = parse_add_patient(payload)
    except LegacyInputError as exc:
        return FlaskJSONResponse(str(exc), status_code=400)
    occupied = await run_in_threadpool(_store_upload, db, upload)
    # As the old server: "created" when the room was empty, "updated" otherwise (a new MRN included).
    return FlaskJSONResponse("Patient successfully updated" if occupied else "New patient created")


def _store_upload(db, upload: LegacyUpload) -> bool:
    """Store the upload; return whether the room had a patient before."""
    with db.write() as session:
        occupied = crud.room_has_patient(session, room=upload.room)
        crud.upload(session, room=upload.room, data=upload.measurement, image=upload.image)
        return occupied


def _int_or_none(text: str) -> int | None:
    """``int(text)`` as the old server parsed URL parts, or None."""
    try:
        return int(text)
    except ValueError:
        return None


@router.get(
    "/CPAP_query/{room_number}",
    dependencies=[LEGACY_POLL],
    response_class=FlaskJSONResponse,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "integer"}}}},
        400: _JSON_TEXT,
        404: _JSON_TEXT,
    },
)
async def cpap_query(room_number: str, request: Request) -> FlaskJSONResponse:
    # Polled by every old bedside client: one primary-key lookup (Database.poll); the database taken from
    # the app rather than as a dependency, as the new poll route does.
    db = database_of(request)
    room = _int_or_none(room_number)
    if room is None:
        return FlaskJSONResponse(f"room_number: must be a whole number, got {_shown(room_number)}", status_code=400)
    row = await db.poll(room) if ROOM_MIN <= room <= ROOM_MAX else None
    if row is None or row[4] is None:
        return FlaskJSONResponse("Patient not in database", status_code=400)
    if row[2] is None:
        return FlaskJSONResponse(f"No CPAP pressure commanded for room {room} yet", status_code=404)
    return FlaskJSONResponse(row[2])


@router.get(
    "/new_cpap_pressure/{room_number}/{new_value}",
    dependencies=[STAFF],
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, 400: {"content": {"text/html": {}}}},
)
def new_cpap_pressure(room_number: str, new_value: str, db: DbDep, actor: ActorDep) -> HTMLResponse:
    room, cmh2o = _int_or_none(room_number), _int_or_none(new_value)
    if room is None or cmh2o is None:
        return HTMLResponse("Bad value for room number or new value", status_code=400)
    if not ROOM_MIN <= room <= ROOM_MAX:
        return HTMLResponse(
            f"Bad value for room number: must be from {ROOM_MIN} to {ROOM_MAX}, got {room}", status_code=400
        )
    if not PRESSURE_MIN <= cmh2o <= PRESSURE_MAX:
        return HTMLResponse(
            f"Bad value for new value: a CPAP pressure must be from {PRESSURE_MIN} to "
            f"{PRESSURE_MAX} cmH2O, got {cmh2o}",
            status_code=400,
        )
    with db.write() as session:
        crud.command_pressure(session, room=room, cmh2o=cmh2o, by=legacy_commander(actor), preset=True)
    return HTMLResponse(f"Room number {room} CPAP pressure updated to {cmh2o}")


def legacy_commander(actor: Actor) -> str:
    """Who sent an old client's pressure command, as the timeline shows it.

    The token's name when the request carried one (a staff token); the old
    clients send none, so on a server without tokens it is the client's
    address, as the audit trail records it: ``"legacy client 10.0.0.7"``.

    >>> legacy_commander(Actor("nurse-a", "staff", "10.0.0.7")), legacy_commander(Actor("anonymous", None, "10.0.0.7"))
    ('nurse-a', 'legacy client 10.0.0.7')
    """
    if actor.role is not None:
        return actor.name
    return f"legacy client {actor.address or 'at an unknown address'}"


def local_clock_time(when: datetime | str, tz: tzinfo | None = None) -> str:
    """A stored UTC time as the old server's local clock time ``YYYY-MM-DD HH:MM:SS``.

    The old server stamped uploads with ``datetime.now()`` of its machine; this
    is the clock time in the lab's zone (``CPAP_LAB_TZ``, else the machine's,
    :func:`cpap_lib.clock.lab_timezone`).

    >>> from zoneinfo import ZoneInfo
    >>> local_clock_time("2026-12-01T09:30:05+00:00", tz=ZoneInfo("Pacific/Auckland"))
    '2026-12-01 22:30:05'
    """
    return to_lab_time(as_utc(when), tz).strftime(TIMESTAMP_FORMAT)


def _old_mrn(mrn: str) -> int | str:
    """MRNs the old clients sent are ints; one registered through our API with letters stays text."""
    return int(mrn) if mrn.isascii() and mrn.isdigit() and str(int(mrn)) == mrn else mrn


def _old_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@router.get(
    "/get_all_patients",
    dependencies=[STAFF],
    response_class=FlaskJSONResponse,
    responses={200: {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}},
)
def get_all_patients(db: DbDep) -> FlaskJSONResponse:
    with db.read() as session:
        patients = crud.current_patient_records(session)
    answer = []
    for room, mrn, name, records in patients:
        answer.append(
            {
                "room_number": room,
                "patient_mrn": _old_mrn(mrn),
                "patient_name": name or "Not provided",
                "CPAP_pressure": [_old_number(r[1]) for r in records],
                "breath_rate": [float(r[2]) for r in records],
                "apnea_count": [int(r[3]) for r in records],
                "flow_image": [base64.b64encode(r[4]).decode("ascii") if r[4] else "" for r in records],
                "timestamp": [local_clock_time(r[0]) for r in records],
            }
        )
    return FlaskJSONResponse(answer)
