"""``cpap-lab demo [--rooms N] [--port 8000] [--voila-port 8866]``: a living ward on this machine.

Starts, in this order, and stops again on Ctrl-C (or SIGTERM), whatever
happens in between:

1. the REST server on 127.0.0.1 with its SQLite default database
   (``CPAP_DATABASE_URL`` or ``cpap_lab.db`` in the working directory);
2. ``--rooms`` simulated bedside devices (:mod:`cpap_lib.sim.devices`) uploading a
   new measurement every ``--interval`` seconds and obeying commanded pressures;
3. Voilà serving ``cpap_lib/notebooks/`` (settings in ``cpap_lib/dashboard/runtime/voila.json``);

then prints the URLs of the staff and bedside pages.

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["demo"].parse_args(["--rooms", "3", "--port", "0"])
>>> args.rooms, args.port, args.voila_port, args.interval
(3, 0, 8866, 5.0)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from . import COMMANDS

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help=COMMANDS["demo"],
        description="Run the REST server (SQLite), simulated bedside devices and the Voilà dashboards "
        "on 127.0.0.1; print their URLs; Ctrl-C stops everything.",
    )
    parser.add_argument("--rooms", type=int, default=6, help="simulated bedside devices (1-200, default 6)")
    parser.add_argument("--port", type=int, default=8000, help="REST server port (0: any free port; default 8000)")
    parser.add_argument("--voila-port", type=int, default=8866, help="dashboard port (0: any free port; default 8866)")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between uploads of each device (1-60, default 5)"
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL (default: CPAP_DATABASE_URL or sqlite:///cpap_lab.db)",
    )
    parser.set_defaults(func=run)


def _database_url(arg: str | None) -> str:
    from ..server.settings import DEFAULT_DATABASE_URL

    url = arg or os.environ.get("CPAP_DATABASE_URL") or DEFAULT_DATABASE_URL
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        url = prefix + str(Path(url[len(prefix) :]).resolve())  # the server child may run elsewhere
    return url


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no conflict
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(args: argparse.Namespace) -> int:
    """Start everything, print the URLs, wait for Ctrl-C, stop everything; return 0."""
    from ..client import CpapClient
    from ..dashboard.runtime.voila_app import VoilaServer
    from ..errors import ParameterError
    from ..server.process import free_port, start_server
    from ..sim.devices import DeviceFleet, demo_patients

    if not 1 <= args.rooms <= 200:
        raise ParameterError("--rooms", f"must be from 1 to 200, got {args.rooms}")
    if not 1 <= args.interval <= 60:
        raise ParameterError("--interval", f"must be from 1 to 60 seconds, got {args.interval:g}")
    for name, port in (("--port", args.port), ("--voila-port", args.voila_port)):
        if not 0 <= port <= 65535:
            raise ParameterError(name, f"must be 0-65535, got {port}")
        if port and not _port_free(port):
            raise ParameterError(
                name, f"port {port} on 127.0.0.1 is in use (another demo?); choose another, or 0 for any free port"
            )

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    log_dir = Path(tempfile.mkdtemp(prefix="cpap-demo-"))
    server = fleet = voila = None
    try:
        database = _database_url(args.database)
        print(f"Starting the REST server ({database}) …", flush=True)
        server = start_server(database, port=args.port, log_level="warning", log_path=log_dir / "server.log")
        patients = demo_patients(args.rooms)
        fleet = DeviceFleet(lambda: CpapClient(server.url, timeout=10.0), patients, interval_s=args.interval)
        print(f"Starting {args.rooms} simulated bedside devices …", flush=True)
        threading.Thread(target=fleet.start, name="fleet-start", daemon=True).start()
        print("Starting the dashboards (Voilà) …", flush=True)
        voila = VoilaServer(
            server.url, port=args.voila_port or free_port(), env={"CPAP_REFRESH_S": "3"}, log_path=log_dir / "voila.log"
        )
        voila.start()
        first, last = patients[0].room, patients[-1].room
        links = (
            ("Staff: ward overview + monitoring station", voila.page_url("monitor.ipynb")),
            (f"Bedside station (room {first})", voila.page_url("bedside.ipynb", f"room={first}")),
            ("Signal explorer", voila.page_url("explorer.ipynb")),
            ("All pages", f"{voila.url}/"),
            ("REST API (OpenAPI docs)", f"{server.url}/docs"),
        )
        print(
            "\nSleep Lab Monitor demo is running (Ctrl-C stops everything):\n"
            + "".join(f"  {label:<43}{url}\n" for label, url in links)
            + f"  {args.rooms} simulated devices in rooms {first}-{last} upload every {args.interval:g} s.\n"
            "  Try it: click a card with a red apnea count, send 14 cmH2O, and watch its next\n"
            "  measurements come in at 14 cmH2O with fewer apneas.\n"
            f"  Logs: {log_dir}",
            flush=True,
        )
        while not stop.wait(1.0):
            if server.process.poll() is not None or voila.process is None or voila.process.poll() is not None:
                print(f"cpap-lab demo: a service stopped unexpectedly; see the logs in {log_dir}", file=sys.stderr)
                return 1
        print("\nStopping …", flush=True)
        return 0
    finally:
        for part in (fleet, voila, server):
            if part is not None:
                part.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
