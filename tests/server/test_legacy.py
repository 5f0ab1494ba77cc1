"""The old clients' routes, seen from our side (SQLite and PostgreSQL).

What the old server answered is compared in ``tests/legacy``; here: what we
store from old-client requests and how the rest of the product sees it.
"""

from __future__ import annotations

import base64

import requests
from sqlalchemy import select

from cpap_lib.client import CpapClient
from cpap_lib.server.db import Database
from cpap_lib.server.models import PressureCommand

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def _old(mrn, room, name="", pressure="", rate="", apnea="", image=""):
    return {
        "patient_name": name,
        "patient_mrn": mrn,
        "room_number": room,
        "CPAP_pressure": pressure,
        "breath_rate": rate,
        "apnea_count": apnea,
        "flow_image": image,
    }


def test_images_are_stored_as_what_they_are(server):
    url = server.url
    for image in (JPEG, PNG, b""):
        payload = _old(11, 61, "Ann", "8", "14.5", "2", base64.b64encode(image).decode())
        assert requests.post(f"{url}/add_patient", json=payload, timeout=5).status_code == 200
    with CpapClient(url) as api:
        stored = [api.measurement(m.id) for m in api.measurements(61)]
    assert [m.flow_png for m in stored] == [JPEG, PNG, None]
    answer = requests.get(f"{url}/api/v1/measurements/{stored[0].id}", timeout=5).json()
    assert (answer["flow_image_type"], base64.b64decode(answer["flow_image_png_base64"])) == ("image/jpeg", JPEG)
    assert requests.get(f"{url}/api/v1/measurements/{stored[1].id}", timeout=5).json()["flow_image_type"] == "image/png"
    view = {p["room_number"]: p for p in requests.get(f"{url}/get_all_patients", timeout=5).json()}[61]
    assert view["flow_image"] == [base64.b64encode(JPEG).decode(), base64.b64encode(PNG).decode(), ""]


def test_an_upload_without_a_pressure_is_kept_though_old_clients_do_not_list_it(server):
    url = server.url
    assert requests.post(
        f"{url}/add_patient", json=_old(12, 62, "Bo", "", "17.25", "3", base64.b64encode(JPEG).decode()), timeout=5
    ).ok
    with CpapClient(url) as api:
        (summary,) = api.measurements(62)
        kept = api.measurement(summary.id)
    metrics = (kept.cpap_pressure_cmh2o, kept.analysis["breath_rate_bpm"], kept.analysis["apnea_count"])
    assert metrics == (None, 17.25, 3)
    assert (kept.analysis["method"], kept.flow_png) == ("gap", JPEG)  # the old clients count apneas by gaps
    view = {p["room_number"]: p for p in requests.get(f"{url}/get_all_patients", timeout=5).json()}[62]
    assert view["CPAP_pressure"] == view["breath_rate"] == view["timestamp"] == []  # as the old server answered


def test_a_pressure_preset_for_an_empty_room_waits_for_its_patient(server):
    url = server.url
    answer = requests.get(f"{url}/new_cpap_pressure/63/11", timeout=5)
    assert (answer.status_code, answer.text) == (200, "Room number 63 CPAP pressure updated to 11")
    with CpapClient(url) as api:
        room = api.room(63)
        assert (room.mrn, room.commanded_cmh2o) == (None, 11)  # staff see the preset on the ward
        assert api.poll_pressure(63).cmh2o == 11
    assert requests.get(f"{url}/CPAP_query/63", timeout=5).text == '"Patient not in database"\n'
    assert 63 not in [p["room_number"] for p in requests.get(f"{url}/get_all_patients", timeout=5).json()]

    assert requests.post(f"{url}/add_patient", json=_old(13, 63, "Cy"), timeout=5).text == '"New patient created"\n'
    assert requests.get(f"{url}/CPAP_query/63", timeout=5).content == b"11\n"
    db = Database(server.database_url)
    try:
        with db.read() as session:
            query = select(PressureCommand.admission_id).where(PressureCommand.room_number == 63)
            (tied,) = session.execute(query).all()
        with CpapClient(url) as api:
            assert tied[0] == api.room(63).admission_id  # the preset now belongs to the patient's stay
    finally:
        db.dispose()


def test_old_answers_have_the_old_shapes(server):
    url = server.url
    requests.post(f"{url}/add_patient", json=_old("0064", "64", "", "9", "12", "0"), timeout=5)
    requests.get(f"{url}/new_cpap_pressure/64/8", timeout=5)
    poll = requests.get(f"{url}/CPAP_query/64", timeout=5)
    assert (poll.status_code, poll.headers["Content-Type"], poll.content) == (200, "application/json", b"8\n")
    everyone = requests.get(f"{url}/get_all_patients", timeout=5)
    assert everyone.content.endswith(b"]\n") and b", " not in everyone.content
    mine = next(p for p in everyone.json() if p["room_number"] == 64)
    assert list(mine) == sorted(mine)  # Flask sorts keys
    assert (mine["patient_mrn"], mine["patient_name"], mine["CPAP_pressure"], mine["breath_rate"]) == (
        64,
        "Not provided",
        [9],
        [12.0],
    )
    assert type(mine["CPAP_pressure"][0]) is int and type(mine["apnea_count"][0]) is int
    with CpapClient(url) as api:
        assert api.room(64).mrn == "64"  # "0064" as text is the old server's integer 64


def test_the_old_pressure_route_records_who_and_the_timeline_shows_it(server):
    url = server.url
    requests.get(f"{url}/new_cpap_pressure/65/10", timeout=5)  # a preset for the empty room, from the old client
    requests.post(f"{url}/add_patient", json=_old(15, 65, "Di", "8", "14", "0"), timeout=5)
    answer = requests.get(f"{url}/new_cpap_pressure/65/12", timeout=5)
    assert (answer.status_code, answer.text) == (200, "Room number 65 CPAP pressure updated to 12")  # as before
    with CpapClient(url) as api:
        night = api.timeline(65)
    audit = [
        e for e in requests.get(f"{url}/api/v1/audit?room=65", timeout=5).json() if e["action"] == "pressure_command"
    ]
    shown = [(c.commanded_by, c.from_cmh2o, c.to_cmh2o, c.before_admission) for c in night.commands]
    assert shown == [
        ("legacy client 127.0.0.1", None, 10, True),  # the preset: the pressure the night began with
        ("legacy client 127.0.0.1", 10.0, 12, False),  # from the preset in effect, not the measured 8
    ]
    assert [(e["actor_name"], e["actor_address"]) for e in audit] == [("anonymous", "127.0.0.1")] * 2  # the same client
