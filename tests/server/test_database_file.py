"""The SQLite file under a running server (issue 14.7): deleted or read-only is noticed by /health and by writes."""

from __future__ import annotations

import os

import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server


@pytest.mark.slow
def test_a_deleted_database_file_fails_health_and_writes_loudly(tmp_path):
    db = tmp_path / "cpap_lab.db"
    with start_server(f"sqlite:///{db}") as server, CpapClient(server.url, retries=0) as api:
        api.upload_measurement(3, "FILE-1", cpap_pressure=8)
        for path in tmp_path.glob("cpap_lab.db*"):
            path.unlink()
        upload = requests.post(
            f"{server.url}/api/v1/rooms/3/measurements", json={"mrn": "FILE-1", "cpap_pressure_cmh2o": 9}, timeout=10
        )
        health = requests.get(f"{server.url}/health", timeout=10)
    for answer in (upload, health):
        assert answer.status_code == 503
        assert answer.json()["detail"] == (
            f"the database file {db} was deleted under the running server; restore it and restart"
        )


@pytest.mark.slow
def test_a_read_only_database_file_fails_health_and_writes_until_writable_again(tmp_path):
    db = tmp_path / "cpap_lab.db"
    with start_server(f"sqlite:///{db}") as server, CpapClient(server.url, retries=0) as api:
        api.upload_measurement(4, "FILE-2", cpap_pressure=8)
        os.chmod(db, 0o444)
        try:
            upload = requests.post(f"{server.url}/api/v1/rooms/4/measurements", json={"mrn": "FILE-2"}, timeout=10)
            health = requests.get(f"{server.url}/health", timeout=10)
            reading = requests.get(f"{server.url}/api/v1/rooms/4", timeout=10)
        finally:
            os.chmod(db, 0o644)
        assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
        api.upload_measurement(4, "FILE-2", cpap_pressure=9)
    for answer in (upload, health):
        assert answer.status_code == 503
        assert answer.json()["detail"] == f"the database file {db} (or its folder) is read-only"
    assert reading.status_code == 200
