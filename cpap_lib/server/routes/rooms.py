"""Rooms: list, one room's state, admitting a patient, uploading and listing measurements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status

from .. import crud
from ..deps import ANY_ROLE, DEVICE, STAFF, DbDep, RoomNumber
from ..schemas import (
    AdmissionCreate,
    MeasurementCreate,
    MeasurementSummary,
    Mrn,
    RoomPatient,
    RoomPublic,
    UploadReceipt,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {status.HTTP_404_NOT_FOUND: {"description": "room not found"}}


@router.get("", response_model=list[RoomPublic], dependencies=[STAFF], summary="Every room's latest state")
def list_rooms(db: DbDep) -> list[RoomPublic]:
    with db.read() as session:
        return crud.ward(session)


@router.get(
    "/{room}",
    response_model=RoomPublic,
    dependencies=[STAFF],
    responses=NOT_FOUND,
    summary="A room's patient, latest measurement and commanded pressure",
)
def get_room(room: RoomNumber, db: DbDep) -> RoomPublic:
    with db.read() as session:
        return crud.room_state(session, room=room)


@router.get(
    "/{room}/patient",
    response_model=RoomPatient,
    dependencies=[ANY_ROLE],
    responses=NOT_FOUND,
    summary="Who is admitted to the room now (what a bedside station fills in); nulls when nobody",
)
def get_room_patient(room: RoomNumber, db: DbDep) -> RoomPatient:
    with db.read() as session:
        state = crud.room_state(session, room=room)
    return RoomPatient(room=state.room, mrn=state.mrn, name=state.name, admitted_at=state.admitted_at)


@router.put(
    "/{room}/patient",
    response_model=UploadReceipt,
    dependencies=[DEVICE],
    summary="Admit (or rename) the room's patient; a new MRN starts a new admission",
)
def admit_patient(room: RoomNumber, body: AdmissionCreate, db: DbDep) -> UploadReceipt:
    with db.write() as session:
        return crud.upload(session, room=room, data=MeasurementCreate(mrn=body.mrn, name=body.name))


@router.post(
    "/{room}/measurements",
    response_model=UploadReceipt,
    status_code=status.HTTP_201_CREATED,
    dependencies=[DEVICE],
    summary="Upload a measurement (admits the patient as needed)",
)
def upload_measurement(
    room: RoomNumber,
    body: MeasurementCreate,
    db: DbDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="The same key on a re-sent upload returns the first one's receipt instead of storing it twice",
        ),
    ] = None,
) -> UploadReceipt:
    with db.write() as session:
        return crud.upload(session, room=room, data=body, idempotency_key=idempotency_key)


@router.get(
    "/{room}/measurements",
    response_model=list[MeasurementSummary],
    dependencies=[STAFF],
    responses=NOT_FOUND,
    summary="Measurements of the room's current patient (or of `mrn`), oldest first",
)
def list_room_measurements(
    room: RoomNumber, db: DbDep, mrn: Annotated[Mrn | None, Query(description="another patient's MRN")] = None
) -> list[MeasurementSummary]:
    with db.read() as session:
        return crud.list_measurements(session, room=room, mrn=mrn)
