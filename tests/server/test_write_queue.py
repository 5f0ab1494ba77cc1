"""Starved reads (issue 14.10): reads never wait behind writes; per-token write quotas answer 429."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server


def _seconds(call) -> float:
    start = time.monotonic()
    answer = call()
    assert answer.status_code == 200, answer.text
    return time.monotonic() - start


def test_reads_answer_at_once_while_writes_wait_for_an_external_lock(tmp_path):
    db = tmp_path / "cpap_lab.db"
    with start_server(f"sqlite:///{db}") as server, CpapClient(server.url) as api:
        api.upload_measurement(5, "LOCK-1", cpap_pressure=8)
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write lock, held
        holder.execute("UPDATE rooms SET created_at = created_at")
        try:
            body = {"mrn": "LOCK-1", "cpap_pressure_cmh2o": 9, "flow_image_png_base64": None}
            with ThreadPoolExecutor(60) as pool:
                uploads = [
                    pool.submit(requests.post, f"{server.url}/api/v1/rooms/5/measurements", json=body, timeout=60)
                    for _ in range(60)
                ]
                time.sleep(0.5)
                reads = [
                    _seconds(lambda: requests.get(f"{server.url}/health", timeout=30)),
                    _seconds(lambda: requests.get(f"{server.url}/api/v1/ward", timeout=30)),
                    _seconds(lambda: requests.get(f"{server.url}/api/v1/rooms/5/pressure", timeout=30)),
                ]
                holder.execute("ROLLBACK")
                statuses = sorted({f.result().status_code for f in uploads})
        finally:
            holder.close()
    assert max(reads) < 1.5, reads
    assert set(statuses) <= {201, 503}, statuses  # stored, or a sentence saying the database was busy


def test_a_token_over_its_write_quota_gets_429_and_others_do_not(tmp_path):
    with start_server(
        f"sqlite:///{tmp_path / 'q.db'}", device_tokens=["bed-a", "bed-b"], settings_env={"CPAP_WRITES_PER_MINUTE": "5"}
    ) as server:

        def upload(token: str) -> requests.Response:
            return requests.post(
                f"{server.url}/api/v1/rooms/6/measurements",
                json={"mrn": "Q-1"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )

        assert [upload("bed-a").status_code for _ in range(5)] == [201] * 5
        refused = upload("bed-a")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "more than 5 writes a minute with this token" in refused.json()["detail"]
        assert upload("bed-b").status_code == 201
        poll = requests.get(
            f"{server.url}/api/v1/rooms/6/pressure", headers={"Authorization": "Bearer bed-a"}, timeout=10
        )
        assert poll.status_code == 200
