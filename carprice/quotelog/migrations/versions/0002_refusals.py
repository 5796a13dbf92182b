"""Refused rows: what the service was asked to price and refused, with the reason.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusals",
        sa.Column("refusal_id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_refusals_created_at", "refusals", ["created_at"])
    op.create_index("ix_refusals_model_version", "refusals", ["model_version"])


def downgrade() -> None:
    op.drop_index("ix_refusals_model_version", table_name="refusals")
    op.drop_index("ix_refusals_created_at", table_name="refusals")
    op.drop_table("refusals")
