"""The quote log: quotes, sales and the history of corrected sales.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotes",
        sa.Column("quote_id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("price_low", sa.Float(), nullable=False),
        sa.Column("price_high", sa.Float(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_quotes_created_at", "quotes", ["created_at"])
    op.create_index("ix_quotes_model_version", "quotes", ["model_version"])
    op.create_table(
        "sales",
        sa.Column(
            "quote_id",
            sa.String(36),
            sa.ForeignKey("quotes.quote_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sale_price", sa.Float(), nullable=False),
        sa.Column("sold_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
    )
    op.create_table(
        "sale_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "quote_id",
            sa.String(36),
            sa.ForeignKey("quotes.quote_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sale_price", sa.Float(), nullable=False),
        sa.Column("sold_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_name", sa.String(128), nullable=True),
    )
    op.create_index("ix_sale_history_quote_id", "sale_history", ["quote_id"])


def downgrade() -> None:
    op.drop_index("ix_sale_history_quote_id", table_name="sale_history")
    op.drop_table("sale_history")
    op.drop_table("sales")
    op.drop_index("ix_quotes_model_version", table_name="quotes")
    op.drop_index("ix_quotes_created_at", table_name="quotes")
    op.drop_table("quotes")
