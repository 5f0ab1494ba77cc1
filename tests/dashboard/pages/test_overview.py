"""The alarm board against a real server: tiles, states, order, acknowledgement, one request per refresh."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from cpap_lib.client import CpapClient
from cpap_lib.dashboard.pages.overview import WardOverview, stale_after_s_from_env
from cpap_lib.errors import ParameterError
from support import wait_until

ROOMS = iter(range(7100, 7200))
XSS_NAME = "<img src=x onerror=alert(1)>"


class CountingSession(requests.Session):
    """A real HTTP session that counts the requests it sends."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def request(self, *args, **kwargs):
        self.count += 1
        return super().request(*args, **kwargs)


def upload(client, room, mrn, name, *, pressure=8.0, rate=14.2, apneas=0, hypopneas=0, minutes=5.0, leak=2.0):
    t = np.linspace(0.0, 60.0, 200)
    client.upload_measurement(
        room,
        mrn,
        name=name,
        cpap_pressure=pressure,
        analysis={
            "breath_rate_bpm": rate,
            "apnea_count": apneas,
            "hypopnea_count": hypopneas,
            "duration_s": minutes * 60,
            "leak_lpm": leak,
            "source": "t.txt",
        },
        flow_trace=(t, 0.4 * np.sin(t)),
    )


def value(html: str, css: str) -> str:
    start = html.index(f'cpap-value {css}"')
    return html[html.index(">", start) + 1 : html.index("</span>", start)]


def test_tiles_show_state_ahi_pressure_and_escape_the_name(live_server, client):
    high, calm = next(ROOMS), next(ROOMS)
    upload(client, high, f"OV{high}", XSS_NAME, pressure=9, apneas=3, hypopneas=2, minutes=10)
    upload(client, calm, f"OV{calm}", "Grace Hopper", pressure=12, apneas=0, leak=30.0)
    session = CountingSession()
    with CpapClient(live_server, timeout=10.0, session=session) as counted:
        overview = WardOverview(counted, refresh_s=30, autostart=False)
        assert overview.refresh()
    assert session.count == 1
    html = overview.card(high).body.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert 'data-state="ahi_high"' in html and "AHI HIGH" in html
    assert value(html, "cpap-ahi30") == "30.0 /h" and value(html, "cpap-ahi-night") == "30.0 /h"
    assert value(html, "cpap-pressure") == "9 cmH2O"
    calm_html = overview.card(calm).body.value
    assert 'data-state="high_leak"' in calm_html and value(calm_html, "cpap-leak") == "30 L/min"
    assert overview.rooms.index(high) < overview.rooms.index(calm)  # AHI high is louder than a leak
    assert overview.card(high).ack_button.layout.display != "none"


def test_acknowledging_from_the_board_with_who_and_note(client):
    room = next(ROOMS)
    upload(client, room, f"OV{room}", "Ack Patient", apneas=3, hypopneas=2, minutes=10)
    overview = WardOverview(client, refresh_s=0.3)
    try:
        assert wait_until(lambda: room in overview.rooms)
        overview.card(room).ack_button.click()
        assert overview.ack_form.layout.display == "" and overview.ack_form.room == room
        overview.ack_form.who_input.value = "Ann <B>"
        overview.ack_form.note_input.value = "mask refitted & checked"
        overview.ack_form.send()
        assert wait_until(lambda: "cpap-ack-by" in overview.card(room).body.value), overview.messages.text
        html = overview.card(room).body.value
        assert "Ann &lt;B&gt;" in html and "mask refitted &amp; checked" in html
        assert overview.card(room).ack_button.layout.display == "none"
        assert overview.ack_form.layout.display == "none"
    finally:
        overview.stop()


def test_stale_threshold_comes_from_the_environment():
    assert stale_after_s_from_env({"CPAP_STALE_S": "45"}) == 45.0
    with pytest.raises(ParameterError, match="CPAP_STALE_S"):
        stale_after_s_from_env({"CPAP_STALE_S": "soon"})


def test_a_malformed_answer_is_a_sentence_not_loading_forever(tmp_path):
    """A 200 of another shape (not our server) gives a message; the page does not say "Loading" for ever."""
    import http.server
    import threading

    class Wrong(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b'{"rooms": "not a list"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Wrong)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with CpapClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=5, retries=0) as wrong:
            overview = WardOverview(wrong, refresh_s=30, autostart=False)
            assert overview.refresh() is False
    finally:
        server.shutdown()
    assert overview.messages.level == "error" and "not what this client understands" in overview.messages.text
    assert "Loading" not in overview.status.value and "Traceback" not in overview.messages.value


def test_new_rooms_appear_by_themselves_and_a_click_selects(client):
    overview = WardOverview(client, refresh_s=0.2, stale_after_s=600)
    try:
        assert wait_until(lambda: overview.refresh_count >= 1)
        room = next(ROOMS)
        assert room not in overview.rooms
        upload(client, room, f"OV{room}", "New Patient", apneas=2)
        assert wait_until(lambda: room in overview.rooms)
        overview.card(room).select_button.click()
        assert overview.selected_room == room
        assert "cpap-selected" in overview.card(room)._dom_classes
    finally:
        overview.stop()


def test_an_unreachable_server_becomes_a_sentence_and_the_tiles_stay(live_server, client):
    room = next(ROOMS)
    upload(client, room, f"OV{room}", "Kept")
    overview = WardOverview(client, refresh_s=30, autostart=False)
    assert overview.refresh()
    with CpapClient("http://127.0.0.1:9", timeout=0.5, retries=0) as dead:
        overview.client = dead
        assert overview.refresh() is False
    assert overview.messages.level == "error"
    assert "could not be refreshed" in overview.messages.text and "cannot connect" in overview.messages.text
    assert "Traceback" not in overview.messages.value
    assert room in overview.rooms  # the last data stay visible
    overview.client = client
    assert overview.refresh() and overview.messages.level == ""


@pytest.mark.slow
def test_each_page_uses_the_token_of_its_role(tmp_path):
    from cpap_lib.dashboard.runtime.connection import client_from_env
    from cpap_lib.server.process import start_server

    with start_server(
        f"sqlite:///{tmp_path / 'tokens.db'}", staff_tokens="staff-t0k", device_tokens="device-t0k"
    ) as server:
        env = {"CPAP_API_URL": server.url, "CPAP_API_TOKEN_STAFF": "staff-t0k", "CPAP_API_TOKEN_DEVICE": "device-t0k"}
        with client_from_env(env, role="device") as device, client_from_env(env, role="staff") as staff:
            upload(device, 5, "TK5", "Token Patient")
            overview = WardOverview(staff, autostart=False)
            assert overview.refresh() and overview.rooms == [5]
            wrong = WardOverview(device, autostart=False)
            assert wrong.refresh() is False
            assert "device token may not do this" in wrong.messages.text


@pytest.mark.parametrize("name, value", [("CPAP_API_URL", "localhost:8000"), ("CPAP_REFRESH_S", "often")])
def test_a_bad_setting_gives_a_page_that_says_which(monkeypatch, name, value):
    from cpap_lib.dashboard.pages.bedside import build_bedside
    from cpap_lib.dashboard.pages.monitor import build_monitor

    monkeypatch.setenv(name, value)
    for page in (build_monitor(), build_bedside()):
        bar = page.children[-1]
        assert bar.level == "error" and name in bar.text and "cannot start" in bar.text
