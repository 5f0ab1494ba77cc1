"""CPAP pressure commands: staff command, bedside stations poll."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response, status

from .. import crud
from ..deps import ANY_ROLE, STAFF, ActorDep, DbDep, RoomNumber, database_of
from ..models import as_utc
from ..schemas import PressureCommandCreate, PressureCommandPublic, PressurePoll

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/rooms", tags=["pressure"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {status.HTTP_404_NOT_FOUND: {"description": "room not found"}}


@router.post(
    "/{room}/pressure-commands",
    response_model=PressureCommandPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[STAFF],
    summary="Command a new CPAP pressure (integer 4-25 cmH2O); stored with who sent it and the pressure it replaces",
    description="The command belongs to the room's current stay. A room nobody is admitted to (or "
    "that never had a patient) takes a **preset**: stored and audited like any command, "
    "answered with `admission_id` null, returned by the room's poll at once, and tied "
    "to the next patient admitted there (as the old `/new_cpap_pressure` route does).",
)
def command_pressure(
    room: RoomNumber, body: PressureCommandCreate, db: DbDep, actor: ActorDep
) -> PressureCommandPublic:
    with db.write() as session:
        return crud.command_pressure(session, room=room, cmh2o=body.cmh2o, by=actor.name, preset=True)


@router.get(
    "/{room}/pressure",
    response_model=PressurePoll,
    dependencies=[ANY_ROLE],
    responses=NOT_FOUND,
    summary="The latest commanded pressure (what bedside stations poll)",
)
async def poll_pressure(room: RoomNumber, request: Request) -> Response:
    # The hottest route: one indexed lookup (Database.poll), JSON encoded by hand (same shape as PressurePoll),
    # the database taken from the app rather than as a dependency (each one solved costs about 30 us a poll).
    row = await database_of(request).poll(room)
    if row is None:
        raise crud.room_not_found(room)
    commanded_at = as_utc(row[3])
    body = {
        "room": room,
        "cmh2o": row[2],
        "command_id": row[1],
        "commanded_at": commanded_at.isoformat().replace("+00:00", "Z") if commanded_at else None,
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")
