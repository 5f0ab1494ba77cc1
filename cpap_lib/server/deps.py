"""Shared route dependencies: the database and role checks.

Roles: ``device`` tokens (bedside stations) may upload and poll; ``staff``
tokens may read everything, poll and command pressures. With no token
configured (loopback only, see :mod:`.settings`) every request is allowed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .db import Database
from .schemas import ROOM_MAX, ROOM_MIN
from .settings import Settings

__all__ = ["ANY_ROLE", "DEVICE", "STAFF", "DbDep", "RoomNumber", "get_db", "require_roles"]

_bearer = HTTPBearer(auto_error=False, description="Device or staff token (see CPAP_DEVICE_TOKEN / CPAP_STAFF_TOKEN)")


async def get_db(request: Request) -> Database:
    """The app's :class:`Database`."""
    return request.app.state.db


DbDep = Annotated[Database, Depends(get_db)]
RoomNumber = Annotated[int, Path(ge=ROOM_MIN, le=ROOM_MAX, description="Room number")]


def require_roles(*roles: str):
    """A dependency that answers 401 without a known token and 403 for another role.

    Dependencies here are ``async`` (they do no I/O) so FastAPI does not send
    them through the thread pool.
    """

    async def check(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str | None:
        settings: Settings = request.app.state.settings
        if not settings.auth_enabled:
            return None
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        role = settings.role_of(credentials.credentials)
        if role is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        if role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {role} token may not do this (needs {' or '.join(roles)})")
        return role

    return Depends(check)


DEVICE = require_roles("device")
STAFF = require_roles("staff")
ANY_ROLE = require_roles("device", "staff")
