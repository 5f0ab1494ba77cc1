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
    legacy = requests.get(
        f"{protected}/new_cpap_pressure/51/10", headers={"Authorization": f"Bearer {DEVICE}"}, timeout=5
    )
    assert legacy.status_code == 403


@pytest.mark.slow
def test_no_tokens_refuses_a_non_loopback_host():
    with pytest.raises(ParameterError, match="refusing to listen on 0.0.0.0 without access tokens; set CPAP_DEVICE"):
        start_server("sqlite://", host="0.0.0.0")
    done = subprocess.run(
        [sys.executable, "-m", "cpap_lib.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without access tokens" in done.stderr
    assert "CPAP_STAFF_TOKEN" in done.stderr


def test_a_device_token_acts_on_its_rooms_only(database_url, tmp_path):
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("device bed-t0k name=bed-201 rooms=201\nstaff nurse-t0k name=nurse-a\n")
    with start_server(database_url, token_file=token_file) as server:
        bed = {"Authorization": "Bearer bed-t0k"}
        with CpapClient(server.url, token="bed-t0k") as device:
            device.upload_measurement(201, "ROOMS-1", cpap_pressure=8)
            assert device.poll_pressure(201).room == 201
            with pytest.raises(ForbiddenError, match="this device token may act on rooms 201 only, not room 202"):
                device.upload_measurement(202, "ROOMS-1", cpap_pressure=8)
            with pytest.raises(ForbiddenError, match="not room 202"):
                device.poll_pressure(202)
        old = requests.post(
            f"{server.url}/add_patient", json={"patient_mrn": "ROOMS-2", "room_number": 202}, headers=bed, timeout=5
        )
        assert old.status_code == 403 and "not room 202" in old.text
        assert requests.get(f"{server.url}/CPAP_query/202", headers=bed, timeout=5).status_code == 403
        with CpapClient(server.url, token="nurse-t0k") as staff:
            rooms = [r.room for r in staff.rooms()]
            assert 201 in rooms and 202 not in rooms


def test_token_file_lines_are_checked_with_file_and_line(tmp_path):
    from cpap_lib.server.settings import Settings

    bad = tmp_path / "tokens.txt"
    bad.write_text("device ok-token\nstaff nurse rooms=201\n")
    with pytest.raises(ParameterError, match=r"tokens.txt, line 2: rooms= applies to device tokens only"):
        Settings.from_env({"CPAP_TOKEN_FILE": str(bad)})
    bad.write_text("device t0k rooms=1,x\n")
    with pytest.raises(ParameterError, match="line 1: rooms must be comma-separated room numbers"):
        Settings.from_env({"CPAP_TOKEN_FILE": str(bad)})


def test_guessing_tokens_is_slowed_to_20_a_minute_per_address(tmp_path):
    with start_server(f"sqlite:///{tmp_path / 'guess.db'}", staff_tokens="right-token") as server:

        def ward(token: str) -> requests.Response:
            return requests.get(f"{server.url}/api/v1/ward", headers={"Authorization": f"Bearer {token}"}, timeout=5)

        assert {ward(f"guess-{i}").status_code for i in range(20)} == {401}
        refused = ward("right-token")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert refused.json() == {
            "detail": f"too many unknown tokens from this address; try again in {refused.headers['Retry-After']} s"
        }
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
