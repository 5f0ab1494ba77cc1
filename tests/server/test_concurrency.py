"""20 threads x 25 uploads to the same room: every measurement is stored and listed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cpap_lib.client import CpapClient

THREADS, UPLOADS = 20, 25


@pytest.mark.slow
def test_500_concurrent_uploads_to_one_room_are_all_stored(server):
    def upload_many(thread: int) -> list[int]:
        with CpapClient(server.url, timeout=30.0) as api:
            return [
                api.upload_measurement(
                    42, "CONC-1", cpap_pressure=8, analysis={"apnea_count": thread, "breath_count": i}
                ).measurement_id
                for i in range(UPLOADS)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        ids = [mid for chunk in pool.map(upload_many, range(THREADS)) for mid in chunk]
    assert len(set(ids)) == THREADS * UPLOADS
    with CpapClient(server.url) as api:
        listed = api.measurements(42)
        assert sorted(m.id for m in listed) == sorted(ids)
        patient = api.patient("CONC-1")
        assert len(patient.admissions) == 1 and patient.admissions[0].measurement_count == THREADS * UPLOADS
        assert api.room(42).latest_measurement.id == max(ids)
