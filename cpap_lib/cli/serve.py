"""``cpap-lab serve [--host 127.0.0.1] [--port 8000] [--database URL] [--workers N]``: run the REST server.

The database defaults to ``CPAP_DATABASE_URL`` or ``sqlite:///cpap_lab.db``
in the working directory. Tokens come from ``CPAP_DEVICE_TOKEN``,
``CPAP_STAFF_TOKEN`` or ``CPAP_TOKEN_FILE``; without any, only a loopback
host is accepted (otherwise exit status 2 with a message saying how to
configure tokens). Logs are ``key=value`` lines on stderr, one per request.
``--workers N`` runs N uvicorn worker processes on one socket: PostgreSQL
only (SQLite is refused for N > 1 with a sentence saying why).
``CPAP_LEGACY_NETWORKS=10.1.0.0/16`` lets the old bedside clients on those
networks upload and poll without a token (README, "Old clients").

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> args = sub.choices["serve"].parse_args(["--port", "8123", "--database", "sqlite:///x.db"])
>>> args.host, args.port, args.database
('127.0.0.1', 8123, 'sqlite:///x.db')
>>> run(sub.choices["serve"].parse_args(["--host", "0.0.0.0", "--database", "sqlite://"]), env={})
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: host: refusing to listen on 0.0.0.0 without access tokens; ...
>>> run(sub.choices["serve"].parse_args(["--workers", "2", "--database", "sqlite:///x.db"]), env={})
Traceback (most recent call last):
...
cpap_lib.errors.ParameterError: workers: SQLite takes one writer at a time ...
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import replace

from . import COMMANDS

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help=COMMANDS["serve"],
        description="Run the sleep-lab REST server (FastAPI + uvicorn). Tokens: CPAP_DEVICE_TOKEN, "
        "CPAP_STAFF_TOKEN or CPAP_TOKEN_FILE; without tokens only a loopback host is allowed. "
        "CPAP_LEGACY_NETWORKS (CIDR list): old bedside clients there may upload and poll without a token.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db "
        "(default: CPAP_DATABASE_URL or sqlite:///cpap_lab.db)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default 1; more than 1 needs PostgreSQL)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="log level (info logs one line per request; default info)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Check the settings, then serve until interrupted; return 0."""
    from ..errors import ParameterError
    from ..server.process import check_workers, serve
    from ..server.settings import Settings, check_bind_host

    settings = Settings.from_env(os.environ if env is None else env)
    if args.database:
        settings = replace(settings, database_url=args.database)
    if not 0 <= args.port <= 65535:
        raise ParameterError("port", f"must be 0-65535, got {args.port}")
    check_bind_host(args.host, settings)
    check_workers(args.workers, settings.database_url)
    serve(settings, host=args.host, port=args.port, log_level=args.log_level, workers=args.workers)
    return 0
