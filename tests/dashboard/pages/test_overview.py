"""Ward overview against a real server: cards, numbers, red apneas, stale mark, one request per refresh."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import requests
from support import wait_until

from cpap_lib.client import CpapClient
from cpap_lib.dashboard.pages.overview import WardOverview, card_html, stale_after_s_from_env
from cpap_lib.errors import ParameterError

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


def upload(client, room, mrn, name, *, pressure=8.0, rate=14.2, apneas=0, index=0.0):
    t = np.linspace(0.0, 60.0, 200)
    client.upload_measurement(
        room, mrn, name=name, cpap_pressure=pressure,
        analysis={"breath_rate_bpm": rate, "apnea_count": apneas, "apnea_index": index, "source": "t.txt"},
        flow_trace=(t, 0.4 * np.sin(t)),
    )




def cell(html: str, css: str) -> str:
    start = html.index(f'class="{css}')
    return html[html.index(">", start) + 1: html.index("</td>", start)]


def test_card_escapes_the_name_and_marks_two_apneas_red():
    now = datetime(2026, 11, 21, 22, 0, tzinfo=timezone.utc)
    common = dict(room=1, mrn="M<1>", pressure_cmh2o=8.0, breath_rate_bpm=14.25, apnea_index=6.0,
                  latest_at=now, now=now, stale_after_s=60)
    red = card_html(name=XSS_NAME, apnea_count=2, **common)
    assert "<img" not in red and "&lt;img src=x onerror=alert(1)&gt;" in red
    assert "M&lt;1&gt;" in red
    assert 'cpap-apneas cpap-alert"' in red and "color:#c62828" in red
    plain = card_html(name="Ann", apnea_count=1, **common)
    assert "cpap-alert" not in plain and "color:#c62828" not in plain
    assert cell(plain, "cpap-value cpap-pressure") == "8 cmH2O"
    assert cell(plain, "cpap-value cpap-rate") == "14.2 /min"  # 14.25 rounds half to even
    assert "cpap-stale" not in plain


def test_card_marks_a_room_that_sent_nothing_for_too_long():
    now = datetime(2026, 11, 21, 22, 0, tzinfo=timezone.utc)
    old = card_html(room=2, mrn="A", name="B", pressure_cmh2o=None, breath_rate_bpm=None, apnea_count=None,
                    apnea_index=None, latest_at=now - timedelta(minutes=5), now=now, stale_after_s=120)
    assert 'class="cpap-stale"' in old and "no data 5 min" in old and "cpap-card-stale" in old
    never = card_html(room=2, mrn=None, name=None, pressure_cmh2o=None, breath_rate_bpm=None, apnea_count=None,
                      apnea_index=None, latest_at=None, now=now, stale_after_s=120)
    assert "no data yet" in never


def test_stale_threshold_comes_from_the_environment():
    assert stale_after_s_from_env({"CPAP_STALE_S": "45"}) == 45.0
    with pytest.raises(ParameterError, match="CPAP_STALE_S"):
        stale_after_s_from_env({"CPAP_STALE_S": "soon"})


def test_overview_shows_every_room_with_its_numbers_in_one_request(live_server, client):
    a, b = next(ROOMS), next(ROOMS)
    upload(client, a, f"OV{a}", XSS_NAME, pressure=9, rate=13.5, apneas=3, index=18.0)
    upload(client, b, f"OV{b}", "Grace Hopper", pressure=12, rate=16.0, apneas=1, index=6.0)
    session = CountingSession()
    with CpapClient(live_server, timeout=10.0, session=session) as counted:
        overview = WardOverview(counted, refresh_s=30, stale_after_s=600, autostart=False)
        assert overview.refresh()
    assert session.count == 1
    assert {a, b} <= set(overview.rooms) and overview.rooms == sorted(overview.rooms)
    html_a, html_b = overview.card(a).body.value, overview.card(b).body.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_a and "<img" not in html_a
    assert cell(html_a, "cpap-value cpap-pressure") == "9 cmH2O"
    assert cell(html_a, "cpap-value cpap-rate") == "13.5 /min"
    assert cell(html_a, "cpap-value cpap-apneas cpap-alert") == "3"
    assert cell(html_a, "cpap-value cpap-index") == "18.0 /h"
    assert cell(html_b, "cpap-value cpap-apneas") == "1" and "cpap-alert" not in html_b
    assert "cpap-stale" not in html_b


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


def test_an_unreachable_server_becomes_a_sentence_and_the_cards_stay(live_server, client):
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


def test_each_page_uses_the_token_of_its_role(tmp_path):
    from cpap_lib.dashboard.runtime.connection import client_from_env
    from cpap_lib.server.process import start_server

    with start_server(f"sqlite:///{tmp_path / 'tokens.db'}", staff_tokens="staff-t0k", device_tokens="device-t0k") as server:
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
