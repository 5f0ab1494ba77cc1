"""Where the pages find the server: ``CPAP_API_URL`` and a bearer token.

The server gives ``staff`` tokens the ward, rooms and pressure commands and
``device`` tokens uploads (see :mod:`cpap_lib.server.deps`). A page takes the
token of its role from ``CPAP_API_TOKEN_STAFF`` (staff page) or
``CPAP_API_TOKEN_DEVICE`` (bedside page), else ``CPAP_API_TOKEN``. Without a
token the server must run without tokens (loopback only, as in the demo).

Examples
--------
>>> from cpap_lib.dashboard.runtime.connection import client_from_env
>>> env = {"CPAP_API_URL": "http://127.0.0.1:9/", "CPAP_API_TOKEN": "t", "CPAP_API_TOKEN_DEVICE": "d"}
>>> client = client_from_env(env)
>>> client.base_url, client.token, client.timeout
('http://127.0.0.1:9', 't', 5.0)
>>> client_from_env(env, role="device").token
'd'
>>> client_from_env({}).base_url
'http://127.0.0.1:8000'
>>> client_from_env({"CPAP_API_URL": "localhost:8000"})
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: CPAP_API_URL: must be an http:// or https:// address such as http://127.0.0.1:8000, got 'localhost:8000'
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ...client import CpapClient
from ...errors import ParameterError

__all__ = ["DEFAULT_API_URL", "REQUEST_TIMEOUT_S", "client_from_env"]

DEFAULT_API_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_S = 5.0
"""Timeout of every request a page makes (connect and each read)."""


def client_from_env(environ: Mapping[str, str] | None = None, *, role: str = "staff") -> CpapClient:
    """A :class:`~cpap_lib.client.CpapClient` for ``CPAP_API_URL`` with the token of ``role``.

    Parameters
    ----------
    environ : mapping, optional
        The environment (``os.environ`` when omitted).
    role : {"staff", "device"}
        Which token the page needs.

    Reads are retried once, so a page's refresh gives up within about two
    timeouts and shows why.
    """
    if role not in ("staff", "device"):
        raise ParameterError("role", f"must be 'staff' or 'device', got {role!r}")
    environ = os.environ if environ is None else environ
    url = environ.get("CPAP_API_URL", "").strip() or DEFAULT_API_URL
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ParameterError(
            "CPAP_API_URL", f"must be an http:// or https:// address such as {DEFAULT_API_URL}, got {url!r}"
        )
    token = (
        environ.get(f"CPAP_API_TOKEN_{role.upper()}", "").strip() or environ.get("CPAP_API_TOKEN", "").strip() or None
    )
    return CpapClient(url, token=token, timeout=REQUEST_TIMEOUT_S, retries=1)
