"""The alarm board: every room's alarm state, sorted for a nurse; the rules; acknowledgements (staff)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from .. import night
from ..alarms import AlarmRules
from ..deps import STAFF, ActorDep, DbDep, RoomNumber
from ..models import utcnow
from ..schemas import AcknowledgementCreate, AcknowledgementPublic, AlarmBoardPublic, AlarmRulesPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["alarms"])
CONFLICT: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "room not found"},
    status.HTTP_409_CONFLICT: {"description": "no patient admitted, or no alarm to acknowledge"},
}


def _rules(request: Request) -> AlarmRules:
    return request.app.state.alarm_rules


@router.get(
    "/alarms",
    response_model=AlarmBoardPublic,
    dependencies=[STAFF],
    summary="Every room with its alarm state (times UTC), unacknowledged alarms loudest first",
    description=night.board_order.__doc__,
)
def get_alarm_board(request: Request, db: DbDep) -> AlarmBoardPublic:
    rules = _rules(request)
    now = utcnow()
    with db.write() as session:  # a state change is recorded when first seen
        rooms = night.alarm_board(session, rules=rules, now=now)
    return AlarmBoardPublic(generated_at=now, rules=night.rules_public(rules), rooms=rooms)


@router.get(
    "/alarms/rules",
    response_model=AlarmRulesPublic,
    dependencies=[STAFF],
    summary="The alarm rules' thresholds (set by CPAP_ALARM_* on the server)",
)
def get_alarm_rules(request: Request) -> AlarmRulesPublic:
    return night.rules_public(_rules(request))


@router.post(
    "/rooms/{room}/alarm/acknowledgements",
    response_model=AcknowledgementPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[STAFF],
    responses=CONFLICT,
    summary="Acknowledge the room's current alarm (who: the token's name; when: now, UTC; a note)",
)
def acknowledge_alarm(
    room: RoomNumber, body: AcknowledgementCreate, request: Request, db: DbDep, actor: ActorDep
) -> AcknowledgementPublic:
    try:
        with db.write() as session:
            return night.acknowledge(
                session, room=room, by=night.who(actor.name, body.by), note=body.note, rules=_rules(request)
            )
    except night.NightConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from None
