"""Clock times in ``cpap-lab`` output (a real subprocess): the lab's zone where the start is known, elapsed otherwise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cpap_lib.paths import SAMPLE_DATA_DIR
from support import REFERENCE_DATA

CLI = [sys.executable, "-m", "cpap_lib.cli"]
SESSION = REFERENCE_DATA / "resmed_airsense11" / "DATALOG" / "20241017" / "20241018_055256_BRP.edf"
"""A real AirSense 11 session; its EDF header says it began 05:52:56 on the device's clock."""
LAB = "America/New_York"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CPAP_LAB_TZ": LAB}
    out = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    return out


def test_analyze_prints_clock_times_in_the_lab_zone_and_json_adds_iso_clock_fields():
    text = run("analyze", str(SESSION)).stdout
    assert "from 2024-10-18 05:52:56 (America/New_York)" in text.splitlines()[0]
    apneas = re.findall(r"apnea  (\d\d:\d\d:\d\d) - (\d\d:\d\d:\d\d)  \(\+(\d:\d\d:\d\d), ([\d.]+) s\)", text)
    assert apneas and apneas[0][0] == "06:11:47" and apneas[0][2] == "0:18:52"  # clock time, then since the start

    d = json.loads(run("analyze", str(SESSION), "--json").stdout)
    start = datetime(2024, 10, 18, 5, 52, 56, tzinfo=ZoneInfo(LAB))  # the device's clock is the lab's
    assert (d["start_clock"], d["time_zone"]) == ("2024-10-18T05:52:56.000-04:00", LAB)
    assert d["apnea_count"] == len(d["apneas"]) == len(apneas)
    for event in d["apneas"] + d["hypopneas"]:
        assert isinstance(event["start_s"], float) and isinstance(event["end_s"], float)  # the seconds stay
        for key in ("start", "end"):
            clock = datetime.fromisoformat(event[f"{key}_clock"])
            assert abs((clock - (start + timedelta(seconds=event[f"{key}_s"]))).total_seconds()) < 0.001
    assert [a["start_clock"][11:19] for a in d["apneas"]] == [a[0] for a in apneas]


def test_without_a_known_start_analyze_says_so_and_gives_elapsed_time_only():
    sample = SAMPLE_DATA_DIR / "mild_apnea.txt"  # the lab's text files record no start time
    text = run("analyze", str(sample)).stdout
    assert "clock time unknown (times are since its start)" in text.splitlines()[0]
    assert re.search(r"apnea  \+0:\d\d:\d\d - \+0:\d\d:\d\d  \([\d.]+ s\)", text)
    d = json.loads(run("analyze", str(sample), "--json").stdout)
    assert d["start_clock"] is None and d["time_zone"] == LAB
    assert all(set(a) == {"start_s", "end_s"} for a in d["apneas"])


def test_a_card_gives_each_nights_flow_from_first_to_last_in_clock_time():
    card = REFERENCE_DATA / "resmed_airsense11"  # one night, four sessions from 22:18:49 on the device's clock
    lines = run("analyze", str(card)).stdout.splitlines()
    assert lines[1].split()[-1] == "flow" and lines[2].split()[-1] == LAB
    assert lines[3].startswith("2024-10-17") and re.search(r"  22:18-07:\d\d$", lines[3]), lines[3]
    (row,) = json.loads(run("analyze", str(card), "--json").stdout)
    assert row["start_clock"] == "2024-10-17T22:18:49.000-04:00"
    end = datetime.fromisoformat(row["end_clock"])
    assert end.utcoffset() == timedelta(hours=-4) and end.strftime("%H:%M") == lines[3][-5:]
    assert (end - datetime.fromisoformat(row["start_clock"])).total_seconds() >= row["hours"] * 3600  # gaps kept


def test_compare_json_adds_clock_fields_to_the_device_events():
    d = json.loads(run("compare", str(SESSION), "--json").stdout)
    night = d["night"]
    assert night["start_clock"] == "2024-10-18T05:52:56.000-04:00" and night["time_zone"] == LAB
    events = night["device_events"]
    assert events
    for event in events:
        end = datetime.fromisoformat(event["end_clock"])
        assert end.replace(tzinfo=None) == datetime.fromisoformat(event["time"])  # the device stamps the end
        assert (end - datetime.fromisoformat(event["start_clock"])).total_seconds() == event["end_s"] - event["start_s"]
    text = run("compare", str(SESSION)).stdout
    assert "from 2024-10-18 05:52:56" in text


def test_the_help_says_which_clock():
    for command in ("analyze", "compare"):
        help_text = " ".join(run(command, "--help").stdout.split())
        assert "clock time" in help_text and "$CPAP_LAB_TZ" in help_text and "ISO 8601" in help_text
