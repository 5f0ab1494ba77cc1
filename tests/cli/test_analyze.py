"""`cpap-lab analyze` as other tools call it: a real subprocess, JSON contract, exit status 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cpap_lib.paths import SAMPLE_DATA_DIR

SAMPLE = SAMPLE_DATA_DIR / "mild_apnea.txt"
CLI = [sys.executable, "-m", "cpap_lib.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_json_contract_on_a_sample():
    out = run("analyze", str(SAMPLE), "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    for key in (
        "breath_count",
        "breath_rate_bpm",
        "apnea_count",
        "apneas",
        "hypopnea_count",
        "duration_s",
        "samples",
        "skipped_rows",
    ):
        assert key in d
    truth = json.loads(SAMPLE.with_suffix(".truth.json").read_text())
    assert d["apnea_count"] == len(truth["apneas"]) == len(d["apneas"])
    assert all(set(a) == {"start_s", "end_s"} and a["end_s"] - a["start_s"] >= 9.5 for a in d["apneas"])
    assert d["apneas"][0]["start_s"] > 2.6  # the recording's own time base, which starts at 2.685 s


@pytest.mark.slow
def test_readable_summary():
    out = run("analyze", str(SAMPLE_DATA_DIR / "malformed_rows.txt"))
    assert out.returncode == 0
    assert "malformed rows skipped (lines" in out.stdout and "breaths/min" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["analyze", "no/such/file.txt"], "no/such/file.txt: file not found"),
        (["analyze", str(SAMPLE), "--threshold", "3"], "threshold: must be between 0.02 and 0.8"),
    ],
)
def test_bad_input_exit_status_2_and_a_message(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_junk_file(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    out = run("analyze", str(junk), "--json")
    assert out.returncode == 2 and "junk.txt: binary data" in out.stderr and out.stdout == ""


@pytest.mark.slow
def test_a_reader_that_closes_the_pipe_gets_no_traceback():
    """``cpap-lab analyze --json | head``: the reader is gone before we write; exit 141, nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*CLI, "analyze", str(SAMPLE), "--json"], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141
