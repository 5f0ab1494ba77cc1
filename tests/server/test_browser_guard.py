"""Cross-site requests and DNS rebinding (issue 14.1): what only a browser on another site sends is refused.

Old clients (python ``requests``: no Origin, no Sec-Fetch-*, JSON bodies) and
our own client keep working; the hostile page itself is replayed in a real
Chromium in ``tests/browser/test_hostile_page.py``.
"""

from __future__ import annotations

import pytest
import requests

from cpap_lib.client import CpapClient

ROOM = 61


@pytest.fixture(scope="module")
def admitted(server):
    old_client = {
        "patient_name": "",
        "patient_mrn": 6101,
        "room_number": ROOM,
        "CPAP_pressure": "8",
        "breath_rate": "",
        "apnea_count": "",
        "flow_image": "",
    }  # every key, as the old clients send
    answer = requests.post(f"{server.url}/add_patient", json=old_client, timeout=5)
    assert answer.status_code == 200, answer.text
    requests.get(f"{server.url}/new_cpap_pressure/{ROOM}/9", timeout=5).raise_for_status()
    return server.url


def _commanded(url: str) -> int:
    return requests.get(f"{url}/api/v1/rooms/{ROOM}/pressure", timeout=5).json()["cmh2o"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "http://evil.example/page.html"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
)
def test_a_cross_site_pressure_command_is_refused_and_stores_nothing(admitted, headers):
    answer = requests.get(f"{admitted}/new_cpap_pressure/{ROOM}/25", headers=headers, timeout=5)
    assert answer.status_code == 403
    assert answer.json()["detail"] in (
        "cross-site requests are refused; use the dashboards or an API client",
        "requests from another origin are refused",
    )
    assert _commanded(admitted) == 9


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_a_post_that_is_not_json_is_415_and_stores_nothing(admitted, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"patient_mrn": "FAKE-1", "room_number": 62}'
    answer = requests.post(f"{admitted}/add_patient", data=body, headers=headers, timeout=5)
    assert (answer.status_code, answer.json()) == (
        415,
        {"detail": "send the request body as JSON (Content-Type: application/json)"},
    )
    command = requests.post(
        f"{admitted}/api/v1/rooms/{ROOM}/pressure-commands", data=b'{"cmh2o": 25}', headers=headers, timeout=5
    )
    assert command.status_code == 415
    assert requests.get(f"{admitted}/api/v1/rooms/62", timeout=5).status_code == 404
    assert _commanded(admitted) == 9


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.5"])
def test_a_foreign_host_header_is_refused_on_every_route(admitted, host):
    for path in ("/health", "/api/v1/ward", f"/CPAP_query/{ROOM}", "/docs", "/openapi.json"):
        answer = requests.get(admitted + path, headers={"Host": host}, timeout=5)
        assert answer.status_code == 400, path
        assert "does not answer to that Host name" in answer.json()["detail"]


def test_old_clients_our_client_and_same_origin_pages_keep_working(admitted):
    port = admitted.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        assert requests.get(f"{admitted}/health", headers={"Host": host}, timeout=5).status_code == 200
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": admitted, "Referer": f"{admitted}/docs"}
    answer = requests.post(
        f"{admitted}/api/v1/rooms/{ROOM}/pressure-commands", json={"cmh2o": 10}, headers=same_origin, timeout=5
    )
    assert answer.status_code == 201, answer.text
    typed = requests.get(f"{admitted}/new_cpap_pressure/{ROOM}/11", headers={"Sec-Fetch-Site": "none"}, timeout=5)
    assert typed.status_code == 200
    with CpapClient(admitted) as api:
        api.upload_measurement(ROOM, "GUARD-1", cpap_pressure=8)
        assert api.poll_pressure(ROOM).cmh2o == 11
    old_client = (
        b'{"patient_name": "", "patient_mrn": 6101, "room_number": 61, "CPAP_pressure": "8", '
        b'"breath_rate": "", "apnea_count": "", "flow_image": ""}'
    )
    charset = requests.post(
        f"{admitted}/add_patient",
        data=old_client,
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=5,
    )
    assert charset.status_code == 200
