"""Shared route dependencies: the database, role checks and who is acting.

Roles: ``device`` tokens (bedside stations) may upload and poll; ``staff``
tokens may read everything, poll and command pressures. A device token with
``rooms=`` in the token file acts on those rooms only (403 elsewhere). With no
token configured (loopback only, see :mod:`.settings`) every request is allowed.

:data:`ActorDep` (``actor: ActorDep`` in a route) is who made the request, for
audit records: the token's name and role, and the client's address.

The old bedside clients send no token: routes built with
``require_roles(..., legacy_network=True)`` (the old device routes
``POST /add_patient`` and ``GET /CPAP_query``) also admit a request without a
token from a network listed in ``CPAP_LEGACY_NETWORKS``, as decided by
:func:`~cpap_lib.server.settings.legacy_network_admits`; nothing else does.
Such a request's actor is :data:`LEGACY_NETWORK_ACTOR`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .audit import current_actor_var
from .db import Database
from .rate_limit import SlidingWindow
from .schemas import ROOM_MAX, ROOM_MIN
from .settings import Grant, Settings, legacy_network_admits

__all__ = [
    "ANY_ROLE",
    "DEVICE",
    "LEGACY_DEVICE",
    "LEGACY_NETWORK_ACTOR",
    "LEGACY_POLL",
    "STAFF",
    "Actor",
    "ActorDep",
    "FailedTokenLimit",
    "DbDep",
    "RoomNumber",
    "current_actor",
    "database_of",
    "get_db",
    "require_roles",
]

_bearer = HTTPBearer(auto_error=False, description="Device or staff token (see CPAP_DEVICE_TOKEN / CPAP_STAFF_TOKEN)")


def database_of(request: Request) -> Database:
    """The app's :class:`Database`, for the poll routes (one dependency less to solve on every poll)."""
    return request.app.state.db


async def get_db(request: Request) -> Database:
    """The app's :class:`Database`."""
    return database_of(request)


DbDep = Annotated[Database, Depends(get_db)]
RoomNumber = Annotated[int, Path(ge=ROOM_MIN, le=ROOM_MAX, description="Room number")]


@dataclass(frozen=True)
class Actor:
    """Who made a request, as audit records store it.

    Attributes
    ----------
    name : str
        The token's name (``name=`` in the token file, else ``<role>-<hash prefix>``);
        ``"anonymous"`` when the server runs without tokens.
    role : str or None
        ``"device"`` or ``"staff"``; None without tokens.
    address : str or None
        The client's IP address as the server saw it.

    Examples
    --------
    >>> Actor("nurse-a", "staff", "127.0.0.1").label
    'nurse-a (staff) from 127.0.0.1'
    """

    name: str
    role: str | None
    address: str | None

    @property
    def label(self) -> str:
        """``name (role) from address``, for messages."""
        return f"{self.name} ({self.role or 'no token'}) from {self.address or 'unknown'}"


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def current_actor(request: Request) -> Actor:
    """The :class:`Actor` of this request (set by the role check; anonymous without tokens)."""
    grant: Grant | None = getattr(request.state, "grant", None)
    if grant is None:
        name = LEGACY_NETWORK_ACTOR if getattr(request.state, "legacy_network", False) else "anonymous"
        return Actor(name, None, _address(request))
    return Actor(grant.name, grant.role, _address(request))


ActorDep = Annotated[Actor, Depends(current_actor)]


async def _rooms_of_request(request: Request) -> list[int]:
    """Rooms a request acts on: the ``room`` / ``room_number`` path parameter, or an old client's body."""
    rooms = []
    for key in ("room", "room_number"):
        value = request.path_params.get(key)
        if value is not None:
            try:
                rooms.append(int(value))
            except ValueError:
                pass  # the route answers 400/422 for it
    if not rooms and request.method == "POST" and request.url.path == "/add_patient":
        try:  # the old upload names its room in the body (cached by Starlette for the route)
            payload = json.loads(await request.body())
            rooms.append(int(payload["room_number"]))
        except (ValueError, TypeError, KeyError, RecursionError):
            pass
    return rooms


