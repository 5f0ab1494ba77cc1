"""Alembic's environment script (run by Alembic, never imported by the package).

The connection comes from :func:`cpap_lib.server.migrations.upgrade` and friends
through ``config.attributes["connection"]``; there is no ``alembic.ini``.
"""

from alembic import context

from cpap_lib.server.migrations import run_migrations_online

config = getattr(context, "config", None)  # None when imported outside Alembic (doctest collection)
if config is not None:
    run_migrations_online(context)
