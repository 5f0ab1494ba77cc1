"""Pressure commands belong to a stay: ``pressure_commands.admission_id`` (null: a preset).

Staff may command a pressure for a room before its patient arrives (the old
clients did); the command waits with ``admission_id`` null and is tied to the
first patient admitted there. Existing commands are tied to the admission
that was current in their room when they were given.

Revision ID: 0003_command_admission
Revises: 0002_night_timeline
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_command_admission"
down_revision = "0002_night_timeline"
branch_labels = None
depends_on = None

FK = "fk_pressure_commands_admission"
INDEX = "ix_pressure_commands_admission"
BACKFILL = """
UPDATE pressure_commands SET admission_id = (
    SELECT a.id FROM admissions a
    WHERE a.room_number = pressure_commands.room_number AND a.admitted_at <= pressure_commands.commanded_at
      AND (a.discharged_at IS NULL OR a.discharged_at > pressure_commands.commanded_at)
    ORDER BY a.admitted_at DESC, a.id DESC LIMIT 1)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with an inline, named REFERENCES (no table rebuild: rooms refer to this table)
        op.execute(
            f"ALTER TABLE pressure_commands ADD COLUMN admission_id INTEGER CONSTRAINT {FK} REFERENCES admissions (id)"
        )
    else:
        op.add_column("pressure_commands", sa.Column("admission_id", sa.Integer, nullable=True))
        op.create_foreign_key(FK, "pressure_commands", "admissions", ["admission_id"], ["id"])
    op.create_index(INDEX, "pressure_commands", ["admission_id"])
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="pressure_commands")
    if op.get_bind().dialect.name == "sqlite":
        # The table is rebuilt; rooms refer to it, so SQLite's foreign-key checks pause meanwhile
        # (possible because Python's sqlite3 opens no transaction for DDL).
        op.execute("PRAGMA foreign_keys = OFF")
        with op.batch_alter_table("pressure_commands", recreate="always") as batch:
            batch.drop_column("admission_id")
        op.execute("PRAGMA foreign_keys = ON")  # a no-op inside the rebuild's transaction: drop the connection after
    else:
        op.drop_constraint(FK, "pressure_commands", type_="foreignkey")
        op.drop_column("pressure_commands", "admission_id")
