"""Where the pages find the server: ``CPAP_API_URL`` and ``CPAP_API_TOKEN``.

Examples
--------
>>> from cpap_lib.dashboard.connection import client_from_env
>>> client = client_from_env({"CPAP_API_URL": "http://127.0.0.1:9/", "CPAP_API_TOKEN": "t"})
>>> client.base_url, client.token, client.timeout
('http://127.0.0.1:9', 't', 5.0)
>>> client_from_env({}).base_url
'http://127.0.0.1:8000'
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..client import CpapClient

__all__ = ["DEFAULT_API_URL", "REQUEST_TIMEOUT_S", "client_from_env"]

DEFAULT_API_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT_S = 5.0
"""Timeout of every request a page makes (connect and each read)."""


def client_from_env(environ: Mapping[str, str] | None = None) -> CpapClient:
    """A :class:`~cpap_lib.client.CpapClient` for ``CPAP_API_URL`` (token from ``CPAP_API_TOKEN``).

    Reads are retried once; a page's refresh then gives up within about
    two timeouts and shows why.
    """
    environ = os.environ if environ is None else environ
    url = environ.get("CPAP_API_URL", "").strip() or DEFAULT_API_URL
    token = environ.get("CPAP_API_TOKEN", "").strip() or None
    return CpapClient(url, token=token, timeout=REQUEST_TIMEOUT_S, retries=1)
