"""nbval (lax) runs every notebook in notebooks/ against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cpap_lib.paths import NOTEBOOK_DIR, REPO_ROOT

REPO = REPO_ROOT
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_the_dashboard_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert {"monitor.ipynb", "bedside.ipynb"} <= names


@pytest.mark.slow
def test_every_notebook_runs_with_nbval_against_a_live_server(live_server, tmp_path):
    env = {**os.environ, "CPAP_API_URL": live_server, "CPAP_REFRESH_S": "2"}
    env.pop("CPAP_API_TOKEN", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-q",
        *map(str, NOTEBOOKS),
    ]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "failed" not in result.stdout.splitlines()[-1], report
