"""What a report run may write: no token in any output file, only into its own output folders [issue 14.4, 14.6]."""

from __future__ import annotations

import json
import os

import pytest

from cpap_lib.analysis import analyze_file
from cpap_lib.client import CpapClient
from cpap_lib.reports.runner import OUTPUT_MARKER
from cpap_lib.server.process import start_server

from .conftest import cli

pytestmark = pytest.mark.slow

STAFF_TOKEN = "staff-Xq7-report-secret-91f3"
DEVICE_TOKEN = "device-Zr2-upload-secret-44ab"
ROOM = 31


@pytest.fixture(scope="module")
def token_server(tmp_path_factory, sample_paths):
    db = tmp_path_factory.mktemp("token_server") / "cpap_lab.db"
    with start_server(f"sqlite:///{db}", staff_tokens=STAFF_TOKEN, device_tokens=DEVICE_TOKEN) as server:
        with CpapClient(server.url, token=DEVICE_TOKEN) as device:
            device.upload_measurement(
                ROOM, "MRN-TOK-1", name="Tess Token", cpap_pressure=9, analysis=analyze_file(sample_paths[0])
            )
        yield server.url


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_token_is_in_no_output_file(token_server, tmp_path, how):
    out = tmp_path / "out"
    args = ["report", "--server", token_server, "--all-rooms", "--out", str(out), "--no-progress"]
    env = {}
    if how == "option":
        args += ["--token", STAFF_TOKEN]
    else:
        env = {"CPAP_LAB_TOKEN": STAFF_TOKEN}
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr  # the token reached the kernel: the server answered
    results = json.loads((out / "results.json").read_text())
    assert [r["ok"] for r in results] == [True]
    files = [path for path in out.rglob("*") if path.is_file()]
    assert len(files) >= 5  # index, results, marker, notebook, report, summary
    for path in files:
        assert STAFF_TOKEN.encode() not in path.read_bytes(), path
    notebook = json.loads(next(out.glob("notebooks/*.ipynb")).read_text())
    assert "token" not in notebook["metadata"]["papermill"]["parameters"]


def test_without_the_token_the_report_fails_with_a_sentence(token_server, tmp_path):
    done = cli(
        "report",
        "--server",
        token_server,
        "--room",
        str(ROOM),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        env={"CPAP_LAB_TOKEN": ""},
    )
    assert done.returncode == 2 and "token" in done.stderr.lower(), done.stderr


def test_a_folder_it_did_not_create_is_refused_and_left_alone(tmp_path, sample_paths):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "monitor.ipynb").write_text("the dashboards' notebook")
    (tmp_path / "index.html").write_text("someone's page")
    done = cli("report", str(sample_paths[1]), "--out", str(tmp_path), "--no-progress")
    assert done.returncode == 2
    assert "is not empty and was not written by cpap-lab report" in done.stderr
    assert (tmp_path / "notebooks" / "monitor.ipynb").read_text() == "the dashboards' notebook"
    assert (tmp_path / "index.html").read_text() == "someone's page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "notebooks"]


def test_a_rerun_replaces_only_its_own_outputs(tmp_path, sample_paths):
    out = tmp_path / "night"
    assert cli("report", str(sample_paths[1]), "--out", str(out), "--no-progress").returncode == 0
    assert (out / OUTPUT_MARKER).is_file()
    (out / "reports" / "stale.html").write_text("from an earlier run")
    (out / "physician-notes.txt").write_text("mine")
    done = cli("report", str(sample_paths[1]), "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert not (out / "reports" / "stale.html").exists()
    assert (out / "physician-notes.txt").read_text() == "mine"
    assert (out / "reports" / f"{sample_paths[1].stem}.html").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]


def test_an_empty_folder_is_accepted(tmp_path, sample_paths):
    assert os.listdir(tmp_path) == []
    assert cli("report", str(sample_paths[1]), "--out", str(tmp_path), "--no-progress").returncode == 0
