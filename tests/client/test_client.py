"""Client behaviour that needs no particular data: errors when the server is away, sessions, retries."""

from __future__ import annotations

import socket

import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.errors import ParameterError, ServerUnavailableError


class CountingSession(requests.Session):
    """A real session that counts the requests it sends."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def request(self, method, url, **kwargs):
        self.calls.append((method, kwargs.get("timeout")))
        return super().request(method, url, **kwargs)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_server_is_server_unavailable_after_retrying_reads_only():
    session = CountingSession()
    with CpapClient(_closed_port_url(), session=session, retries=2, timeout=0.5) as api:
        with pytest.raises(ServerUnavailableError, match="cannot connect to http://127.0.0.1:"):
            api.ward()
        assert session.calls == [("GET", 0.5)] * 3
        session.calls.clear()
        with pytest.raises(ServerUnavailableError):
            api.command_pressure(3, 10)
        assert session.calls == [("POST", 0.5)]


def test_silent_server_is_a_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            CpapClient(url, timeout=0.2, retries=0) as api,
            pytest.raises(ServerUnavailableError, match="within 0.2 s"),
        ):
            api.health()


def test_injected_session_is_used_and_left_open(live_server):
    session = CountingSession()
    with CpapClient(live_server, session=session, timeout=3.0) as api:
        assert api.health().status == "ok"
    assert session.calls == [("GET", 3.0)]
    assert session.get(f"{live_server}/health", timeout=3).ok  # still usable


def test_bad_client_arguments_are_parameter_errors():
    with pytest.raises(ParameterError, match="timeout: must be positive"):
        CpapClient("http://127.0.0.1:1", timeout=0)
    with (
        CpapClient("http://127.0.0.1:1") as api,
        pytest.raises(ParameterError, match="room: must be a positive integer"),
    ):
        api.room(0)


def test_upload_accepts_an_object_with_to_dict_and_flow_trace(live_server):
    class AnalysisLike:
        def to_dict(self):
            return {"apnea_count": 1, "breath_rate_bpm": float("nan"), "apneas": [{"start_s": 1.0, "end_s": 12.0}]}

        def flow_trace(self, max_points=2000):
            return [0.0, 0.5, 1.0], [0.1, -0.2, 0.3]

    with CpapClient(live_server) as api:
        receipt = api.upload_measurement(61, "OBJ-1", cpap_pressure=7.5, analysis=AnalysisLike())
        m = api.measurement(receipt.measurement_id)
    assert m.analysis["apnea_count"] == 1 and m.analysis["breath_rate_bpm"] is None  # NaN sent as null
    assert m.time_s.tolist() == [0.0, 0.5, 1.0] and m.apneas == [(1.0, 12.0)]
