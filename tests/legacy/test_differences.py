"""The deliberate differences from the old server, each one shown against the old server itself.

Where the old server crashed (500) or stored nonsense, ours answers a clear
4xx in the route's own format (a JSON string and a newline for the JSON
routes, text for ``/new_cpap_pressure``), which the old clients show as they
showed the old server's messages, and stores nothing. The README lists the
same cases ("Old clients: deliberate differences").
"""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.slow


def _upload(room, mrn=8100, name="", pressure="8", rate="14.5", apnea="1", image=""):
    return {
        "patient_name": name,
        "patient_mrn": mrn,
        "room_number": room,
        "CPAP_pressure": pressure,
        "breath_rate": rate,
        "apnea_count": apnea,
        "flow_image": image,
    }


def _json_text(message: str) -> bytes:
    return f'"{message}"\n'.encode()


# (what, method, path, request keywords, old server's status, our status, our body)
CASES = [
    (
        "a room number that is not a number",
        "GET",
        "/CPAP_query/ten",
        {},
        500,
        400,
        _json_text("room_number: must be a whole number, got 'ten'"),
    ),
    (
        "an empty room number",
        "POST",
        "/add_patient",
        {"json": _upload("")},
        500,
        400,
        _json_text("room_number: is required (an empty string was sent)"),
    ),
    (
        "an empty MRN",
        "POST",
        "/add_patient",
        {"json": _upload(82, mrn="")},
        200,
        400,
        _json_text("patient_mrn: is required (an empty string was sent)"),
    ),
    (
        "a pressure outside 4-25",
        "POST",
        "/add_patient",
        {"json": _upload(83, pressure="30")},
        200,
        400,
        _json_text("CPAP_pressure: must be a whole number from 4 to 25 cmH2O, got '30'"),
    ),
    (
        "a negative room",
        "POST",
        "/add_patient",
        {"json": _upload(-3)},
        200,
        400,
        _json_text("room_number: must be a whole number from 1 to 99999, got -3"),
    ),
    (
        "a breath rate of NaN",
        "POST",
        "/add_patient",
        {"json": _upload(84, rate="nan")},
        200,
        400,
        _json_text("breath_rate: must be a number from 0 to 200 breaths/min, got 'nan'"),
    ),
    (
        "a breath rate of null",
        "POST",
        "/add_patient",
        {"json": _upload(85, rate=None)},
        500,
        400,
        _json_text("breath_rate: must be a number from 0 to 200 breaths/min, got None"),
    ),
    (
        "no apnea count with a pressure and a rate",
        "POST",
        "/add_patient",
        {"json": _upload(86, apnea="")},
        500,
        400,
        _json_text("apnea_count: is required with CPAP_pressure and breath_rate (an empty string was sent)"),
    ),
    (
        "an image that is not an image",
        "POST",
        "/add_patient",
        {"json": _upload(87, image="aGVsbG8=")},
        200,
        400,
        _json_text("flow_image: not a PNG or JPEG image (unknown signature)"),
    ),
    (
        "an image that is not base64",
        "POST",
        "/add_patient",
        {"json": _upload(88, image="not base64!")},
        200,
        400,
        _json_text("flow_image: not valid base64"),
    ),
    (
        "a name of 101 characters",
        "POST",
        "/add_patient",
        {"json": _upload(89, name="N" * 101)},
        200,
        400,
        _json_text("patient_name: String should have at most 100 characters"),
    ),
    (
        "a body nested 100,000 deep",
        "POST",
        "/add_patient",
        {"data": b"[" * 100_000 + b"]" * 100_000, "headers": {"Content-Type": "application/json"}},
        500,
        400,
        b'{"detail": "body: JSON nested deeper than 64 levels"}',
    ),  # refused before any route (issue 14.5)
    (
        "a room number of a million digits",
        "POST",
        "/add_patient",
        {"json": _upload("9" * 1_000_000)},
        500,
        400,
        _json_text(f"room_number: must be a whole number from 1 to 99999, got '{'9' * 36}..."),
    ),
    (
        "a body that is not JSON",
        "POST",
        "/add_patient",
        {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
        400,
        400,
        _json_text("body: must be a JSON object with the old client's keys"),
    ),
    (
        "a commanded pressure outside 4-25",
        "GET",
        "/new_cpap_pressure/81/30",
        {},
        200,
        400,
        b"Bad value for new value: a CPAP pressure must be from 4 to 25 cmH2O, got 30",
    ),
    (
        "a command for room 0",
        "GET",
        "/new_cpap_pressure/0/12",
        {},
        200,
        400,
        b"Bad value for room number: must be from 1 to 99999, got 0",
    ),
]


@pytest.mark.parametrize(
    ("what", "method", "path", "kwargs", "old_status", "status", "body"), CASES, ids=[c[0] for c in CASES]
)
def test_where_the_old_server_crashed_or_stored_nonsense_ours_says_why(
    sqlite_servers, what, method, path, kwargs, old_status, status, body
):
    old, ours = sqlite_servers.ask(method, path, **kwargs)
    assert old.status_code == old_status, old.text
    assert (ours.status_code, ours.content) == (status, body)
    if method == "POST":  # nothing of a refused upload is stored
        room = kwargs.get("json", {}).get("room_number")
        if isinstance(room, int) and room > 0:
            assert (
                requests.get(f"{sqlite_servers.ours}/CPAP_query/{room}", timeout=5).content
                == b'"Patient not in database"\n'
            )


def test_a_poll_before_any_command(sqlite_servers):
    for url in (sqlite_servers.old, sqlite_servers.ours):
        assert requests.post(f"{url}/add_patient", json=_upload(90, mrn=9000), timeout=5).ok
    old, ours = sqlite_servers.ask("GET", "/CPAP_query/90")
    assert old.status_code == 500  # KeyError in its dict of commands
    assert (ours.status_code, ours.content) == (404, _json_text("No CPAP pressure commanded for room 90 yet"))


def test_the_old_server_stored_nan_and_then_answered_invalid_json(sqlite_servers):
    old, ours = sqlite_servers.ask("POST", "/add_patient", json=_upload(91, rate="nan"))
    assert (old.status_code, ours.status_code) == (200, 400)
    assert b"NaN" in requests.get(f"{sqlite_servers.old}/get_all_patients", timeout=5).content  # not JSON
    requests.get(f"{sqlite_servers.ours}/get_all_patients", timeout=5).json()  # ours stays JSON


def test_one_patient_in_two_rooms(sqlite_servers):
    # One open stay per patient (issue 14.8): uploading an MRN to another room moves the patient.
    for room in (92, 93):
        sqlite_servers.ask("POST", "/add_patient", json=_upload(room, mrn=9300))
    old, ours = sqlite_servers.ask("GET", "/get_all_patients")
    rooms = [[p["room_number"] for p in r.json() if p["patient_mrn"] == 9300] for r in (old, ours)]
    assert rooms == [[92, 93], [93]]


def test_a_blank_name_is_no_name(sqlite_servers):
    sqlite_servers.ask("POST", "/add_patient", json=_upload(94, mrn=9400, name="   "))
    old, ours = sqlite_servers.ask("GET", "/get_all_patients")
    names = [next(p["patient_name"] for p in r.json() if p["room_number"] == 94) for r in (old, ours)]
    assert names == ["   ", "Not provided"]


def test_health_is_ours(sqlite_servers):
    # Not called by the old clients; shared with our API and monitoring.
    old, ours = sqlite_servers.ask("GET", "/health")
    assert old.json() == {"service": "sleep-lab-api", "status": "healthy"}
    assert ours.json()["status"] == "ok"
