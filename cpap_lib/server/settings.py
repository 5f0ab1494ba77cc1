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
``CPAP_TOKEN_FILE``    file of ``<role> <token> [name=NAME]            none
                       [rooms=201,202]`` lines (role ``device`` or
                       ``staff``; ``rooms=`` binds a device token to
                       its rooms; ``#`` comments)
``CPAP_MAX_BODY_BYTES`` largest accepted request body                  8,000,000
``CPAP_REQUEST_TIMEOUT_S`` longest a request may take before it is      10
                       answered 503 (a database that does not answer)
``CPAP_WRITES_PER_MINUTE`` uploads and commands one token may send      120
                       a minute (429 after; with tokens only)
``CPAP_ALLOWED_HOSTS`` further names of this server (``Host``          loopback names and the
                       header), comma-separated; any other Host is     listening address
                       refused (DNS rebinding)
``CPAP_LEGACY_NETWORKS`` networks (CIDR, comma-separated) whose          none
                       clients may use the old clients' device routes
                       without a token (:func:`legacy_network_admits`)
=====================  ==============================================  =========================

With no token configured the server is open, so it may only listen on a
loopback address (:func:`check_bind_host`).

The old bedside clients cannot send a token. ``CPAP_LEGACY_NETWORKS`` is the
one, explicit way to serve them on a lab network: a request *without* a token
from an address in a listed network may use the old device routes
(``POST /add_patient`` and ``GET /CPAP_query/<room>``) and nothing else; every
other route, the old staff routes (``/get_all_patients``,
``/new_cpap_pressure``) included, still needs a token, so tokens must be
configured. The server logs this at start-up as a warning.

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
>>> lab = Settings.from_env({"CPAP_STAFF_TOKEN": "s", "CPAP_LEGACY_NETWORKS": "10.1.0.0/16"})
>>> legacy_network_admits(lab, "10.1.7.9"), legacy_network_admits(lab, "10.2.0.1")
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParameterError
from ..limits import ROOM_MAX, ROOM_MIN

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ROLES",
    "Grant",
    "LOOPBACK_NAMES",
    "Settings",
    "check_bind_host",
    "host_allowed",
    "legacy_network_admits",
    "parse_networks",
    "plain_http_warning",
    "read_token_file",
    "served_names",
]

