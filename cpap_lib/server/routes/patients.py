"""Patients and their stays (current and past admissions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from .. import crud
from ..deps import STAFF, DbDep
from ..schemas import Mrn, PatientPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])


@router.get("", response_model=list[PatientPublic], dependencies=[STAFF])
def list_patients(db: DbDep) -> list[PatientPublic]:
    with db.read() as session:
        return crud.list_patients(session)


@router.get(
    "/{mrn}",
    response_model=PatientPublic,
    dependencies=[STAFF],
    responses={status.HTTP_404_NOT_FOUND: {"description": "patient not found"}},
)
def get_patient(mrn: Annotated[Mrn, Path()], db: DbDep) -> PatientPublic:
    with db.read() as session:
        return crud.get_patient(session, mrn=mrn)
