"""Audit trail and upload idempotency.

- new table ``audit_events``: every pressure command, alarm acknowledgement and
  technician note, with who (token name and role), when and from where.
- ``measurements.idempotency_key`` (unique where given): a client's re-sent
  upload with the same ``Idempotency-Key`` header is answered with the first
  one's receipt instead of being stored twice.

Revision ID: 0004_audit_idempotency
Revises: 0003_command_admission
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_audit_idempotency"
down_revision = "0003_command_admission"
branch_labels = None
depends_on = None

KEY_INDEX = "ux_measurements_idempotency_key"


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("room_number", sa.Integer),
        sa.Column("record_id", sa.Integer),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(16)),
        sa.Column("actor_address", sa.String(64)),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at", "id"])
    op.add_column("measurements", sa.Column("idempotency_key", sa.String(64)))  # in place on SQLite too
    op.create_index(KEY_INDEX, "measurements", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index(KEY_INDEX, table_name="measurements")
    op.drop_column("measurements", "idempotency_key")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