LEGACY_NETWORK_ACTOR = "legacy-network"
"""The actor name of a tokenless old client admitted by ``CPAP_LEGACY_NETWORKS``."""
_LEGACY_ONLY = (
    "missing bearer token: clients on CPAP_LEGACY_NETWORKS may only upload (POST /add_patient) "
    "and poll (GET /CPAP_query) without one; this route needs a token"
)


class FailedTokenLimit:
    """At most ``limit`` unknown tokens per client address a minute; then 429 for that address.

    Examples
    --------
    >>> gate = FailedTokenLimit(limit=2)
    >>> gate.failed("10.0.0.9", now=0.0), gate.failed("10.0.0.9", now=1.0), gate.retry_after("10.0.0.9", now=2.0)
    (None, None, 58)
    >>> gate.retry_after("10.0.0.8", now=2.0) is None, gate.retry_after("10.0.0.9", now=61.0) is None
    (True, True)
    """

    WINDOW_S = 60.0

    def __init__(self, limit: int = 20):
        self.limit = limit
        self._window = SlidingWindow(limit, self.WINDOW_S)

    def retry_after(self, address: str, now: float | None = None) -> int | None:
        """Whole seconds until ``address`` may try a token again, or None."""
        wait = self._window.wait(address, now)
        return None if wait is None else max(1, int(wait))

    def failed(self, address: str, now: float | None = None) -> None:
        """Record an unknown token from ``address``."""
        self._window.add(address, now)


def _failed_tokens(request: Request) -> FailedTokenLimit:
    state = request.app.state
    if not hasattr(state, "failed_tokens"):
        state.failed_tokens = FailedTokenLimit()
    return state.failed_tokens


def require_roles(*roles: str, legacy_network: bool = False):
    """A dependency that answers 401 without a known token, 403 for another role or another room.

    With ``legacy_network=True`` a request without a token from a network in
    ``CPAP_LEGACY_NETWORKS`` is admitted (:func:`~.settings.legacy_network_admits`).
    Dependencies here are ``async`` (they do no I/O) so FastAPI does not send
    them through the thread pool.
    """

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> str | None:
        settings: Settings = request.app.state.settings
        if not settings.auth_enabled:
            return None
        if credentials is None or credentials.scheme.lower() != "bearer":
            on_lab_network = legacy_network_admits(settings, _address(request))
            if on_lab_network and legacy_network:
                request.state.legacy_network = True
                return None
            detail = _LEGACY_ONLY if on_lab_network else "missing bearer token"
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
        gate, address = _failed_tokens(request), _address(request) or "-"
        wait = gate.retry_after(address)
        if wait is not None:  # guessing tokens: even a right one waits
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many unknown tokens from this address; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        grant = settings.grant_of(credentials.credentials)
        if grant is None:
            gate.failed(address)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"})
        if grant.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"a {grant.role} token may not do this (needs {' or '.join(roles)})"
            )
        if grant.rooms is not None:
            for room in await _rooms_of_request(request):
                if not grant.may_use_room(room):
                    allowed = ", ".join(str(r) for r in sorted(grant.rooms))
                    raise HTTPException(
                        status.HTTP_403_FORBIDDEN, f"this device token may act on rooms {allowed} only, not room {room}"
                    )
        request.state.grant = grant
        return grant.role

    async def check_and_record(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> str | None:
        role = await check(request, credentials)
        current_actor_var.set(await current_actor(request))  # for the audit trail (.audit)
        return role

    return Depends(check_and_record)


DEVICE = require_roles("device")
STAFF = require_roles("staff")
ANY_ROLE = require_roles("device", "staff")
LEGACY_DEVICE = require_roles("device", legacy_network=True)
LEGACY_POLL = require_roles("device", "staff", legacy_network=True)