DEFAULT_DATABASE_URL = "sqlite:///cpap_lab.db"
DEFAULT_MAX_BODY_BYTES = 8_000_000
DEFAULT_REQUEST_TIMEOUT_S = 10.0
DEFAULT_WRITES_PER_MINUTE = 120
ROLES = ("device", "staff")
TOKEN_HELP = (
    "set CPAP_DEVICE_TOKEN and/or CPAP_STAFF_TOKEN (comma-separated bearer tokens), "
    "or CPAP_TOKEN_FILE (lines of '<device|staff> <token> [name=NAME] [rooms=201,202]'), then start the server again"
)


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Names a loopback server answers to (any 127.0.0.0/8 address is accepted as well)."""


def _number_setting(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(name, f"must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ParameterError(name, f"must be from {low:g} to {high:g}, got {raw}")
    return value


def _split_tokens(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


@dataclass(frozen=True)
class Grant:
    """One accepted bearer token: its role, a name for logs and audit, and (devices) its rooms.

    Attributes
    ----------
    token : str
        The secret (never logged).
    role : str
        ``"device"`` or ``"staff"``.
    name : str
        Who holds it, as audit records and logs show it: ``name=`` in the token file,
        else ``<role>-<first 8 hex digits of the token's SHA-256>``.
    rooms : frozenset of int, optional
        Rooms a device token may upload to and poll (``rooms=`` in the token file);
        None means every room.

    Examples
    --------
    >>> Grant.parse("device t0k name=bed-201 rooms=201,202")
    Grant(role='device', name='bed-201', rooms=frozenset({201, 202}))
    >>> Grant("staff", "s3cret").name
    'staff-1ec1c26b'
    """

    role: str
    token: str = field(repr=False)
    name: str = ""
    rooms: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            digest = hashlib.sha256(self.token.encode()).hexdigest()[:8]
            object.__setattr__(self, "name", f"{self.role}-{digest}")

    @classmethod
    def parse(cls, line: str) -> Grant:
        """A token-file line ``<role> <token> [name=NAME] [rooms=N,N...]``; ValueError says what is wrong."""
        parts = line.split()
        if len(parts) < 2 or parts[0] not in ROLES:
            raise ValueError("expected '<device|staff> <token> [name=NAME] [rooms=201,202]'")
        options: dict[str, str] = {}
        for option in parts[2:]:
            key, sep, value = option.partition("=")
            if not sep or key not in ("name", "rooms") or not value or key in options:
                raise ValueError(f"unknown or repeated option {option!r} (allowed: name=NAME, rooms=201,202)")
            options[key] = value
        rooms = None
        if "rooms" in options:
            if parts[0] != "device":
                raise ValueError("rooms= applies to device tokens only")
            try:
                rooms = frozenset(int(r) for r in options["rooms"].split(","))
            except ValueError:
                raise ValueError(f"rooms must be comma-separated room numbers, got {options['rooms']!r}") from None
            if not all(ROOM_MIN <= r <= ROOM_MAX for r in rooms):
                raise ValueError(f"rooms must be from {ROOM_MIN} to {ROOM_MAX}")
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", options.get("name", "x")):
            raise ValueError("name must be 1-64 letters, digits or _ . @ -")
        return cls(role=parts[0], token=parts[1], name=options.get("name", ""), rooms=rooms)

    def may_use_room(self, room: int) -> bool:
        """Whether this token may act on ``room``."""
        return self.rooms is None or room in self.rooms


def read_token_file(path: str | os.PathLike) -> list[Grant]:
    """Read a token file of ``<role> <token> [name=NAME] [rooms=201,202]`` lines.

    Blank lines and lines starting with ``#`` are ignored; a malformed line is a
    :class:`~cpap_lib.errors.ParameterError` naming the file and line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError("CPAP_TOKEN_FILE", f"cannot read {path}: {exc.strerror}") from exc
    grants = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            grants.append(Grant.parse(line))
        except ValueError as exc:
            raise ParameterError("CPAP_TOKEN_FILE", f"{path}, line {number}: {exc}") from None
    return grants


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | None) -> tuple[Network, ...]:
    """Parse ``CPAP_LEGACY_NETWORKS`` (CIDR networks, comma-separated).

    A bad entry or a network that spans the whole address space (``/0``) is
    a :class:`~cpap_lib.errors.ParameterError` naming it.

    >>> parse_networks("10.1.0.0/16, 192.168.5.7")
    (IPv4Network('10.1.0.0/16'), IPv4Network('192.168.5.7/32'))
    >>> parse_networks("10.1.0.0/33")
    Traceback (most recent call last):
    ...
    cpap_lib.errors.ParameterError: CPAP_LEGACY_NETWORKS: '10.1.0.0/33' is not a network (CIDR such as 10.1.0.0/16)
    """
    networks = []
    for entry in (e.strip() for e in (value or "").split(",")):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ParameterError(
                "CPAP_LEGACY_NETWORKS", f"{entry!r} is not a network (CIDR such as 10.1.0.0/16)"
            ) from None
        if network.prefixlen == 0:
            raise ParameterError(
                "CPAP_LEGACY_NETWORKS", f"{entry!r} would admit every address; list the lab's networks"
            )
        networks.append(network)
    return tuple(networks)


