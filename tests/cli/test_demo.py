"""`cpap-lab demo`: everything comes up, the ward fills, Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
import urllib.request

import pytest

from cpap_lib.client import CpapClient
from support import running_demo


def port_open(url: str) -> bool:
    host, port = re.match(r"http://([\d.]+):(\d+)", url).groups()
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.slow
def test_demo_runs_a_living_ward_and_ctrl_c_stops_it(tmp_path):
    command = [
        sys.executable,
        "-m",
        "cpap_lib.cli",
        "demo",
        "--rooms",
        "2",
        "--port",
        "0",
        "--voila-port",
        "0",
        "--interval",
        "1",
        "--database",
        f"sqlite:///{tmp_path / 'demo.db'}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPAP_")}
    with running_demo(command, tmp_path, env) as (process, output):
        monitor = re.search(r"(http://127\.0\.0\.1:\d+)/voila/render/monitor\.ipynb", output)
        api = re.search(r"(http://127\.0\.0\.1:\d+)/docs", output)
        assert monitor and api, output
        assert "bedside.ipynb?room=101" in output
        with urllib.request.urlopen(monitor.group(1) + "/", timeout=10) as response:
            assert response.status == 200
        with CpapClient(api.group(1), timeout=5.0) as client:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(client.ward().rooms) < 2:
                time.sleep(0.5)
            assert sorted(r.room for r in client.ward().rooms) == [101, 102]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not port_open(api.group(1)) and not port_open(monitor.group(1))
