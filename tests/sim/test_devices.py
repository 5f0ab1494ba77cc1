"""Simulated bedside devices against a real server: uploads, obeying commanded pressures."""

from __future__ import annotations

import time

import pytest

from cpap_lib.client import CpapClient
from cpap_lib.errors import ParameterError
from cpap_lib.sim.devices import DeviceFleet, DevicePatient, SimulatedDevice, apneas_for_pressure, demo_patients


@pytest.fixture
def client(live_server):
    with CpapClient(live_server, timeout=10.0) as api:
        yield api


def test_lower_pressure_means_more_apneas():
    assert [apneas_for_pressure(p) for p in range(4, 26)] == sorted(
        [apneas_for_pressure(p) for p in range(4, 26)], reverse=True
    )
    with pytest.raises(ParameterError, match="count"):
        demo_patients(0)


def test_a_device_uploads_and_obeys_a_commanded_pressure(client):
    device = SimulatedDevice(client, DevicePatient(room=7501, mrn="DEV-7501", name="Sim One", pressure_cmh2o=6))
    first = device.step()
    state = client.room(7501)
    assert (state.mrn, state.name) == ("DEV-7501", "Sim One")
    assert state.latest_measurement.id == first.measurement_id
    assert state.latest_measurement.cpap_pressure_cmh2o == 6
    assert state.latest_measurement.apnea_count == apneas_for_pressure(6) > 0
    assert client.measurement(first.measurement_id).time_s.size > 100  # the flow trace came along
    client.command_pressure(7501, 15)
    device.step()
    latest = client.room(7501).latest_measurement
    assert latest.cpap_pressure_cmh2o == 15 and latest.apnea_count == 0
    assert device.pressure_cmh2o == 15


@pytest.mark.slow
def test_a_fleet_streams_until_stopped(live_server, client):
    patients = [DevicePatient(room=7511 + i, mrn=f"DEV-{7511 + i}", name=f"Sim {i}") for i in range(2)]
    fleet = DeviceFleet(lambda: CpapClient(live_server, timeout=10.0), patients, interval_s=1.0).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and min(d.uploads for d in fleet.devices) < 2:
            time.sleep(0.2)
        assert min(d.uploads for d in fleet.devices) >= 2
    finally:
        fleet.stop()
    counts = [len(client.measurements(p.room)) for p in patients]
    time.sleep(1.5)
    assert [len(client.measurements(p.room)) for p in patients] == counts  # stopped means stopped
