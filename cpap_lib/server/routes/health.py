"""``GET /health``: liveness, database reachability and the database file's state (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from ..db import DatabaseFileError
from ..deps import DbDep
from ..schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    summary="Server and database are up",
    responses={
        503: {
            "description": "the database is unreachable, or its file deleted, replaced, "
            "read-only or on a full disk (the sentence says which)"
        }
    },
)
def health(db: DbDep) -> Health:
    with db.read() as session:
        session.execute(text("SELECT 1"))
    problem = db.problem()
    if problem is not None:
        raise DatabaseFileError(problem)
    return Health(status="ok", database=db.dialect)
