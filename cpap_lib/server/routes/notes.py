"""Technician notes: timestamped (UTC) notes about a room's night, by staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from .. import night
from ..deps import STAFF, ActorDep, DbDep, RoomNumber
from ..schemas import NoteCreate, NotePublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/rooms", tags=["notes"])
CONFLICT: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "room not found"},
    status.HTTP_409_CONFLICT: {"description": "no patient admitted"},
}


@router.get(
    "/{room}/notes",
    response_model=list[NotePublic],
    dependencies=[STAFF],
    responses=CONFLICT,
    summary="Notes on the current patient's night, oldest first",
)
def list_notes(room: RoomNumber, db: DbDep) -> list[NotePublic]:
    with db.read() as session:
        return night.list_notes(session, room=room)


@router.post(
    "/{room}/notes",
    response_model=NotePublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[STAFF],
    responses=CONFLICT,
    summary="Add a note (who: the token's name; when: now, UTC)",
)
def add_note(room: RoomNumber, body: NoteCreate, db: DbDep, actor: ActorDep) -> NotePublic:
    try:
        with db.write() as session:
            return night.add_note(session, room=room, by=night.who(actor.name, body.by), text=body.text)
    except night.NightConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from None
