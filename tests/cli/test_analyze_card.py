"""`cpap-lab analyze CARD`: one row per night of a real-data card assembled in a tmp dir (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from cpap_lib.io.resmed.assemble import copy_card_files, copy_night
from support import REFERENCE_DATA

AS11 = REFERENCE_DATA / "resmed_airsense11"
AC10 = REFERENCE_DATA / "resmed_aircurve10"
CLI = [sys.executable, "-m", "cpap_lib.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    copy_card_files(AC10, root)
    night = copy_night(AC10 / "DATALOG" / "20250202", root, date(2025, 2, 2))
    # an aborted session in the night: a real BRP header with 0 data records
    data = (night / "20250203_040111_BRP.edf").read_bytes()
    head = bytearray(data[: 256 * (int(data[252:256]) + 1)])
    head[236:244], head[176:184] = b"0       ", b"03.30.00"
    (night / "20250203_033000_BRP.edf").write_bytes(bytes(head))
    copy_night(AC10 / "DATALOG" / "20250202", root, date(2025, 2, 4))
    return root


@pytest.mark.slow
def test_card_json_is_one_row_per_night(card):
    out = run("analyze", str(card), "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["night"] for r in rows] == ["2025-02-02", "2025-02-04"]
    first = rows[0]
    assert first["sessions"] == 5 and abs(first["hours"] - 9.17) < 0.01
    assert first["notes"] == [
        "session 03:30:00 holds no data; skipped (20250203_033000_BRP.edf: a header and 0 data records)"
    ]
    assert rows[1]["notes"] == []
    for r in rows:
        assert r["apnea_count"] >= 10 and r["ahi"] > 0 and r["ahi_rule"]
        assert 10 < r["breath_rate_bpm"] < 20
        assert 16 < r["pressure_median_cmh2o"] < 18 and r["leak_median_lpm"] is not None
    assert "Updating header" not in out.stdout + out.stderr


@pytest.mark.slow
def test_card_table_and_one_night(card):
    out = run("analyze", str(card))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith("AirCurve 10 VAuto, 2 nights")
    assert lines[3].startswith("2025-02-02   9.17     5") and lines[4].startswith("2025-02-04   9.17     5")
    assert "2025-02-02: session 03:30:00 holds no data; skipped" in out.stdout
    one = run("analyze", str(card), "--night", "2025-02-04", "--json")
    assert one.returncode == 0, one.stderr
    d = json.loads(one.stdout)
    assert d["night"] == "2025-02-04" and d["duration_s"] == (95 + 158 + 63 + 77 + 157) * 60.0 and d["notes"] == []
    missing = run("analyze", str(card), "--night", "2025-02-03")
    assert missing.returncode == 2
    assert "no night '2025-02-03' on the card (nights: 2025-02-02, 2025-02-04)" in missing.stderr


@pytest.mark.slow
def test_shared_airsense10_card_row_and_its_summary_only_days():
    out = run("analyze", str(REFERENCE_DATA / "resmed_airsense10"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith("AirSense 10 AutoSet, 1 night")
    assert lines[3].split()[:2] == ["2025-11-26", "7.35"] and lines[3].split()[5] == "10.8"  # STR.edf's AHI
    assert lines[-1] == (
        "STR.edf: 243 more days of use without flow data on the card (2024-11-28 to 2025-11-22; summary only)"
    )
