"""Serving tokenless old clients on a lab network (``CPAP_LEGACY_NETWORKS``), and nothing more.

Loopback addresses stand in for the lab: the server listens on 127.0.0.2
(the lab-facing interface), with tokens configured, and lists 127.0.0.1/32
as the lab network. A connection to 127.0.0.2 leaves from 127.0.0.1 by
default (the old clients' machines); one bound to 127.0.0.3 is a machine
outside the listed network.
"""

from __future__ import annotations

import pytest
import requests
from old_system import REFERENCE_DATA, TkClient
from requests.adapters import HTTPAdapter

from cpap_lib.errors import ParameterError
from cpap_lib.server.process import start_server
from cpap_lib.server.settings import Settings, check_bind_host, legacy_network_admits, parse_networks

STAFF, DEVICE = "staff-lab-1", "device-lab-1"
PAYLOAD = {
    "patient_name": "Lab Ann",
    "patient_mrn": 9001,
    "room_number": 71,
    "CPAP_pressure": "8",
    "breath_rate": "15.0",
    "apnea_count": "1",
    "flow_image": "",
}


class SourceAddress(HTTPAdapter):
    """Connections that leave from ``ip`` (a machine elsewhere)."""

    def __init__(self, ip: str):
        self.ip = ip
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.ip, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    db = tmp_path_factory.mktemp("lab") / "cpap_lab.db"
    with start_server(
        f"sqlite:///{db}",
        host="127.0.0.2",
        staff_tokens=STAFF,
        device_tokens=DEVICE,
        settings_env={"CPAP_LEGACY_NETWORKS": "127.0.0.1/32"},
    ) as server:
        yield server


def test_start_up_warns_which_networks_are_open(lab):
    log = lab.log_path.read_text()
    assert "level=WARNING" in log and "event=legacy_networks_open networks=127.0.0.1/32" in log
    assert "WITHOUT A TOKEN" in log


def test_lab_clients_upload_and_poll_without_a_token_and_nothing_else(lab):
    url = lab.url
    assert requests.post(f"{url}/add_patient", json=PAYLOAD, timeout=5).content == b'"New patient created"\n'
    assert requests.get(f"{url}/CPAP_query/71", timeout=5).status_code == 404  # nothing commanded yet
    for method, path in [
        ("GET", "/get_all_patients"),
        ("GET", "/new_cpap_pressure/71/10"),
        ("GET", "/api/v1/ward"),
        ("GET", "/api/v1/rooms/71/pressure"),
        ("POST", "/api/v1/rooms/71/pressure-commands"),
    ]:
        answer = requests.request(method, url + path, json={"cmh2o": 10}, timeout=5)
        assert answer.status_code == 401, path
        assert "clients on CPAP_LEGACY_NETWORKS may only upload" in answer.json()["detail"]
    staff = {"Authorization": f"Bearer {STAFF}"}
    assert requests.get(f"{url}/new_cpap_pressure/71/10", headers=staff, timeout=5).ok
    assert requests.get(f"{url}/CPAP_query/71", timeout=5).content == b"10\n"
    (command,) = requests.get(f"{url}/api/v1/rooms/71/timeline", headers=staff, timeout=5).json()["commands"]
    (audited,) = requests.get(f"{url}/api/v1/audit?room=71", headers=staff, timeout=5).json()
    assert command["commanded_by"] == audited["actor_name"] and command["commanded_by"].startswith("staff-")
    assert requests.get(f"{url}/get_all_patients", headers=staff, timeout=5).json()[0]["CPAP_pressure"] == [8]
    wrong = requests.post(f"{url}/add_patient", json=PAYLOAD, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401  # a token that is sent is checked, network or not


def test_a_machine_outside_the_listed_networks_needs_a_token(lab):
    with requests.Session() as outside:
        outside.mount("http://", SourceAddress("127.0.0.3"))
        for method, path in [("POST", "/add_patient"), ("GET", "/CPAP_query/71")]:
            answer = outside.request(method, lab.url + path, json=PAYLOAD, timeout=5)
            assert (answer.status_code, answer.json()) == (401, {"detail": "missing bearer token"})
        device = {"Authorization": f"Bearer {DEVICE}"}
        assert outside.get(f"{lab.url}/CPAP_query/71", headers=device, timeout=5).content == b"10\n"


def test_the_unchanged_tk_client_on_the_lab_network(lab):
    gui = TkClient(lab.url).start()
    gui.type("Name:", "Lab Bo")
    gui.type("Medical Record Number:", "9002")
    gui.type("Room Number:", "72")
    gui.type("CPAP Pressure (cmH2O):", "9")
    gui.choose_file(REFERENCE_DATA / "venturi" / "patient_07.txt")
    gui.click("Upload to Server")
    assert gui.gui.dialogs[-1] == ("info", "Success", '"New patient created"\n')
    requests.get(f"{lab.url}/new_cpap_pressure/72/13", headers={"Authorization": f"Bearer {STAFF}"}, timeout=5)
    gui.run_poll()  # its own random command was refused (401); staff commanded 13 from the station
    assert gui.pressure_shown() == "13"
    gui.view_all()
    kind, _title, message = gui.gui.dialogs[-1]
    assert kind == "error" and message.startswith("Failed to retrieve patients: ")
    assert "this route needs a token" in message


def test_settings_refuse_what_would_open_too_much():
    with pytest.raises(ParameterError, match="'0.0.0.0/0' would admit every address"):
        parse_networks("10.1.0.0/16,0.0.0.0/0")
    with pytest.raises(ParameterError, match="'lab' is not a network"):
        Settings.from_env({"CPAP_LEGACY_NETWORKS": "lab"})
    open_lab = Settings.from_env({"CPAP_LEGACY_NETWORKS": "10.1.0.0/16"})
    with pytest.raises(ParameterError, match="CPAP_LEGACY_NETWORKS opens only the old device routes"):
        check_bind_host("10.1.0.5", open_lab)
    assert not legacy_network_admits(open_lab, "10.1.2.3")  # no tokens: loopback only, the list does nothing
    lab = Settings.from_env({"CPAP_STAFF_TOKEN": "s", "CPAP_LEGACY_NETWORKS": "10.1.0.0/16, fd00:1::/64"})
    assert [legacy_network_admits(lab, h) for h in ("10.1.2.3", "::ffff:10.1.2.3", "fd00:1::7", "10.2.0.1", None)] == [
        True,
        True,
        True,
        False,
        False,
    ]
