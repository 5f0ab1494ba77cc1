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
)
def get_timeline(room: RoomNumber, db: DbDep) -> NightTimeline:
    with db.read() as session:
        return night.night_timeline(session, room=room)
