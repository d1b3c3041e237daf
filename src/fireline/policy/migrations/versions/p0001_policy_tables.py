"""policy tables: SLO state, transitions, actions, audit log, budget exclusions

Revision ID: p0001_policy_tables
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.server.db import UTCDateTime

revision = "p0001_policy_tables"
down_revision = None
branch_labels = ("policy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_slo_state",
        sa.Column("service", sa.String(255), primary_key=True),
        sa.Column("slo", sa.String(255), primary_key=True),
        sa.Column("tier", sa.String(64)),
        sa.Column("since", UTCDateTime()),
        sa.Column("remaining", sa.Float()),
        sa.Column("measured_at", UTCDateTime()),
        sa.Column("unknown_since", UTCDateTime()),
        sa.Column("unknown_reason", sa.Text()),
        sa.Column("unknown_notified", sa.Boolean(), nullable=False),
        sa.Column("recovery_tier", sa.String(64)),
        sa.Column("recovery_cycles", sa.Integer(), nullable=False),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("service", "slo", name="pk_policy_slo_state"),
    )
    op.create_table(
        "policy_transition",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(255), nullable=False),
        sa.Column("slo", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_tier", sa.String(64)),
        sa.Column("to_tier", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("remaining", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_transition"),
        sa.UniqueConstraint("service", "slo", "seq", name="uq_policy_transition_seq"),
    )
    op.create_table(
        "policy_action",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("transition_id", sa.Integer()),
        sa.Column("service", sa.String(255), nullable=False),
        sa.Column("slo", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("result", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_policy_action"),
        sa.UniqueConstraint("key", name="uq_policy_action_key"),
    )
    op.create_index("ix_policy_action_due", "policy_action", ["status", "next_attempt_at"])
    op.create_table(
        "policy_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("service", sa.String(255)),
        sa.Column("slo", sa.String(255)),
        sa.Column("tier", sa.String(64)),
        sa.Column("previous_tier", sa.String(64)),
        sa.Column("remaining", sa.Float()),
        sa.Column("known", sa.Boolean()),
        sa.Column("actor", sa.String(255)),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_policy_audit"),
    )
    op.create_index("ix_policy_audit_slo", "policy_audit", ["service", "slo", "id"])
    op.create_table(
        "policy_exclusion",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service", sa.String(255), nullable=False),
        sa.Column("slo", sa.String(255)),
        sa.Column("start", UTCDateTime(), nullable=False),
        sa.Column("end", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("approved_by", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("revoked_by", sa.String(255)),
        sa.Column("silence_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_policy_exclusion"),
    )
    op.create_index("ix_policy_exclusion_service", "policy_exclusion", ["service"])


def downgrade() -> None:
    for table in ("policy_exclusion", "policy_audit", "policy_action", "policy_transition", "policy_slo_state"):
        op.drop_table(table)
