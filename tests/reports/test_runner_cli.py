"""The runner's arguments and kernel choice (fast: nothing is executed)."""

from __future__ import annotations

import sys

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from cpap_lib.cli import main
from cpap_lib.errors import ParameterError, ReportError
from cpap_lib.paths import SAMPLE_DATA_DIR
from cpap_lib.reports import current_env_kernel, run_reports


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "--out", "x"], "give recording files or globs"),
        (["report", "/no/such/file.txt", "--out", "x"], "/no/such/file.txt does not exist"),
        (["report", "/no/such/*.txt", "--out", "x"], "matches no file"),
        (["report", "--server", "http://127.0.0.1:1", "--out", "x"], "give --all-rooms or --room ROOM"),
        (["report", "--all-rooms", "--out", "x"], "needs --server URL"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_unknown_option_exits_2():
    with pytest.raises(SystemExit) as exc:
        main(["report", "a.txt", "--out", "x", "--workers", "two"])
    assert exc.value.code == 2


def test_unreachable_server_is_a_clear_error(capsys):
    assert main(["report", "--server", "http://127.0.0.1:9", "--all-rooms", "--out", "x"]) == 2
    assert "cpap-lab report: error:" in capsys.readouterr().err


def test_run_reports_checks_workers_and_notebook(tmp_path):
    with pytest.raises(ParameterError, match="workers: must be at least 1, got 0"):
        run_reports([str(SAMPLE_DATA_DIR / "normal_breathing.txt")], tmp_path, workers=0)
    with pytest.raises(ParameterError, match="method: must be one of amplitude, gap, got 'peaks'"):
        run_reports([str(SAMPLE_DATA_DIR / "normal_breathing.txt")], tmp_path, method="peaks")
    with pytest.raises(ReportError, match="does not exist"):
        run_reports([str(SAMPLE_DATA_DIR / "normal_breathing.txt")], tmp_path, notebook=tmp_path / "missing.ipynb")


def test_kernel_runs_this_environments_python():
    spec = KernelSpecManager().get_kernel_spec(current_env_kernel())
    assert spec.argv[0] in ("python", "python3", sys.executable)
    assert spec.language == "python"
