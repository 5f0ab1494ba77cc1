"""One router per resource; :data:`ROUTERS` is what the app mounts."""

from __future__ import annotations

from . import health, legacy, measurements, patients, pressure, rooms, ward

__all__ = ["ROUTERS"]

ROUTERS = (health.router, rooms.router, measurements.router, patients.router, pressure.router, ward.router, legacy.router)
