"""Hostile bodies (issue 14.5): NaN, lone surrogates, broken and deeply nested JSON get 4xx sentences, and no
request body or patient name ever reaches the log."""

from __future__ import annotations

import pytest
import requests

from cpap_lib.server.process import start_server
from support import wait_until

SECRET = "Secret Quill-Name"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def logged_server(database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    with start_server(database_url, log_level="info", log_path=log) as server:
        server.log = log
        yield server


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b'{"mrn": "H1", "name": "%s", "cpap_pressure_cmh2o": NaN}', 422, "Input should be a finite number"),
        (b'{"mrn": "H1", "name": "\\ud800 %s"}', 422, "unable to parse raw data as a unicode string"),
        (
            b'{"mrn": "H1", "name": "%s", "analysis": {"apneas": [{"start_s": Infinity, "end_s": 1}]}}',
            422,
            "Input should be a finite number",
        ),
        (b'{"mrn": "H1", "name": "%s", ', 400, "body: not valid JSON"),
        (b"[" * 100_000, 400, "body: JSON nested deeper than 64 levels"),
    ],
)
def test_hostile_measurement_bodies_get_4xx_sentences(logged_server, body, status, detail):
    body = body.replace(b"%s", SECRET.encode()) if b"%s" in body else body
    answer = requests.post(f"{logged_server.url}/api/v1/rooms/5/measurements", data=body, headers=JSON, timeout=10)
    assert answer.status_code == status
    assert detail in answer.text
    assert SECRET not in answer.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[" * 100_000, "body: JSON nested deeper than 64 levels"),
        (
            b'{"patient_mrn": "5", "room_number": "5", "patient_name": "%s", "CPAP_pressure": "8", "breath_rate": "1", '
            b'"apnea_count": "1", "flow_image": "data:x"}',
            "flow_image",
        ),
    ],
)
def test_hostile_old_uploads_get_400(logged_server, body, detail):
    body = body.replace(b"%s", SECRET.encode())
    answer = requests.post(f"{logged_server.url}/add_patient", data=body, headers=JSON, timeout=10)
    assert answer.status_code == 400 and detail in answer.text


def test_nothing_of_the_bodies_is_logged(logged_server):
    requests.post(
        f"{logged_server.url}/api/v1/rooms/5/measurements",
        data=b'{"mrn": "H1", "name": "%s", "x": NaN}'.replace(b"%s", SECRET.encode()),
        headers=JSON,
        timeout=10,
    )
    requests.get(f"{logged_server.url}/api/v1/patients/MRN-IN-PATH%0Alevel=ERROR", timeout=10)

    def written() -> str:
        text = logged_server.log.read_text()
        return text if "route=/api/v1/patients/{mrn}" in text else ""

    log = wait_until(written, timeout=10)
    assert SECRET not in log and "Quill" not in log and "MRN-IN-PATH" not in log
    assert "Traceback" not in log and "status=500" not in log
    assert "route=/api/v1/patients/{mrn} status=" in log
