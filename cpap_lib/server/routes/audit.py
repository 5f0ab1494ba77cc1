"""``GET /api/v1/audit``: the audit trail (staff only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..audit import AuditEventPublic, list_events
from ..deps import STAFF, DbDep
from ..schemas import ROOM_MAX, ROOM_MIN

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get(
    "",
    response_model=list[AuditEventPublic],
    dependencies=[STAFF],
    summary="Pressure commands, acknowledgements and notes: who (token name, role), when (UTC), from where",
)
def audit_events(
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    room: Annotated[int | None, Query(ge=ROOM_MIN, le=ROOM_MAX)] = None,
) -> list[AuditEventPublic]:
    with db.read() as session:
        return list_events(session, limit=limit, room=room)
