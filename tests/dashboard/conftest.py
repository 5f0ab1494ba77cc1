"""Fixtures for the in-process dashboard tests: a client of the session's live server."""

from __future__ import annotations

import pytest

from cpap_lib.client import CpapClient


@pytest.fixture
def client(live_server):
    with CpapClient(live_server, timeout=10.0) as api:
        yield api
