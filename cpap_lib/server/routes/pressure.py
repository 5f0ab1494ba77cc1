"""CPAP pressure commands: staff command, bedside stations poll."""

from __future__ import annotations

from fastapi import APIRouter, status

from .. import crud
from ..deps import ANY_ROLE, STAFF, DbDep, RoomNumber
from ..schemas import PressureCommandCreate, PressureCommandPublic, PressurePoll

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/rooms", tags=["pressure"])
NOT_FOUND = {status.HTTP_404_NOT_FOUND: {"description": "room not found"}}


@router.post("/{room}/pressure-commands", response_model=PressureCommandPublic, status_code=status.HTTP_201_CREATED,
             dependencies=[STAFF], responses=NOT_FOUND, summary="Command a new CPAP pressure (integer 4-25 cmH2O)")
def command_pressure(room: RoomNumber, body: PressureCommandCreate, db: DbDep) -> PressureCommandPublic:
    with db.write() as session:
        return crud.command_pressure(session, room=room, cmh2o=body.cmh2o)


@router.get("/{room}/pressure", response_model=PressurePoll, dependencies=[ANY_ROLE], responses=NOT_FOUND,
            summary="The latest commanded pressure (what bedside stations poll)")
def poll_pressure(room: RoomNumber, db: DbDep) -> PressurePoll:
    with db.read() as session:
        return crud.poll_pressure(session, room=room)
