"""A wheel that runs: build it, install it into a fresh venv, and use it from a folder outside the repository.

The wheel is built from a copy of the package sources (pip's isolated build:
setuptools from pip's cache or PyPI) and installed, alone, into a new venv whose
third-party dependencies are this environment's: a ``.pth`` file puts this
venv's ``site-packages`` after the new one's (its ``.pth`` files, among them the
checkout's editable install, are not run from there), and the Jupyter data the
dependencies installed (``share/jupyter``, ``etc/jupyter``: Voilà's templates,
the widgets' JavaScript, the kernelspec) is copied in. Installing the wheel's
0.8 GB of dependencies again would prove only that pip works; ``pip check``
proves the wheel's requirements are met, and ``make test``'s own
``pip install -e '.[test]'`` installs them from the index on a fresh machine.
Then, with no ``PYTHONPATH`` and the working directory elsewhere, ``cpap_lib``
must come from the new venv, ``cpap-lab report`` on a simulated file writes its
report, and ``cpap-lab demo`` brings up the server and a Voilà page that
answer. Everything the demo, Voilà and the reports read (notebooks, voila.json,
sample data, migrations) must come from the installed package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path

import pytest

from cpap_lib.paths import REPO_ROOT
from support import running_demo

PACKAGE_DATA = [
    "cpap_lib/notebooks/monitor.ipynb",
    "cpap_lib/notebooks/bedside.ipynb",
    "cpap_lib/notebooks/explorer.ipynb",
    "cpap_lib/notebooks/batch_report.ipynb",
    "cpap_lib/dashboard/runtime/voila.json",
    "cpap_lib/sample_data/mild_apnea.txt",
    "cpap_lib/server/migrations/env.py",
    "cpap_lib/server/migrations/script.py.mako",
    "cpap_lib/server/migrations/versions/0001_baseline.py",
]

_WHERE = "import cpap_lib, cpap_lib.paths as p; print(cpap_lib.__file__, p.NOTEBOOK_DIR, p.SAMPLE_DATA_DIR, p.VOILA_CONFIG_DIR)"
"""Where the installed package and its data are found (all must be inside the new venv's copy)."""


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that points Python at the checkout."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("CPAP_")
    }


def _run(command: list[str], cwd: Path, timeout: float = 900) -> str:
    done = subprocess.run(command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin/`` folder of a fresh venv with the freshly built wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "cpap_lib", source / "cpap_lib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)], cwd=root)
    wheel = next(dist.glob("cpap_lib-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert not any(name.startswith(("tests/", "notebooks/", "sample_data/")) for name in names)

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = str(venv / "bin" / "python")
    new_site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root).strip())
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (new_site / "_test_dependencies.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    for data in ("share/jupyter", "etc/jupyter"):  # what the dependencies' wheels put beside site-packages
        if (Path(sys.prefix) / data).is_dir():
            shutil.copytree(Path(sys.prefix) / data, venv / data, symlinks=True)
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    _run([*pip, "install", "--quiet", "--no-deps", "--no-compile", str(wheel)], cwd=root)
    _run([*pip, "check"], cwd=root)  # every requirement of the wheel (and of what it needs) is met

    where = _run([python, "-c", _WHERE], cwd=root).split()
    assert len(where) == 4 and all(path.startswith(str(new_site / "cpap_lib")) for path in where), where
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first one builds the wheel and installs it
def test_installed_wheel_writes_a_report_for_a_simulated_file(installed, tmp_path):
    _run([str(installed / "cpap-lab"), "simulate", "night.txt", "--seed", "7", "--minutes", "3"], cwd=tmp_path)
    _run([str(installed / "cpap-lab"), "report", "night.txt", "--out", "out", "--workers", "1"], cwd=tmp_path)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["ok"] for r in results] == [True], results
    assert (tmp_path / "out" / "index.html").is_file()
    assert any((tmp_path / "out" / "reports").glob("*.html"))


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first one builds the wheel and installs it
def test_installed_wheel_runs_the_demo_server_and_a_voila_page(installed, tmp_path):
    command = [
        str(installed / "cpap-lab"),
        "demo",
        "--rooms",
        "1",
        "--port",
        "0",
        "--voila-port",
        "0",
        "--interval",
        "2",
        "--database",
        f"sqlite:///{tmp_path / 'demo.db'}",
    ]
    with running_demo(command, tmp_path, _clean_env(), timeout=180) as (process, text):
        api = re.search(r"REST API \(OpenAPI docs\)\s+(http://\S+)/docs", text)
        page = re.search(r"Staff: ward overview \+ monitoring station\s+(http://\S+)", text)
        assert api and page, text
        with urllib.request.urlopen(api.group(1) + "/health", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(page.group(1), timeout=120) as response:
            body = response.read().decode()
            assert response.status == 200
        assert "monitor" in body.lower() and "Traceback" not in body
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
