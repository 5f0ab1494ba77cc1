"""The night as the unit of care: who commanded what, alarm acknowledgements, technician notes.

- ``pressure_commands``: ``commanded_by`` (who) and ``from_cmh2o`` (the
  pressure the command changed from); older commands keep nulls.
- ``admissions``: running totals of the night (``night_apneas``,
  ``night_hypopneas``, ``night_recorded_s``, filled from the stored
  measurements here) so the night's AHI is one row, and the alarm state last
  seen (``alarm_state`` since ``alarm_since``).
- ``measurements``: index ``(admission_id, recorded_at)`` for the rolling
  30/60-minute windows.
- new tables ``alarm_acknowledgements`` and ``technician_notes``.

Revision ID: 0002_night_timeline
Revises: 0001_baseline
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_night_timeline"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)

_NIGHT_TOTALS = """
UPDATE admissions SET
  night_apneas = COALESCE((SELECT SUM(m.apnea_count) FROM measurements m
                           WHERE m.admission_id = admissions.id AND m.apnea_count IS NOT NULL
                             AND m.duration_s IS NOT NULL), 0),
  night_hypopneas = COALESCE((SELECT SUM(COALESCE(m.hypopnea_count, 0)) FROM measurements m
                              WHERE m.admission_id = admissions.id AND m.apnea_count IS NOT NULL
                                AND m.duration_s IS NOT NULL), 0),
  night_recorded_s = COALESCE((SELECT SUM(m.duration_s) FROM measurements m
                               WHERE m.admission_id = admissions.id AND m.apnea_count IS NOT NULL
                                 AND m.duration_s IS NOT NULL), 0)
"""


def upgrade() -> None:
    with op.batch_alter_table("pressure_commands") as batch:
        batch.add_column(sa.Column("commanded_by", sa.String(100)))
        batch.add_column(sa.Column("from_cmh2o", sa.Float))
    with op.batch_alter_table("admissions") as batch:
        batch.add_column(sa.Column("night_apneas", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("night_hypopneas", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("night_recorded_s", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("alarm_state", sa.String(16)))
        batch.add_column(sa.Column("alarm_since", UTC_TIME))
    op.create_index("ix_measurements_admission_recorded", "measurements", ["admission_id", "recorded_at"])
    op.create_table(
        "alarm_acknowledgements",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("admission_id", sa.Integer, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_since", UTC_TIME, nullable=False),
        sa.Column("acknowledged_by", sa.String(100), nullable=False),
        sa.Column("acknowledged_at", UTC_TIME, nullable=False),
        sa.Column("note", sa.String(2000)),
    )
    op.create_index("ix_alarm_acknowledgements_admission", "alarm_acknowledgements", ["admission_id", "id"])
    op.create_table(
        "technician_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("admission_id", sa.Integer, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
    )
    op.create_index("ix_technician_notes_admission", "technician_notes", ["admission_id", "id"])
    op.execute(_NIGHT_TOTALS)


def downgrade() -> None:
    op.drop_index("ix_technician_notes_admission", table_name="technician_notes")
    op.drop_table("technician_notes")
    op.drop_index("ix_alarm_acknowledgements_admission", table_name="alarm_acknowledgements")
    op.drop_table("alarm_acknowledgements")
    op.drop_index("ix_measurements_admission_recorded", table_name="measurements")
    with op.batch_alter_table("admissions") as batch:
        for column in ("alarm_since", "alarm_state", "night_recorded_s", "night_hypopneas", "night_apneas"):
            batch.drop_column(column)
    with op.batch_alter_table("pressure_commands") as batch:
        batch.drop_column("from_cmh2o")
        batch.drop_column("commanded_by")
