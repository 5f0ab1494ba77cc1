"""One measurement with every metric, its events, flow trace and image."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from .. import crud
from ..deps import STAFF, DbDep
from ..schemas import MeasurementPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/measurements", tags=["measurements"])


@router.get(
    "/{measurement_id}",
    response_model=MeasurementPublic,
    dependencies=[STAFF],
    responses={status.HTTP_404_NOT_FOUND: {"description": "measurement not found"}},
)
def get_measurement(measurement_id: Annotated[int, Path(ge=1, le=2**31 - 1)], db: DbDep) -> MeasurementPublic:
    with db.read() as session:
        return crud.get_measurement(session, measurement_id=measurement_id)
