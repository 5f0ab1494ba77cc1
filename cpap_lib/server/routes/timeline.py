"""The night timeline of a room: pressure commands (who, when, from-to), uploads, notes, acknowledgements."""

from __future__ import annotations

from fastapi import APIRouter, status

from .. import night
from ..deps import STAFF, DbDep, RoomNumber
from ..schemas import NightTimeline

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/rooms", tags=["timeline"])


@router.get(
    "/{room}/timeline",
    response_model=NightTimeline,
    dependencies=[STAFF],
    responses={status.HTTP_404_NOT_FOUND: {"description": "room not found"}},
    summary="The current patient's night, oldest first (every time UTC)",
    description="Pressure commands (who, when, from-to), uploads, notes and acknowledgements of the room's "
    "current admission. The commands begin with the one in effect when the admission began (a preset for "
    "the empty room, or the room's last command; `before_admission` true), so the night's titration starts "
    "at the pressure it began with.",
)
def get_timeline(room: RoomNumber, db: DbDep) -> NightTimeline:
    with db.read() as session:
        return night.night_timeline(session, room=room)
