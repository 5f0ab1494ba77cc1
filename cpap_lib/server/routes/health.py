"""``GET /health``: liveness and database reachability (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from ..deps import DbDep
from ..schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Server and database are up")
def health(db: DbDep) -> Health:
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return Health(status="ok", database=db.dialect)
