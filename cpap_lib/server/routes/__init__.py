"""One router per resource; :data:`ROUTERS` is what the app mounts."""

from __future__ import annotations

from . import alarms, audit, health, legacy, measurements, notes, patients, pressure, rooms, timeline, ward

__all__ = ["ROUTERS"]

ROUTERS = (
    health.router,
    rooms.router,
    measurements.router,
    patients.router,
    pressure.router,
    ward.router,
    alarms.router,
    notes.router,
    timeline.router,
    audit.router,
    legacy.router,
)
