"""One settings object for the server, read from the environment.

=====================  ==============================================  =========================
variable               meaning                                         default
=====================  ==============================================  =========================
``CPAP_DATABASE_URL``  SQLAlchemy URL (``sqlite:///file.db`` or         ``sqlite:///cpap_lab.db``
                       ``postgresql+psycopg://user@host/db``)
``CPAP_DEVICE_TOKEN``  bearer token(s) of bedside stations,            none
                       comma-separated
``CPAP_STAFF_TOKEN``   bearer token(s) of monitoring staff,            none
                       comma-separated
``CPAP_TOKEN_FILE``    file of ``<role> <token>`` lines                none
                       (role ``device`` or ``staff``; ``#`` comments)
``CPAP_MAX_BODY_BYTES`` largest accepted request body                  8,000,000
=====================  ==============================================  =========================

With no token configured the server is open, so it may only listen on a
loopback address (:func:`check_bind_host`).

Examples
--------
>>> s = Settings.from_env({"CPAP_STAFF_TOKEN": "s3cret", "CPAP_DATABASE_URL": "sqlite://"})
>>> s.auth_enabled, s.role_of("s3cret"), s.role_of("nope")
(True, 'staff', None)
>>> check_bind_host("127.0.0.1", Settings(database_url="sqlite://"))
>>> check_bind_host("0.0.0.0", Settings(database_url="sqlite://"))
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: host: refusing to listen on 0.0.0.0 without access tokens; ...
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParameterError

__all__ = ["DEFAULT_DATABASE_URL", "ROLES", "Settings", "check_bind_host", "read_token_file"]

DEFAULT_DATABASE_URL = "sqlite:///cpap_lab.db"
DEFAULT_MAX_BODY_BYTES = 8_000_000
ROLES = ("device", "staff")
TOKEN_HELP = (
    "set CPAP_DEVICE_TOKEN and/or CPAP_STAFF_TOKEN (comma-separated bearer tokens), "
    "or CPAP_TOKEN_FILE (lines of '<device|staff> <token>'), then start the server again"
)


def _split_tokens(value: str | None) -> frozenset[str]:
    return frozenset(t.strip() for t in (value or "").split(",") if t.strip())


def read_token_file(path: str | os.PathLike) -> dict[str, frozenset[str]]:
    """Read a token file of ``<role> <token>`` lines into ``{role: tokens}``.

    Blank lines and lines starting with ``#`` are ignored; an unknown role or a
    line without a token is a :class:`~cpap_lib.errors.ParameterError` naming
    the file and line.
    """
    found: dict[str, set[str]] = {role: set() for role in ROLES}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError("CPAP_TOKEN_FILE", f"cannot read {path}: {exc.strerror}") from exc
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ROLES:
            raise ParameterError(
                "CPAP_TOKEN_FILE", f"{path}, line {number}: expected '<device|staff> <token>'"
            )
        found[parts[0]].add(parts[1])
    return {role: frozenset(tokens) for role, tokens in found.items()}


@dataclass(frozen=True)
class Settings:
    """Server settings (see the module docstring for the environment variables).

    Attributes
    ----------
    database_url : str
        SQLAlchemy database URL.
    device_tokens, staff_tokens : frozenset of str
        Accepted bearer tokens per role; both empty means no access control.
    max_body_bytes : int
        Requests with a larger body are answered 413.
    """

    database_url: str = DEFAULT_DATABASE_URL
    device_tokens: frozenset[str] = field(default_factory=frozenset)
    staff_tokens: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``)."""
        env = os.environ if env is None else env
        device = set(_split_tokens(env.get("CPAP_DEVICE_TOKEN")))
        staff = set(_split_tokens(env.get("CPAP_STAFF_TOKEN")))
        if env.get("CPAP_TOKEN_FILE"):
            from_file = read_token_file(env["CPAP_TOKEN_FILE"])
            device |= from_file["device"]
            staff |= from_file["staff"]
        raw_limit = env.get("CPAP_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ParameterError("CPAP_MAX_BODY_BYTES", f"must be an integer, got {raw_limit!r}") from None
        if limit < 1024:
            raise ParameterError("CPAP_MAX_BODY_BYTES", f"must be at least 1024, got {limit}")
        return cls(
            database_url=env.get("CPAP_DATABASE_URL") or DEFAULT_DATABASE_URL,
            device_tokens=frozenset(device),
            staff_tokens=frozenset(staff),
            max_body_bytes=limit,
        )

    @property
    def auth_enabled(self) -> bool:
        """True when at least one token is configured."""
        return bool(self.device_tokens or self.staff_tokens)

    def role_of(self, token: str) -> str | None:
        """The role of ``token`` (``"staff"`` wins if a token is in both), or None."""
        role = None
        for candidate, tokens in (("device", self.device_tokens), ("staff", self.staff_tokens)):
            for known in tokens:
                if hmac.compare_digest(token.encode(), known.encode()):
                    role = candidate
        return role


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, settings: Settings) -> None:
    """Refuse a non-loopback ``host`` when no tokens are configured.

    Raises
    ------
    ParameterError
        With a message saying how to configure tokens.
    """
    if not settings.auth_enabled and not _is_loopback(host):
        raise ParameterError("host", f"refusing to listen on {host} without access tokens; {TOKEN_HELP}")
