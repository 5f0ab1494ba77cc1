"""``--workers 2`` on PostgreSQL: 2,000 concurrent uploads to 20 rooms, every one stored exactly once.

Each upload carries its own number (``analysis.breath_count``); afterwards the
database holds each number once, 100 per room, in one admission per room, and
the uvicorn log shows two worker processes. On SQLite more than one worker is
refused with a sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from cpap_lib.client import CpapClient
from cpap_lib.errors import ParameterError
from cpap_lib.server.process import start_server

ROOMS, UPLOADS, THREADS = 20, 2000, 40


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_store_2000_concurrent_uploads_to_20_rooms_exactly_once(postgres_cluster, tmp_path):
    url = postgres_cluster.new_database()
    log = tmp_path / "server.log"
    with start_server(url, workers=2, log_level="info", log_path=log) as server:

        def upload(numbers: range) -> list[int]:
            with CpapClient(server.url, timeout=60.0) as api:
                return [
                    api.upload_measurement(
                        101 + n % ROOMS, f"WRK-{n % ROOMS:02d}", cpap_pressure=8, analysis={"breath_count": n}
                    ).measurement_id
                    for n in numbers
                ]

        chunks = [range(start, UPLOADS, THREADS) for start in range(THREADS)]
        with ThreadPoolExecutor(THREADS) as pool:
            ids = [mid for chunk in pool.map(upload, chunks) for mid in chunk]
        with CpapClient(server.url) as api:
            ward = {room.room: room for room in api.ward().rooms}
    workers = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
    assert len(workers) == 2, log.read_text()[-2000:]

    assert len(ids) == len(set(ids)) == UPLOADS
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT a.room_number, m.breath_count, m.id FROM measurements m "
                    "JOIN admissions a ON a.id = m.admission_id"
                )
            ).all()
            admissions = connection.execute(sa.text("SELECT room_number FROM admissions")).scalars().all()
    finally:
        engine.dispose()
    assert sorted(r.breath_count for r in rows) == list(range(UPLOADS))  # none lost, none twice
    assert sorted(r.id for r in rows) == sorted(ids)
    assert all(r.room_number == 101 + r.breath_count % ROOMS for r in rows)
    assert Counter(r.room_number for r in rows) == {101 + k: UPLOADS // ROOMS for k in range(ROOMS)}
    assert sorted(admissions) == [101 + k for k in range(ROOMS)]  # one admission per room
    assert set(ward) >= {101 + k for k in range(ROOMS)}
    for k in range(ROOMS):
        assert ward[101 + k].latest_measurement.id == max(r.id for r in rows if r.room_number == 101 + k)


def test_more_than_one_worker_on_sqlite_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(ParameterError, match="runs one worker on SQLite; for --workers 2 use PostgreSQL"):
        start_server(f"sqlite:///{tmp_path / 'lab.db'}", workers=2)
