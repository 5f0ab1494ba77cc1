"""Running the server: `cpap-lab serve`, structured logs without patient names, database failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from cpap_lib.client import CpapClient
from cpap_lib.errors import ServerUnavailableError
from cpap_lib.server.process import free_port, start_server

SECRET_NAME = "Zelda Quixotic-Name"


@pytest.mark.slow
def test_cpap_lab_serve_runs_until_interrupted_and_logs_requests_without_names(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPAP_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpap_lib.cli",
            "serve",
            "--port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "cpap-lab serve did not answer /health"
                time.sleep(0.1)
        with CpapClient(url) as api:
            api.upload_measurement(3, "LOG-1", name=SECRET_NAME, cpap_pressure=8)
            assert api.room(3).name == SECRET_NAME
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=30)
    assert process.returncode == 130  # stopped by Ctrl-C (SIGINT), after a graceful shutdown
    assert "Application shutdown complete" in log
    assert "method=POST route=/api/v1/rooms/{room}/measurements status=201 duration_ms=" in log
    assert SECRET_NAME not in log and "Zelda" not in log


def test_database_failure_is_503_with_a_clear_message(tmp_path):
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    with start_server(url, log_level="info") as server, CpapClient(server.url, retries=0) as api:
        receipt = api.upload_measurement(4, "FAIL-1", name=SECRET_NAME, cpap_pressure=8)
        engine = create_engine(url)
        with engine.begin() as connection:  # break the schema under the running server
            connection.execute(text("DROP TABLE measurement_events"))
        engine.dispose()
        answer = requests.get(f"{server.url}/api/v1/measurements/{receipt.measurement_id}", timeout=5)
        assert (answer.status_code, answer.json()) == (503, {"detail": "database unavailable; try again shortly"})
        with pytest.raises(ServerUnavailableError, match="server error 503: database unavailable"):
            api.measurement(receipt.measurement_id)
        log = server.log_path.read_text()
    assert log.count("event=db_unavailable error=OperationalError") == 1
    assert SECRET_NAME not in log


def test_a_poll_the_event_loop_cannot_read_is_answered_from_the_thread_pool(tmp_path):
    """The poll reads SQLite on the event loop; what that read meets goes the thread pool's way (503, one line)."""
    url = f"sqlite:///{tmp_path / 'poll.db'}"
    with start_server(url, log_level="info") as server, CpapClient(server.url, retries=0) as api:
        api.upload_measurement(6, "POLL-1", cpap_pressure=8)
        api.command_pressure(6, 11)
        poll = f"{server.url}/api/v1/rooms/6/pressure"
        assert requests.get(poll, timeout=5).json()["cmh2o"] == 11
        api.command_pressure(6, 12)  # a write from the thread pool, seen by the loop's next read
        assert requests.get(poll, timeout=5).json()["cmh2o"] == 12
        engine = create_engine(url)
        with engine.begin() as connection:  # break the poll's join under the running server
            connection.execute(text("DROP TABLE pressure_commands"))
        engine.dispose()
        answers = [requests.get(poll, timeout=5) for _ in range(3)]
        log = server.log_path.read_text()
    unavailable = (503, {"detail": "database unavailable; try again shortly"})
    assert [(a.status_code, a.json()) for a in answers] == [unavailable] * 3
    assert log.count("event=db_unavailable error=OperationalError") == 1
    assert log.count("route=/api/v1/rooms/{room}/pressure status=503") == 3


def test_unreachable_database_fails_startup_with_the_servers_own_message(tmp_path):
    log = tmp_path / "server.log"
    with pytest.raises(ServerUnavailableError, match="server exited with status") as failed:
        start_server(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing", startup_timeout=30, log_path=log)
    assert str(failed.value).endswith(f"(log: {log})") and log.is_file()  # the log stays, for a person to read


def test_a_temporary_server_log_goes_on_a_clean_stop_and_stays_after_a_failure(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    with start_server(url) as server:
        assert server.log_path.is_file()
    assert not server.log_path.exists()
    with pytest.raises(RuntimeError, match="the test failed"), start_server(url) as failing:
        raise RuntimeError("the test failed")
    assert failing.log_path.is_file(), "kept for a person to read"
    assert f"event=server_log_kept path={failing.log_path}" in caplog.text
    failing.log_path.unlink()
