"""The whole ward's latest state in one request (one query, independent of history length)."""

from __future__ import annotations

from fastapi import APIRouter

from .. import crud
from ..deps import STAFF, DbDep
from ..models import utcnow
from ..schemas import WardPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/ward", tags=["ward"])


@router.get("", response_model=WardPublic, dependencies=[STAFF])
def get_ward(db: DbDep) -> WardPublic:
    with db.read() as session:
        return WardPublic(generated_at=utcnow(), rooms=crud.ward(session))
