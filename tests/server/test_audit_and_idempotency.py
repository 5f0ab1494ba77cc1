"""Audit trail and idempotent uploads (issue 14.11, 14.13)."""

from __future__ import annotations

import requests

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server


def test_commands_acknowledgements_and_notes_record_who_when_and_from_where(database_url, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("device bed-t0k name=bed-81 rooms=81\nstaff nurse-t0k name=nurse-a\n")
    with start_server(database_url, token_file=tokens) as server:
        with CpapClient(server.url, token="bed-t0k") as bed, CpapClient(server.url, token="nurse-t0k") as nurse:
            bed.upload_measurement(81, "AUD-1", cpap_pressure=8)
            nurse.command_pressure(81, 10)
            staff = {"Authorization": "Bearer nurse-t0k"}
            note = requests.post(
                f"{server.url}/api/v1/rooms/81/notes", json={"text": "mask refitted"}, headers=staff, timeout=10
            )
            assert note.status_code == 201, note.text
            events = requests.get(f"{server.url}/api/v1/audit?room=81", headers=staff, timeout=10).json()
            device_view = requests.get(
                f"{server.url}/api/v1/audit", headers={"Authorization": "Bearer bed-t0k"}, timeout=10
            )
    assert [(e["action"], e["actor_name"], e["actor_role"], e["actor_address"]) for e in events] == [
        ("note", "nurse-a", "staff", "127.0.0.1"),
        ("pressure_command", "nurse-a", "staff", "127.0.0.1"),
    ]
    assert all(e["at"].endswith("Z") or "+00:00" in e["at"] for e in events)
    assert device_view.status_code == 403


def test_a_re_sent_upload_with_the_same_key_is_stored_once(server):
    url = f"{server.url}/api/v1/rooms/82/measurements"
    body = {"mrn": "IDEM-1", "cpap_pressure_cmh2o": 8}
    first = requests.post(url, json=body, headers={"Idempotency-Key": "k-1234"}, timeout=10)
    again = requests.post(url, json=body, headers={"Idempotency-Key": "k-1234"}, timeout=10)
    other = requests.post(url, json=body, headers={"Idempotency-Key": "k-5678"}, timeout=10)
    assert first.status_code == again.status_code == other.status_code == 201
    assert first.json()["measurement_id"] == again.json()["measurement_id"] != other.json()["measurement_id"]
    with CpapClient(server.url) as api:
        assert len(api.measurements(82)) == 2
        api.upload_measurement(82, "IDEM-1", cpap_pressure=9)
        assert len(api.measurements(82)) == 3
    bad = requests.post(url, json=body, headers={"Idempotency-Key": "has space"}, timeout=10)
    assert bad.status_code == 422
