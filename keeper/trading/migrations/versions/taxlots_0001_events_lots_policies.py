"""taxlots: the event log, per-client policies, books, open lots and outcomes

Revision ID: taxlots_0001
Revises: 0001
Create Date: 2026-11-24 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "taxlots_0001"
down_revision = "0001"
branch_labels = ("taxlots",)
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "trading_taxlots_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("fee", sa.String(length=40), nullable=False),
        sa.Column("fee_quantity", sa.String(length=80), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("to_location", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_taxlots_events")),
        sa.UniqueConstraint("client_id", "reference",
                            name=op.f("uq_trading_taxlots_events_client_id")),
    )
    op.create_table(
        "trading_taxlots_policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("fees_in_basis", sa.Boolean(), nullable=False),
        sa.Column("effective_from", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_taxlots_policies")),
    )
    op.create_index(op.f("ix_trading_taxlots_policies_client_id"), "trading_taxlots_policies",
                    ["client_id"], unique=False)
    op.create_table(
        "trading_taxlots_books",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("last_rank", sa.Integer(), nullable=False),
        sa.Column("last_reference", sa.String(length=200), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "asset", name=op.f("pk_trading_taxlots_books")),
    )
    op.create_table(
        "trading_taxlots_lots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.String(length=80), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_taxlots_lots")),
        sa.UniqueConstraint("client_id", "asset", "location", "origin",
                            name=op.f("uq_trading_taxlots_lots_client_id")),
    )
    op.create_table(
        "trading_taxlots_outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_taxlots_outcomes")),
        sa.UniqueConstraint("client_id", "reference",
                            name=op.f("uq_trading_taxlots_outcomes_client_id")),
    )
    op.create_index(op.f("ix_trading_taxlots_outcomes_client_id"), "trading_taxlots_outcomes",
                    ["client_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_trading_taxlots_outcomes_client_id"),
                  table_name="trading_taxlots_outcomes")
    op.drop_table("trading_taxlots_outcomes")
    op.drop_table("trading_taxlots_lots")
    op.drop_table("trading_taxlots_books")
    op.drop_index(op.f("ix_trading_taxlots_policies_client_id"),
                  table_name="trading_taxlots_policies")
    op.drop_table("trading_taxlots_policies")
    op.drop_table("trading_taxlots_events")
