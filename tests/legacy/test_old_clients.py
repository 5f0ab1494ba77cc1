"""The original clients, unchanged, through a whole night against the old server and against ours.

Each client does what a nurse does with it: registers the patient and
uploads a real lab recording (no pressure typed yet), the client's own
random pressure command follows, the poll shows the commanded pressure, a
second recording is uploaded with it, and "View All Patients" lists the
night. What the client shows must be the same with either server (the
upload times aside, which must be clock times of the lab).

- Tk (``patient_GUI.py``): through its own buttons, with only the GUI
  toolkit replaced (``old_system.TkClient``: no display here, and its modal
  dialogs would wait for a person).
- Streamlit (``patient_streamlit.py``): the real script in Streamlit's own
  test runner (``streamlit.testing.v1.AppTest``), reading its sample folder
  as it does (``sample_data/`` in its working directory).
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from old_system import CLOCK_SLACK, LAB_TZ, REFERENCE_DATA, REFERENCE_SYSTEM, TkClient
from streamlit.testing.v1 import AppTest

SHORT, LONGER = "patient_07.txt", "patient_04.txt"
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _unstamped(texts: list[str]) -> list[str]:
    """The texts with each clock time checked (recent, the lab's zone) and replaced by ``<ts>``."""
    now = datetime.now(ZoneInfo(LAB_TZ)).replace(tzinfo=None)
    for text in texts:
        for stamp in STAMP.findall(text):
            assert abs(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") - now) < CLOCK_SLACK, stamp
    return [STAMP.sub("<ts>", t) for t in texts]


def tk_night(url: str) -> dict:
    gui = TkClient(url).start()
    gui.type("Name:", "Ann Old")
    gui.type("Medical Record Number:", "1234")
    gui.type("Room Number:", "31")
    gui.choose_file(REFERENCE_DATA / "venturi" / SHORT)
    analysis = (gui.value_shown("Breathing Rate (breaths/min):"), gui.value_shown("Number of Apnea Events:"))
    random.seed(11)  # the client commands a random pressure after each upload with a recording
    gui.click("Upload to Server")
    first = gui.gui.dialogs[-1]
    gui.run_poll()  # the 30 s poll the upload scheduled
    polled = gui.pressure_shown()
    gui.choose_file(REFERENCE_DATA / "venturi" / LONGER)
    random.seed(12)
    gui.click("Upload to Server")
    second = gui.gui.dialogs[-1]
    gui.run_poll()
    return {
        "analysis": analysis,
        "first": first,
        "polled": polled,
        "second": second,
        "polled_again": gui.pressure_shown(),
        "view_all": _unstamped(gui.view_all()),
        "errors": [d for d in gui.gui.dialogs if d[0] == "error"],
    }


@pytest.mark.slow
def test_the_tk_client_shows_the_same_night_with_our_server(sqlite_servers):
    old, ours = tk_night(sqlite_servers.old), tk_night(sqlite_servers.ours)
    assert ours == old
    assert ours["first"] == ("info", "Success", '"New patient created"\n')
    assert ours["polled"] == str(random.Random(11).randint(4, 25))  # "12\n" minus its last character: "12"
    assert ours["errors"] == []
    header, count, record = ours["view_all"][1:4]
    assert (header, count) == ("Room 31 - Ann Old (MRN: 1234)", "CPAP Data Records: 1")
    assert f"Time: <ts> | CPAP Pressure: {ours['polled']} cmH2O | Breath Rate: 26.89 breaths/min" in record


@pytest.fixture
def streamlit_folder(tmp_path, monkeypatch):
    """A working folder with the client's ``sample_data/`` (two real lab files), and the client importable."""
    (tmp_path / "sample_data").mkdir()
    for name in (SHORT, LONGER):
        shutil.copy(REFERENCE_DATA / "venturi" / name, tmp_path / "sample_data" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REFERENCE_SYSTEM))  # its `from cpap_measurements import analysis_driver`
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no __pycache__ in ../shared
    # AppTest installs the script as sys.modules["__main__"]; left there, every later spawned process
    # (Dask's workers, multiprocessing pools) would re-run the old client's script at start-up
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    return tmp_path


def _click(app: AppTest, label_part: str) -> None:
    next(b for b in app.button if label_part in b.label).click().run()


def streamlit_night(url: str, monkeypatch, poll) -> dict:
    monkeypatch.setenv("API_URL", url)
    app = AppTest.from_file(str(REFERENCE_SYSTEM / "patient_streamlit.py"), default_timeout=180)
    app.run()
    app.text_input(key="name_input").input("Bo Streamlit")
    app.text_input(key="mrn_input").input("555")
    app.text_input(key="room_input").input("32")
    app.selectbox(key="sample_file_selector").select(SHORT)
    app.run()
    _click(app, "Load Sample Data")
    metrics = [m.value for m in app.metric]
    random.seed(21)
    _click(app, "Upload to Server")
    locked = app.text_input(key="mrn_input").disabled
    polled = poll(url, "32")  # what its sidebar poll reads (query_server_for_pressure)
    app.text_input(key="pressure_input").input(polled)  # the nurse types what the sidebar announced
    app.selectbox(key="sample_file_selector").select(LONGER)
    app.run()
    _click(app, "Load Sample Data")
    random.seed(22)
    _click(app, "Upload to Server")
    _click(app, "Refresh Patient List")
    tables = [d.value.astype(str).to_dict("records") for d in app.dataframe]
    return {
        "metrics": metrics,
        "locked": locked,
        "polled": polled,
        "exceptions": [e.value for e in app.exception],
        "errors": [e.value for e in app.error],
        "expanders": [e.label for e in app.expander],
        "tables": [[{k: _unstamped([v])[0] for k, v in row.items()} for row in t] for t in tables],
    }


@pytest.mark.slow
def test_the_streamlit_client_shows_the_same_night_with_our_server(
    sqlite_servers, streamlit_folder, monkeypatch, old_clients
):
    client = old_clients.st

    def poll(url: str, room: str) -> str:
        client.SERVER = url  # its setting (read from $API_URL at import)
        return client.query_server_for_pressure(room)

    old = streamlit_night(sqlite_servers.old, monkeypatch, poll)
    ours = streamlit_night(sqlite_servers.ours, monkeypatch, poll)
    assert ours == old
    assert (ours["exceptions"], ours["errors"], ours["locked"]) == ([], [], True)
    assert ours["polled"] == str(random.Random(21).randint(4, 25))
    assert ours["expanders"][-1] == "🏥 Room 32 - Bo Streamlit (MRN: 555)"
    (record,) = ours["tables"][-1]
    assert record == {
        "Record": "1/1",
        "Timestamp": "<ts>",
        "CPAP Pressure (cmH2O)": ours["polled"],
        "Breath Rate (breaths/min)": "26.89",
        "Apnea Events": "0",
    }
