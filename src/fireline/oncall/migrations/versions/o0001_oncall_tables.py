"""on call: schedule overrides, incident roles, integration receipts

Revision ID: o0001_oncall_tables
Revises: (none: the root of the oncall branch)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.server.db import UTCDateTime

revision = "o0001_oncall_tables"
down_revision = None
branch_labels = ("oncall",)
# No dependency on the incidents branch (each branch keeps its own head, as readiness expects), so
# incident_roles.incident_id carries no foreign key: incidents are never deleted.
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oncall_overrides"),
    )
    op.create_index("ix_oncall_overrides_schedule", "oncall_overrides", ["schedule", "ends_at"])
    op.create_table(
        "incident_roles",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("person", sa.String(255), nullable=False),
        sa.Column("assigned_by", sa.String(255), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "role", name="pk_incident_roles"),
    )
    op.create_table(
        "integration_receipts",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_integration_receipts"),
    )
    op.create_index("ix_integration_receipts_received_at", "integration_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_integration_receipts_received_at", table_name="integration_receipts")
    op.drop_table("integration_receipts")
    op.drop_table("incident_roles")
    op.drop_index("ix_oncall_overrides_schedule", table_name="oncall_overrides")
    op.drop_table("oncall_overrides")
