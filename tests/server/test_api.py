"""The versioned API through the client: uploads, admissions, ward, measurements, pressure, errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import requests
from sqlalchemy import select

from cpap_lib.client import CpapClient
from cpap_lib.errors import NotFoundError, ParameterError, ValidationError
from cpap_lib.server.db import Database
from cpap_lib.server.models import PressureCommand
from cpap_lib.server.process import start_server

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

ANALYSIS = {  # the shape of Analysis.to_dict(), extra keys included
    "source": "night.txt",
    "samples": 360000,
    "duration_s": 3600.0,
    "fs_hz": 100.0,
    "skipped_rows": 2,
    "skipped_lines": [14, 90],
    "breath_count": 840,
    "breath_rate_bpm": 14.1,
    "apnea_count": 6,
    "hypopnea_count": 3,
    "apneas": [{"start_s": 100.0, "end_s": 115.5}, {"start_s": 900.0, "end_s": 930.0}],
    "hypopneas": [{"start_s": 2000.0, "end_s": 2020.0}],
    "apnea_index": 6.0,
    "ahi": 9.0,
    "severity": "mild",
    "tidal_volume_l": 0.52,
    "minute_ventilation_lpm": 7.3,
    "inspiratory_time_s": 1.6,
    "net_volume_l": 12.0,
    "leak_lpm": 0.2,
    "method": "amplitude",
    "params": {"threshold": 0.3},
}


def test_upload_then_read_back_every_metric_trace_and_image(client):
    t = np.linspace(0, 60, 500)
    receipt = client.upload_measurement(
        1, "MRN-1", name="Ada Lovelace", cpap_pressure=8, analysis=ANALYSIS, flow_trace=(t, np.sin(t)), flow_png=PNG
    )
    assert receipt.new_admission and receipt.measurement_id is not None
    m = client.measurement(receipt.measurement_id)
    assert (m.room, m.mrn, m.cpap_pressure_cmh2o) == (1, "MRN-1", 8.0)
    for key in (
        "breath_count",
        "breath_rate_bpm",
        "apnea_count",
        "hypopnea_count",
        "apnea_index",
        "ahi",
        "severity",
        "tidal_volume_l",
        "minute_ventilation_lpm",
        "net_volume_l",
        "leak_lpm",
        "method",
    ):
        assert m.analysis[key] == ANALYSIS[key]
    assert m.apneas == [(100.0, 115.5), (900.0, 930.0)] and m.hypopneas == [(2000.0, 2020.0)]
    np.testing.assert_array_equal(m.time_s, t)
    np.testing.assert_allclose(m.flow_lps, np.sin(t), atol=1e-6)
    assert m.flow_png == PNG
    assert m.recorded_at == receipt.recorded_at


def test_long_trace_is_decimated_to_2000_points_keeping_the_ends(client):
    t = np.arange(5000) / 10.0
    receipt = client.upload_measurement(2, "MRN-2", cpap_pressure=9, flow_trace={"time_s": t, "flow_lps": np.cos(t)})
    m = client.measurement(receipt.measurement_id)
    assert m.time_s.size == 2000 and m.time_s[0] == 0.0 and m.time_s[-1] == t[-1]


def test_new_mrn_starts_a_new_admission_and_keeps_the_old_history(client):
    first = [
        client.upload_measurement(3, "OLD-3", name="First", cpap_pressure=7, analysis={"apnea_count": i})
        for i in range(3)
    ]
    new = client.upload_measurement(3, "NEW-3", name="Second", cpap_pressure=10, analysis={"apnea_count": 9})
    assert new.new_admission and new.admission_id != first[0].admission_id
    room = client.room(3)
    assert (room.mrn, room.name, room.latest_measurement.apnea_count) == ("NEW-3", "Second", 9)
    assert [m.id for m in client.measurements(3)] == [new.measurement_id]
    old = client.measurements(3, mrn="OLD-3")
    assert [m.apnea_count for m in old] == [0, 1, 2]
    patient = client.patient("OLD-3")
    assert patient.name == "First" and patient.admissions[0].discharged_at is not None
    assert patient.admissions[0].measurement_count == 3
    assert client.measurement(first[1].measurement_id).mrn == "OLD-3"


def test_a_patient_admitted_to_another_room_leaves_the_first(client):
    client.upload_measurement(21, "MOVE-1", name="Mover", cpap_pressure=7)
    client.upload_measurement(22, "MOVE-1", cpap_pressure=8)
    assert client.room(21).mrn is None and client.room(22).mrn == "MOVE-1"
    stays = client.patient("MOVE-1").admissions
    assert [(s.room, s.discharged_at is None) for s in stays] == [(21, False), (22, True)]


def test_name_is_optional_and_a_given_name_replaces_the_stored_one(client):
    client.admit(4, "MRN-4", name="Grace")
    client.upload_measurement(4, "MRN-4", cpap_pressure=6)
    assert client.room(4).name == "Grace"
    client.admit(4, "MRN-4", name="Grace Hopper")
    assert client.room(4).name == "Grace Hopper"


def test_ward_lists_every_room_with_its_latest_state(client):
    client.upload_measurement(5, "MRN-5", cpap_pressure=8, analysis={"breath_rate_bpm": 12.0})
    last = client.upload_measurement(5, "MRN-5", cpap_pressure=8, analysis={"breath_rate_bpm": 16.0})
    client.command_pressure(5, 11)
    ward = client.ward()
    rooms = {r.room: r for r in ward.rooms}
    assert rooms[5].latest_measurement.id == last.measurement_id
    assert rooms[5].latest_measurement.breath_rate_bpm == 16.0
    assert rooms[5].commanded_cmh2o == 11
    assert [r.room for r in client.rooms()] == sorted(rooms)


def test_pressure_commands_are_polled_newest_first(client):
    client.admit(6, "MRN-6")
    assert client.poll_pressure(6).cmh2o is None
    client.command_pressure(6, 4)
    command = client.command_pressure(6, 25)
    poll = client.poll_pressure(6)
    assert (poll.cmh2o, poll.command_id, poll.commanded_at) == (25, command.id, command.commanded_at)


@pytest.mark.parametrize("bad", [3, 26, 12.5, "12", True])
def test_pressure_outside_4_to_25_is_refused_by_client_and_server(client, server, bad):
    client.admit(7, "MRN-7")
    with pytest.raises(ParameterError, match="cmh2o: must be an integer from 4 to 25"):
        client.command_pressure(7, bad)
    answer = requests.post(f"{server.url}/api/v1/rooms/7/pressure-commands", json={"cmh2o": bad}, timeout=5)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "cmh2o"]
    assert client.poll_pressure(7).cmh2o is None


def test_unknown_room_patient_and_measurement_are_404_with_fixed_messages(client):
    with pytest.raises(NotFoundError, match="^room 999 not found$"):
        client.room(999)
    with pytest.raises(NotFoundError, match="^room 999 not found$"):
        client.poll_pressure(999)
    with pytest.raises(NotFoundError, match="^patient NOBODY not found$"):
        client.patient("NOBODY")
    with pytest.raises(NotFoundError, match="^measurement 99999 not found$"):
        client.measurement(99999)


def test_a_pressure_commanded_for_an_empty_room_is_a_preset_for_its_next_patient(database_url, tmp_path):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("device bed-t0k name=bed-91 rooms=91\nstaff nurse-t0k name=nurse-p\n")
    staff = {"Authorization": "Bearer nurse-t0k"}
    with start_server(database_url, token_file=tokens) as server:
        url = f"{server.url}/api/v1/rooms"
        for bad in (3, 26, 10.5):
            answer = requests.post(f"{url}/92/pressure-commands", json={"cmh2o": bad}, headers=staff, timeout=10)
            assert answer.status_code == 422, answer.text
        assert requests.get(f"{url}/92", headers=staff, timeout=10).status_code == 404  # nothing stored
        assert (
            requests.post(
                f"{url}/91/pressure-commands",
                json={"cmh2o": 12},
                headers={"Authorization": "Bearer bed-t0k"},
                timeout=10,
            ).status_code
            == 403
        )
        answer = requests.post(f"{url}/91/pressure-commands", json={"cmh2o": 12}, headers=staff, timeout=10)
        assert answer.status_code == 201, answer.text
        preset = answer.json()
        assert (preset["room"], preset["cmh2o"], preset["commanded_by"], preset["admission_id"]) == (
            91,
            12,
            "nurse-p",
            None,
        )
        events = requests.get(f"{url[:-6]}/audit?room=91", headers=staff, timeout=10).json()
        assert [(e["action"], e["record_id"], e["actor_name"]) for e in events] == [
            ("pressure_command", preset["id"], "nurse-p")
        ]
        with CpapClient(server.url, token="bed-t0k") as bed:
            assert bed.poll_pressure(91).cmh2o == 12  # the bedside station may set it up at once
            bed.admit(91, "PRESET-1")
            poll = bed.poll_pressure(91)
        assert (poll.cmh2o, poll.command_id) == (12, preset["id"])
        with CpapClient(server.url, token="nurse-t0k") as nurse:
            room = nurse.room(91)
        db = Database(server.database_url)
        try:
            with db.read() as session:
                tied = session.execute(
                    select(PressureCommand.admission_id).where(PressureCommand.id == preset["id"])
                ).scalar_one()
        finally:
            db.dispose()
        spec = requests.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    assert (room.mrn, room.commanded_cmh2o, tied) == ("PRESET-1", 12, room.admission_id)
    command = spec["/api/v1/rooms/{room}/pressure-commands"]["post"]
    assert "preset" in command["description"] and "404" not in command["responses"]


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        ({"breath_rate_bpm": 500}, "analysis.breath_rate_bpm: Input should be less than or equal to 200"),
        ({"apnea_count": -1}, "analysis.apnea_count: Input should be greater than or equal to 0"),
        ({"severity": "awful"}, "analysis.severity: Input should be 'normal', 'mild', 'moderate' or 'severe'"),
        ({"apneas": [{"start_s": 5, "end_s": 1}]}, "end_s must not be before start_s"),
    ],
)
def test_out_of_range_metrics_are_422_naming_field_and_range_and_store_nothing(client, analysis, message):
    before = client.ward()
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")) as caught:
        client.upload_measurement(8, "MRN-8", cpap_pressure=8, analysis=analysis)
    assert caught.value.status == 422
    assert client.ward().rooms == before.rooms


def test_bad_trace_and_image_are_refused(client):
    with pytest.raises(ValidationError, match="time_s has 3 points but flow_lps has 2"):
        client.upload_measurement(8, "MRN-8", flow_trace=([0, 1, 2], [0, 1]))
    with pytest.raises(ValidationError, match="flow_image_png_base64: .*not a PNG image"):
        client.upload_measurement(8, "MRN-8", flow_png=b"GIF89a....")
    with pytest.raises(ValidationError, match="flow_trace.time_s: List should have at most 5000 items"):
        client.upload_measurement(8, "MRN-8", flow_trace=(np.arange(5001.0), np.zeros(5001)))
    with pytest.raises(NotFoundError):
        client.room(8)


def test_body_over_the_limit_is_413(server):
    payload = {"mrn": "MRN-9", "flow_image_png_base64": base64.b64encode(PNG + b"\x00" * 9_000_000).decode()}
    answer = requests.post(f"{server.url}/api/v1/rooms/9/measurements", json=payload, timeout=30)
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body larger than 8000000 bytes"}


def test_chunked_body_over_the_limit_is_413(server):
    chunks = (b"x" * 1_000_000 for _ in range(10))
    answer = requests.post(
        f"{server.url}/api/v1/rooms/9/measurements",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 413


def test_openapi_document_describes_the_versioned_api(server):
    paths = requests.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    for path in (
        "/api/v1/ward",
        "/api/v1/rooms/{room}/measurements",
        "/api/v1/rooms/{room}/pressure",
        "/api/v1/rooms/{room}/pressure-commands",
        "/api/v1/measurements/{measurement_id}",
        "/api/v1/patients/{mrn}",
        "/health",
    ):
        assert path in paths
