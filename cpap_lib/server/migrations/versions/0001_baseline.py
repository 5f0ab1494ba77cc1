"""Baseline: the schema the server made with ``create_all`` before migrations existed.

The tables are written out here as a frozen copy (plain SQLAlchemy types, no
import of :mod:`cpap_lib.server.models`, which will move on) and created with
``create_all``: the very DDL the pre-Alembic server issued, on SQLite (the
``use_alter`` foreign keys inline) and on PostgreSQL (added by ``ALTER TABLE``
after the tables). :func:`cpap_lib.server.migrations.prepare_schema` compares
a database without ``alembic_version`` against :func:`baseline_metadata`
before stamping it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def baseline_metadata() -> sa.MetaData:
    """Today's six tables, their indexes and the three ``use_alter`` foreign keys."""
    md = sa.MetaData()
    utc = sa.DateTime(timezone=True)
    sa.Table(
        "rooms",
        md,
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column(
            "current_admission_id",
            sa.Integer,
            sa.ForeignKey("admissions.id", use_alter=True, name="fk_rooms_current_admission"),
        ),
        sa.Column(
            "latest_command_id",
            sa.Integer,
            sa.ForeignKey("pressure_commands.id", use_alter=True, name="fk_rooms_latest_command"),
        ),
    )
    sa.Table(
        "patients",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mrn", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(100)),
        sa.Column("created_at", utc, nullable=False),
    )
    sa.Table(
        "admissions",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_number", sa.Integer, sa.ForeignKey("rooms.number"), nullable=False),
        sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("admitted_at", utc, nullable=False),
        sa.Column("discharged_at", utc),
        sa.Column(
            "latest_measurement_id",
            sa.Integer,
            sa.ForeignKey("measurements.id", use_alter=True, name="fk_admissions_latest_measurement"),
        ),
        sa.Index("ix_admissions_room", "room_number", "id"),
        sa.Index("ix_admissions_patient", "patient_id"),
    )
    columns: dict[str, Any] = {
        "cpap_pressure_cmh2o": sa.Float,
        "breath_count": sa.Integer,
        "breath_rate_bpm": sa.Float,
        "apnea_count": sa.Integer,
        "hypopnea_count": sa.Integer,
        "apnea_index": sa.Float,
        "ahi": sa.Float,
        "severity": sa.String(16),
        "tidal_volume_l": sa.Float,
        "minute_ventilation_lpm": sa.Float,
        "inspiratory_time_s": sa.Float,
        "net_volume_l": sa.Float,
        "leak_lpm": sa.Float,
        "duration_s": sa.Float,
        "samples": sa.Integer,
        "fs_hz": sa.Float,
        "method": sa.String(16),
        "source": sa.String(255),
        "trace_time_s": sa.LargeBinary,
        "trace_flow_lps": sa.LargeBinary,
        "flow_png": sa.LargeBinary,
    }
    sa.Table(
        "measurements",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("admission_id", sa.Integer, sa.ForeignKey("admissions.id"), nullable=False),
        sa.Column("recorded_at", utc, nullable=False),
        *(sa.Column(name, kind) for name, kind in columns.items()),
        sa.Index("ix_measurements_admission", "admission_id", "id"),
    )
    sa.Table(
        "measurement_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("measurement_id", sa.Integer, sa.ForeignKey("measurements.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float, nullable=False),
        sa.Column("end_s", sa.Float, nullable=False),
        sa.Index("ix_measurement_events_measurement", "measurement_id"),
    )
    sa.Table(
        "pressure_commands",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_number", sa.Integer, sa.ForeignKey("rooms.number"), nullable=False),
        sa.Column("cmh2o", sa.Integer, nullable=False),
        sa.Column("commanded_at", utc, nullable=False),
        sa.Index("ix_pressure_commands_room", "room_number", "id"),
    )
    return md


def upgrade() -> None:
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
