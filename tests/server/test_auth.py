"""Access control: tokens per role, 401/403, and loopback-only without tokens."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.errors import ForbiddenError, ParameterError, UnauthorizedError
from cpap_lib.server.process import start_server

DEVICE, STAFF, FILE_STAFF = "dev-token-1", "staff-token-1", "staff-from-file"


@pytest.fixture(scope="module")
def protected(database_url, tmp_path_factory):
    token_file = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    token_file.write_text(f"# role token\nstaff {FILE_STAFF}\n")
    with start_server(database_url, device_tokens=DEVICE, staff_tokens=[STAFF], token_file=token_file) as server:
        yield server.url


def test_health_is_open_and_everything_else_needs_a_token(protected):
    assert requests.get(f"{protected}/health", timeout=5).status_code == 200
    answer = requests.get(f"{protected}/api/v1/ward", timeout=5)
    assert (answer.status_code, answer.json()) == (401, {"detail": "missing bearer token"})
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    with CpapClient(protected, token="wrong") as api, pytest.raises(UnauthorizedError, match="unknown token"):
        api.ward()
    assert requests.get(f"{protected}/CPAP_query/1", timeout=5).status_code == 401


def test_device_uploads_and_polls_staff_reads_and_commands(protected):
    with CpapClient(protected, token=DEVICE) as device, CpapClient(protected, token=STAFF) as staff:
        device.upload_measurement(51, "AUTH-1", cpap_pressure=8)
        with pytest.raises(ForbiddenError, match="a device token may not do this"):
            device.ward()
        with pytest.raises(ForbiddenError):
            device.command_pressure(51, 9)
        with pytest.raises(ForbiddenError, match="a staff token may not do this"):
            staff.upload_measurement(51, "AUTH-1", cpap_pressure=8)
        staff.command_pressure(51, 9)
        assert device.poll_pressure(51).cmh2o == 9 == staff.room(51).commanded_cmh2o
    with CpapClient(protected, token=FILE_STAFF) as from_file:
        assert from_file.poll_pressure(51).cmh2o == 9
    legacy = requests.get(f"{protected}/new_cpap_pressure/51/10", headers={"Authorization": f"Bearer {DEVICE}"},
                          timeout=5)
    assert legacy.status_code == 403


@pytest.mark.slow
def test_no_tokens_refuses_a_non_loopback_host():
    with pytest.raises(ParameterError, match="refusing to listen on 0.0.0.0 without access tokens; set CPAP_DEVICE"):
        start_server("sqlite://", host="0.0.0.0")
    done = subprocess.run([sys.executable, "-m", "cpap_lib.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without access tokens" in done.stderr
    assert "CPAP_STAFF_TOKEN" in done.stderr
