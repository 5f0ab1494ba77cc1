"""``cpap-lab db upgrade|current [--database URL]``: the database schema (Alembic migrations).

``upgrade`` brings the database to the newest revision this cpap_lib knows
(creating the tables of an empty database, recording a database made before
migrations existed as ``0001_baseline``); ``current`` prints the database's
revision and whether it is the newest. The server does the same upgrade on
start; run it by hand to upgrade at a time of your choosing (after a backup).

Examples
--------
>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers()
>>> register(sub)
>>> run(sub.choices["db"].parse_args(["current", "--database", "sqlite://"]), env={})  # doctest: +ELLIPSIS
sqlite:// is at revision none (empty, or made before migrations); the newest is 000...
0
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from . import COMMANDS

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``db`` subcommand."""
    parser = subparsers.add_parser(
        "db", help=COMMANDS["db"], description="Database schema migrations (Alembic). The server upgrades on start too."
    )
    parser.add_argument(
        "action",
        choices=("upgrade", "current"),
        help="upgrade: bring the schema to the newest revision; current: print the revision",
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help="SQLAlchemy URL (default: CPAP_DATABASE_URL or sqlite:///cpap_lab.db)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Upgrade or show the schema revision of the database; return 0."""
    from ..server.db import make_engine
    from ..server.migrations import current_revision, head_revision, upgrade
    from ..server.settings import Settings

    url = args.database or Settings.from_env(os.environ if env is None else env).database_url
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        head = head_revision()
        if args.action == "upgrade":
            before = current_revision(engine)
            after = upgrade(engine)
            print(f"{shown}: at revision {after}" + ("" if before == after else f" (was {before or 'none'})"))
        else:
            current = current_revision(engine)
            state = "the newest" if current == head else f"the newest is {head}"
            print(f"{shown} is at revision {current or 'none (empty, or made before migrations)'}; {state}")
    finally:
        engine.dispose()
    return 0