@dataclass(frozen=True)
class Settings:
    """Server settings (see the module docstring for the environment variables).

    Attributes
    ----------
    database_url : str
        SQLAlchemy database URL.
    grants : tuple of Grant
        Accepted bearer tokens; empty means no access control.
    max_body_bytes : int
        Requests with a larger body are answered 413.
    allowed_hosts : frozenset of str
        Host names (lower case, no port) the server answers to; loopback names always.
    legacy_networks : tuple of ip_network
        Networks whose clients may use the old device routes without a token.
    request_timeout_s : float
        A request without a response after this long is answered 503.
    writes_per_minute : int
        Writes one token may start a minute (429 after); only with tokens.
    """

    database_url: str = DEFAULT_DATABASE_URL
    grants: tuple[Grant, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    legacy_networks: tuple[Network, ...] = ()
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    writes_per_minute: int = DEFAULT_WRITES_PER_MINUTE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``)."""
        env = os.environ if env is None else env
        grants = [
            Grant(role, token)
            for role, variable in (("device", "CPAP_DEVICE_TOKEN"), ("staff", "CPAP_STAFF_TOKEN"))
            for token in _split_tokens(env.get(variable))
        ]
        if env.get("CPAP_TOKEN_FILE"):
            grants += read_token_file(env["CPAP_TOKEN_FILE"])
        raw_limit = env.get("CPAP_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ParameterError("CPAP_MAX_BODY_BYTES", f"must be an integer, got {raw_limit!r}") from None
        if limit < 1024:
            raise ParameterError("CPAP_MAX_BODY_BYTES", f"must be at least 1024, got {limit}")
        timeout = _number_setting(env, "CPAP_REQUEST_TIMEOUT_S", DEFAULT_REQUEST_TIMEOUT_S, 0.5, 600)
        writes = int(_number_setting(env, "CPAP_WRITES_PER_MINUTE", DEFAULT_WRITES_PER_MINUTE, 1, 1_000_000))
        hosts = LOOPBACK_NAMES | {h.lower() for h in _split_tokens(env.get("CPAP_ALLOWED_HOSTS"))}
        return cls(
            database_url=env.get("CPAP_DATABASE_URL") or DEFAULT_DATABASE_URL,
            grants=tuple(grants),
            max_body_bytes=limit,
            allowed_hosts=frozenset(hosts),
            request_timeout_s=timeout,
            writes_per_minute=writes,
            legacy_networks=parse_networks(env.get("CPAP_LEGACY_NETWORKS")),
        )

    @property
    def auth_enabled(self) -> bool:
        """True when at least one token is configured."""
        return bool(self.grants)

    def grant_of(self, token: str) -> Grant | None:
        """The grant of ``token`` (compared in constant time; a staff grant wins a tie), or None."""
        found = None
        for grant in self.grants:
            if hmac.compare_digest(token.encode(), grant.token.encode()) and (found is None or grant.role == "staff"):
                found = grant
        return found

    def role_of(self, token: str) -> str | None:
        """The role of ``token``, or None."""
        grant = self.grant_of(token)
        return grant.role if grant else None


def served_names(host: str) -> frozenset[str]:
    """The names clients may use for a server listening on ``host``.

    A specific address serves that address; a wildcard (``0.0.0.0``, ``::``)
    serves this machine's host name, its fully qualified name and the
    addresses they resolve to locally (add others with ``CPAP_ALLOWED_HOSTS``).
    """
    host = host.strip("[]").lower()
    if host not in ("0.0.0.0", "::", ""):
        return frozenset({host})
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    for name in list(names):
        try:
            names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    return frozenset(names)


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """Whether a ``Host`` header (``name[:port]``) names this server.

    >>> host_allowed("127.0.0.1:8000", LOOPBACK_NAMES), host_allowed("[::1]:80", LOOPBACK_NAMES)
    (True, True)
    >>> host_allowed("evil.example:8000", LOOPBACK_NAMES), host_allowed("127.0.0.1.evil.example", LOOPBACK_NAMES)
    (False, False)
    """
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_warning(host: str, settings: Settings) -> str | None:
    """The start-up warning for tokens served over plain HTTP beyond loopback, or None.

    >>> plain_http_warning("127.0.0.1", Settings(grants=(Grant("staff", "t"),))) is None
    True
    >>> plain_http_warning("0.0.0.0", Settings(grants=(Grant("staff", "t"),))).split(":")[0]
    'serving on 0.0.0.0 over plain HTTP'
    """
    if not settings.auth_enabled or _is_loopback(host):
        return None
    return (
        f"serving on {host} over plain HTTP: bearer tokens and patient data cross the network unencrypted; "
        "put a TLS-terminating reverse proxy in front (see the README's Security section)"
    )


def check_bind_host(host: str, settings: Settings) -> None:
    """Refuse a non-loopback ``host`` when no tokens are configured.

    Raises
    ------
    ParameterError
        With a message saying how to configure tokens.
    """
    if not settings.auth_enabled and not _is_loopback(host):
        extra = (
            " (CPAP_LEGACY_NETWORKS opens only the old device routes; every other route needs a token)"
            if settings.legacy_networks
            else ""
        )
        raise ParameterError("host", f"refusing to listen on {host} without access tokens{extra}; {TOKEN_HELP}")


def legacy_network_admits(settings: Settings, client_host: str | None) -> bool:
    """Whether a request without a token from ``client_host`` may use the old device routes.

    The one place the lab-network exception is decided: true only when tokens
    are configured (otherwise everything is open on loopback anyway) and the
    client's address (the TCP peer; IPv4-mapped IPv6 counts as IPv4) lies in
    one of :attr:`Settings.legacy_networks`. Callers apply it to
    ``POST /add_patient`` and ``GET /CPAP_query/<room>`` only.
    """
    if not settings.legacy_networks or not settings.auth_enabled or not client_host:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.legacy_networks)
