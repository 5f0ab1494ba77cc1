"""The audit trail: every pressure command, alarm acknowledgement and technician note, with who, when and where from.

The role check (:func:`cpap_lib.server.deps.require_roles`) puts the request's
:class:`~cpap_lib.server.deps.Actor` in :data:`current_actor_var`; when a
session flushes new rows of an audited kind, :func:`_record` adds one
``audit_events`` row each in the same transaction, so an action is never
stored without its record (routes need no code of their own).

Examples
--------
>>> from cpap_lib.server.db import Database
>>> from cpap_lib.server.deps import Actor
>>> from cpap_lib.server import crud
>>> from cpap_lib.server.schemas import AdmissionCreate
>>> db = Database("sqlite://")
>>> token = current_actor_var.set(Actor("nurse-a", "staff", "10.1.2.3"))
>>> with db.write() as s:
...     _ = crud.admit(s, room=7, data=AdmissionCreate(mrn="AU-1"))
...     _ = crud.command_pressure(s, room=7, cmh2o=9)
>>> current_actor_var.reset(token)
>>> with db.read() as s:
...     [(e.action, e.room, e.actor_name, e.actor_role, e.actor_address) for e in list_events(s)]
[('pressure_command', 7, 'nurse-a', 'staff', '10.1.2.3')]
"""

from __future__ import annotations

import contextvars
from datetime import datetime
from typing import cast

from pydantic import BaseModel
from sqlalchemy import Table, event, select
from sqlalchemy.orm import Session

from .models import AlarmAcknowledgement, AuditEvent, PressureCommand, TechnicianNote, utcnow

__all__ = ["AUDITED", "AuditEventPublic", "current_actor_var", "list_events"]

current_actor_var: contextvars.ContextVar = contextvars.ContextVar("cpap_actor", default=None)
"""The :class:`~cpap_lib.server.deps.Actor` of the request being served (None outside requests)."""

AUDITED = {PressureCommand: "pressure_command", AlarmAcknowledgement: "acknowledgement", TechnicianNote: "note"}
"""Models whose new rows are audited, and the action name recorded."""


class AuditEventPublic(BaseModel):
    id: int
    at: datetime
    action: str
    room: int | None
    record_id: int | None
    actor_name: str
    actor_role: str | None
    actor_address: str | None


def _room_of(row, session: Session) -> int | None:
    room = getattr(row, "room_number", None)
    if room is None and getattr(row, "admission_id", None) is not None:
        from .models import Admission

        admission = session.get(Admission, row.admission_id)
        room = admission.room_number if admission else None
    return room


@event.listens_for(Session, "after_flush")
def _record(session: Session, _flush_context) -> None:
    rows = [row for row in session.new if type(row) in AUDITED]
    if not rows:
        return
    actor = current_actor_var.get()
    name, role, address = (actor.name, actor.role, actor.address) if actor else ("server", None, None)
    now = utcnow()
    session.execute(
        cast(Table, AuditEvent.__table__).insert(),
        [
            {
                "at": now,
                "action": AUDITED[type(row)],
                "room_number": _room_of(row, session),
                "record_id": row.id,
                "actor_name": name,
                "actor_role": role,
                "actor_address": address,
            }
            for row in rows
        ],
    )


def list_events(session: Session, *, limit: int = 500, room: int | None = None) -> list[AuditEventPublic]:
    """The newest ``limit`` audit events (of ``room`` when given), newest first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if room is not None:
        query = query.where(AuditEvent.room_number == room)
    return [
        AuditEventPublic(
            id=e.id,
            at=e.at,
            action=e.action,
            room=e.room_number,
            record_id=e.record_id,
            actor_name=e.actor_name,
            actor_role=e.actor_role,
            actor_address=e.actor_address,
        )
        for e in session.execute(query).scalars()
    ]
