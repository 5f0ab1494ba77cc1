"""Differential: the original server and ours get the same old-client requests and must answer alike.

One night in the old system's life, request by request: staff preset a
pressure for an empty room, the Tk client uploads with a recording (no
pressure typed yet), the random pressure command, the poll, the second
upload, the Streamlit client's uploads (numbers, not text), a PNG and an
empty image, a new patient in a room, and every refusal the old server
answered 400. Each answer must equal the old server's in status, content
type and bytes (timestamps: the same local clock time, see
``old_system.stamped_now``). The payloads are built by the old clients'
own ``create_json``, ``plot_to_b64`` and ``analysis_driver``.
"""

from __future__ import annotations

import base64
import io

import pytest
from matplotlib.figure import Figure
from old_system import LAB_TZ, REFERENCE_DATA, assert_same

VENTURI = REFERENCE_DATA / "venturi"
SHORT, LONGER = VENTURI / "patient_07.txt", VENTURI / "patient_04.txt"  # real lab files (07: 2 malformed lines)


def _png_b64() -> str:
    buffer = io.BytesIO()
    Figure(figsize=(3, 2)).savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.slow
def test_an_old_client_night_gets_the_old_servers_answers(servers, old_clients):
    tk, st = old_clients.tk_upload, old_clients.streamlit_upload

    def same(what, method, path, **kwargs):
        old, ours = servers.ask(method, path, **kwargs)
        assert_same(old, ours, LAB_TZ, what)
        return ours

    same("empty ward", "GET", "/get_all_patients")
    same("poll before anyone is registered", "GET", "/CPAP_query/31")
    same("staff preset a pressure for an empty room", "GET", "/new_cpap_pressure/40/9")
    same("poll of the preset room before its patient", "GET", "/CPAP_query/40")

    first = same(
        "Tk upload with a recording, no pressure typed", "POST", "/add_patient", json=tk(1234, 31, "Ann Old", "", SHORT)
    )
    assert first.content == b'"New patient created"\n'
    same("the patient without a complete record", "GET", "/get_all_patients")
    same("the client's random pressure command", "GET", "/new_cpap_pressure/31/12")
    poll = same("poll", "GET", "/CPAP_query/31")
    assert poll.content == b"12\n"  # the Tk client cuts the last character: "12"
    same(
        "Tk second upload, the polled pressure typed",
        "POST",
        "/add_patient",
        json=tk(1234, 31, "Ann Old", "12", LONGER),
    )
    same("Tk upload without a recording ('Not measured')", "POST", "/add_patient", json=tk(1234, 31, "", "12", None))

    same("Streamlit upload into the preset room", "POST", "/add_patient", json=st(555, 40, "", "", SHORT))
    assert same("the preset reaches the patient", "GET", "/CPAP_query/40").content == b"9\n"
    same("Streamlit second upload", "POST", "/add_patient", json=st(555, 40, "", "9", LONGER))
    same(
        "a PNG image",
        "POST",
        "/add_patient",
        json=st(777, 41, "Cy Png", "10", None) | {"breath_rate": "15.5", "apnea_count": "3", "flow_image": _png_b64()},
    )
    same("an empty image", "POST", "/add_patient", json=old_clients.tk.create_json(777, 41, "Cy Png", "11", 16, 1, ""))
    everyone = same("view all: lists per upload, images, local times", "GET", "/get_all_patients").json()
    assert [len(p["CPAP_pressure"]) for p in everyone] == [1, 1, 2]
    assert everyone[0]["flow_image"][0].startswith("/9j/")  # the JPEG as sent

    same("another patient (new MRN) in room 31", "POST", "/add_patient", json=tk(4321, 31, "Dee New", "14", SHORT))
    same("poll after the change of patient", "GET", "/CPAP_query/31")
    same("view all after the change", "GET", "/get_all_patients")

    good = tk(1234, 32, "Eve", "8", None) | {"breath_rate": "14.0", "apnea_count": "0"}
    for what, payload in [
        ("a key missing", {k: v for k, v in good.items() if k != "flow_image"}),
        ("not an object", [good]),
        ("an MRN with letters", good | {"patient_mrn": "12AB"}),
        ("a fractional pressure", good | {"CPAP_pressure": "8.5"}),
        ("a float room", good | {"room_number": 32.0}),
        ("a negative MRN as text", good | {"patient_mrn": "-5"}),
        ("a name that is a number", good | {"patient_name": 5}),
        ("an image that is a list", good | {"flow_image": [1]}),
        ("a breath rate that is text", good | {"breath_rate": "fast"}),
        ("an apnea count 'Not measured'", good | {"apnea_count": "Not measured"}),
        ("a boolean apnea count", good | {"apnea_count": True}),
    ]:
        same(f"refused alike: {what}", "POST", "/add_patient", json=payload)
    same("refused alike: null", "POST", "/add_patient", data=b"null", headers={"Content-Type": "application/json"})
    for path in [
        "/new_cpap_pressure/31/abc",
        "/new_cpap_pressure/x/12",
        "/new_cpap_pressure/31/12.5",
        "/CPAP_query/0",
        "/CPAP_query/99999",
        "/CPAP_query/-4",
        "/CPAP_query/32",
    ]:
        same(f"GET {path}", "GET", path)
    same("the night, at the end", "GET", "/get_all_patients")
