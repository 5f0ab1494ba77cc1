"""Stored state survives a server restart (same database, new process)."""

from __future__ import annotations

import pytest

from cpap_lib.client import CpapClient
from cpap_lib.server.process import start_server


@pytest.mark.slow
def test_commanded_pressure_and_history_survive_a_restart(database_url):
    with start_server(database_url) as first, CpapClient(first.url) as api:
        api.upload_measurement(21, "RST-1", name="Kept", cpap_pressure=8, analysis={"apnea_count": 4})
        command = api.command_pressure(21, 13)
    assert not first.running
    with start_server(database_url) as second, CpapClient(second.url) as api:
        poll = api.poll_pressure(21)
        assert (poll.cmh2o, poll.command_id) == (13, command.id)
        room = api.room(21)
        assert (room.mrn, room.name, room.latest_measurement.apnea_count) == ("RST-1", "Kept", 4)
