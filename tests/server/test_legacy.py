"""The old system's clients: exact payloads against the compatibility routes."""

from __future__ import annotations

import base64

import pytest
import requests

from cpap_lib.client import CpapClient

PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x01" * 32).decode()

OLD_FULL = {"patient_name": "Ann Old", "patient_mrn": "1234", "room_number": "31", "CPAP_pressure": "8",
            "breath_rate": "14.5", "apnea_count": "2", "flow_image": PNG_B64}
OLD_ONLY_IDS = {"patient_name": "", "patient_mrn": "1234", "room_number": "31", "CPAP_pressure": "",
                "breath_rate": "", "apnea_count": "", "flow_image": ""}
OLD_NUMBERS = {"patient_name": "Bo", "patient_mrn": 77, "room_number": 32, "CPAP_pressure": 12,
               "breath_rate": 16.0, "apnea_count": 0, "flow_image": ""}


def test_add_patient_with_old_payloads(server):
    url = server.url
    answer = requests.post(f"{url}/add_patient", json=OLD_FULL, timeout=5)
    assert (answer.status_code, answer.text) == (200, "Patient successfully added")
    assert requests.post(f"{url}/add_patient", json=OLD_ONLY_IDS, timeout=5).status_code == 200
    assert requests.post(f"{url}/add_patient", json=OLD_NUMBERS, timeout=5).status_code == 200
    with CpapClient(url) as api:
        room = api.room(31)
        assert (room.mrn, room.name) == ("1234", "Ann Old")  # "" does not erase the stored name
        assert len(api.measurements(31)) == 1  # the ids-only upload adds no measurement
        m = api.measurement(room.latest_measurement.id)
        assert (m.cpap_pressure_cmh2o, m.analysis["breath_rate_bpm"], m.analysis["apnea_count"]) == (8.0, 14.5, 2)
        assert m.flow_png == base64.b64decode(PNG_B64)
        assert api.room(32).latest_measurement.apnea_count == 0


def test_cpap_query_new_pressure_and_get_all_patients(server):
    url = server.url
    requests.post(f"{url}/add_patient", json={**OLD_FULL, "room_number": "33", "patient_mrn": "33"}, timeout=5)
    query = requests.get(f"{url}/CPAP_query/33", timeout=5)
    assert (query.status_code, query.json()) == (200, 8)  # before any command: the uploaded pressure
    answer = requests.get(f"{url}/new_cpap_pressure/33/15", timeout=5)
    assert (answer.status_code, answer.text) == (200, "CPAP pressure for room 33 set to 15")
    assert requests.get(f"{url}/CPAP_query/33", timeout=5).json() == 15
    with CpapClient(url) as api:
        assert api.poll_pressure(33).cmh2o == 15
    everyone = {p["room_number"]: p for p in requests.get(f"{url}/get_all_patients", timeout=5).json()}
    assert everyone[33] == {"room_number": 33, "patient_mrn": "33", "patient_name": "Ann Old", "CPAP_pressure": 15,
                            "breath_rate": 14.5, "apnea_count": 2, "timestamp": everyone[33]["timestamp"]}
    assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"


@pytest.mark.parametrize(("payload", "message"), [
    ({**OLD_FULL, "room_number": "abc"}, "room_number: must be a number, got 'abc'"),
    ({**OLD_FULL, "room_number": ""}, "room_number: is required"),
    ({**OLD_FULL, "patient_mrn": ""}, "patient_mrn: is required"),
    ({**OLD_FULL, "CPAP_pressure": "high"}, "CPAP_pressure: must be a number, got 'high'"),
    ({**OLD_FULL, "apnea_count": "2.5"}, "apnea_count: must be an integer from 0 to 1000000, got '2.5'"),
    ({**OLD_FULL, "breath_rate": "900"}, "breath_rate: Input should be less than or equal to 200"),
    ({**OLD_FULL, "flow_image": "not base64!"}, "flow_image: Value error, not valid base64"),
    ([1, 2], "body: must be a JSON object"),
])
def test_add_patient_bad_input_is_400_and_stores_nothing(server, payload, message):
    payload = {**payload, "room_number": payload.get("room_number", "34")} if isinstance(payload, dict) else payload
    if isinstance(payload, dict) and payload["room_number"] == "31":
        payload["room_number"] = "34"
    answer = requests.post(f"{server.url}/add_patient", json=payload, timeout=5)
    assert (answer.status_code, answer.text) == (400, message)
    assert requests.get(f"{server.url}/CPAP_query/34", timeout=5).status_code == 404


def test_add_patient_body_that_is_not_json_is_400(server):
    answer = requests.post(f"{server.url}/add_patient", data=b"\xff{", headers={"Content-Type": "application/json"},
                           timeout=5)
    assert (answer.status_code, answer.text) == (400, "body: must be a JSON object")


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/CPAP_query/999", 404, "room 999 not found"),
    ("/CPAP_query/ten", 400, "room_number: must be a number, got 'ten'"),
    ("/new_cpap_pressure/999/10", 404, "room 999 not found"),
    ("/new_cpap_pressure/33/30", 400, "CPAP_pressure: must be an integer from 4 to 25, got '30'"),
    ("/new_cpap_pressure/33/8.5", 400, "CPAP_pressure: must be an integer from 4 to 25, got '8.5'"),
    ("/new_cpap_pressure/33/nan", 400, "CPAP_pressure: must be a finite number, got 'nan'"),
])
def test_old_get_routes_answer_clear_4xx(server, path, status, message):
    requests.post(f"{server.url}/add_patient", json={**OLD_FULL, "room_number": "33", "patient_mrn": "33"}, timeout=5)
    answer = requests.get(server.url + path, timeout=5)
    assert (answer.status_code, answer.text.strip('"')) == (status, message)
