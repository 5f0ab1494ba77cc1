"""Database outages (issue 14.2): a hung or killed PostgreSQL never freezes the server.

A private PostgreSQL cluster (not the session's: this test stops and kills it)
is frozen with SIGSTOP, then resumed, then killed. Throughout, every route
answers within the request deadline (3 s here) with a sentence, routes that
need no database answer at once, and the log has one line per outage and one
per recovery, never a traceback.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server
from support import running_postgres

DEADLINE_S = 3.0
ROOM = 71
DB_ROUTES = [
    f"/api/v1/rooms/{ROOM}/pressure",
    f"/CPAP_query/{ROOM}",
    "/api/v1/ward",
    "/health",
    f"/api/v1/rooms/{ROOM}",
    "/api/v1/patients",
]


def _cluster_pids(datadir: Path) -> list[int]:
    """The postmaster and every backend of the cluster."""
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _timed_get(url: str) -> tuple[int, float, str]:
    start = time.monotonic()
    answer = requests.get(url, timeout=30)
    return answer.status_code, time.monotonic() - start, answer.text


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_a_hung_then_killed_postgresql_gives_503_sentences_in_time_and_one_log_line_each(tmp_path):
    with running_postgres() as cluster:
        log = tmp_path / "server.log"
        with start_server(
            cluster.new_database(),
            log_level="info",
            log_path=log,
            settings_env={"CPAP_REQUEST_TIMEOUT_S": str(DEADLINE_S)},
        ) as server:
            with CpapClient(server.url) as api:
                api.upload_measurement(ROOM, "OUT-1", name="Outage Patient", cpap_pressure=8)
                api.command_pressure(ROOM, 9)
            pids = _cluster_pids(cluster.datadir)
            _signal_all(pids, signal.SIGSTOP)
            try:
                with ThreadPoolExecutor(len(DB_ROUTES) * 2) as pool:
                    hung = list(pool.map(_timed_get, [server.url + p for p in DB_ROUTES * 2]))
                    docs = _timed_get(server.url + "/docs")
                    unknown = _timed_get(server.url + "/nothing-here")
            finally:
                _signal_all(pids, signal.SIGCONT)
            for (status, seconds, text), path in zip(hung, DB_ROUTES * 2):
                assert status == 503 and seconds < DEADLINE_S + 2, (path, status, seconds)
                assert "try again shortly" in text, path
            assert docs[0] == 200 and docs[1] < 1.0
            assert unknown[0] == 404 and unknown[1] < 1.0

            deadline = time.monotonic() + 30
            while requests.get(f"{server.url}/api/v1/rooms/{ROOM}/pressure", timeout=30).status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover after SIGCONT"
                time.sleep(0.2)
            assert requests.get(f"{server.url}/CPAP_query/{ROOM}", timeout=10).json() == 9

            _signal_all(_cluster_pids(cluster.datadir), signal.SIGKILL)
            time.sleep(0.5)
            with ThreadPoolExecutor(len(DB_ROUTES)) as pool:
                down = list(pool.map(_timed_get, [server.url + p for p in DB_ROUTES * 3]))
            for (status, seconds, text), path in zip(down, DB_ROUTES * 3):
                assert status == 503 and seconds < DEADLINE_S + 2, (path, status, seconds)
                assert "try again shortly" in text, path
        text = log.read_text()
    assert text.count("event=db_unavailable") == 2, text[-3000:]
    assert text.count("event=db_available") == 1
    assert "Traceback" not in text and "Outage Patient" not in text
