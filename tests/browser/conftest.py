"""Browser fixtures: a real API server, a real Voilà server and Debian's Chromium (Playwright).

One API server (fresh SQLite database, seeded through the client), one Voilà
server and one browser per session. Screenshots go to ``test-artifacts/``.
Chromium must be installed (``apt-get install chromium``); without it the
tests fail, they are never skipped.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from cpap_lib.client import CpapClient
from cpap_lib.dashboard.runtime.voila_app import VoilaServer
from cpap_lib.io.resmed.assemble import build_card
from cpap_lib.paths import REPO_ROOT, SAMPLE_DATA_DIR
from cpap_lib.server.process import start_server
from support import CHROMIUM, CHROMIUM_ARGS, REFERENCE_DATA  # noqa: F401  (the session's one browser: tests/conftest.py)

REPO = REPO_ROOT
ARTIFACTS = REPO / "test-artifacts"
XSS_NAME = "<img src=x onerror=alert(1)>"
LAB_TZ = "America/New_York"
"""The pages' lab time zone in these tests: not the machine's UTC, so clock times must be converted."""
NO_DATA_MIN = 0.25
"""The API server's no-data alarm here: 15 s, so the loudest alarm can be seen appear."""

SEEDED = {
    # room: (mrn, name, pressure, breath rate, apneas, apnea index)
    1: ("BR-001", "Ada Lovelace", 8, 14.2, 3, 18.0),
    2: ("BR-002", XSS_NAME, 10, 16.5, 1, 6.0),
    3: ("BR-003", "Grace Hopper", 12, 12.0, 2, 12.0),
}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def api(tmp_path_factory, artifacts):
    """A running API server with the SEEDED rooms; yields (url, client)."""
    db = tmp_path_factory.mktemp("browser_api") / "cpap_lab.db"
    with start_server(
        f"sqlite:///{db}",
        log_path=artifacts / "browser-api.log",
        settings_env={"CPAP_ALARM_NO_DATA_MIN": str(NO_DATA_MIN)},
    ) as server:
        with CpapClient(server.url, timeout=10.0) as client:
            t = np.linspace(2.7, 120.0, 1500)
            for room, (mrn, name, pressure, rate, apneas, index) in SEEDED.items():
                client.upload_measurement(
                    room,
                    mrn,
                    name=name,
                    cpap_pressure=pressure,
                    analysis={
                        "breath_rate_bpm": rate,
                        "apnea_count": apneas,
                        "apnea_index": index,
                        "apneas": [{"start_s": 40.0, "end_s": 55.0}],
                    },
                    flow_trace=(t, 0.45 * np.sin(2 * np.pi * t / 4)),
                )
            yield server.url, client


@pytest.fixture(scope="session")
def card_folder(tmp_path_factory) -> Path:
    """An SD card in a data folder: three real nights (AirSense 11, AirCurve 10, AirSense 10 as 15-17 Oct 2024)
    and an unreadable fourth (18 Oct: its only BRP file is cut inside its header)."""
    real = REFERENCE_DATA.resolve()
    nights = [
        real / "resmed_airsense11" / "DATALOG" / "20241017",
        real / "resmed_aircurve10" / "DATALOG" / "20250202",
        real / "resmed_airsense10" / "DATALOG" / "20241126",
    ]
    root = build_card(
        tmp_path_factory.mktemp("browser_data").resolve() / "card",
        nights,
        date(2024, 10, 15),
        identity=real / "resmed_airsense11",
    )
    broken = root / "DATALOG" / "20241018"
    broken.mkdir()
    (broken / "20241018_230000_BRP.edf").write_bytes((nights[0] / "20241018_021408_BRP.edf").read_bytes()[:300])
    return root


@pytest.fixture(scope="session")
def voila(api, artifacts, card_folder):
    """Voilà serving notebooks/ against the API server (pages refresh every second)."""
    url, _client = api
    # the explorer may open the real recordings and the tests' card by path (issue 14.12: only inside CPAP_DATA_DIRS)
    data_dirs = os.pathsep.join([str(SAMPLE_DATA_DIR), str(REFERENCE_DATA.resolve()), str(card_folder.parent)])
    server = VoilaServer(
        url,
        env={"CPAP_REFRESH_S": "1", "CPAP_STALE_S": "3600", "CPAP_LAB_TZ": LAB_TZ, "CPAP_DATA_DIRS": data_dirs},
        log_path=artifacts / "browser-voila.log",
    )
    with server:
        yield server


class Page:
    """A browser tab with the dialogs it raised and the requests it made."""

    def __init__(self, browser, voila, viewport: tuple[int, int] = (1400, 1000)):
        self.context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True
        )
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(30_000)
        self.voila = voila
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.tab.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.tab.on("request", lambda request: self.requests.append(request.url))

    def open(self, notebook: str, query: str = "", ready: str = ".cpap-page"):
        self.tab.goto(self.voila.page_url(notebook, query))
        self.tab.wait_for_selector(ready, timeout=60_000)
        return self.tab

    def close(self):
        self.context.close()


@pytest.fixture
def new_page(browser, voila):
    """Open tabs with ``new_page()``; all are closed at the end of the test."""
    pages: list[Page] = []

    def make(viewport: tuple[int, int] = (1400, 1000)) -> Page:
        page = Page(browser, voila, viewport)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()
