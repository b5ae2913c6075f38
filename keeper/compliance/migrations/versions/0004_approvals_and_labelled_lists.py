"""four-eyes approvals on case decisions; labelled address lists

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "compliance_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["compliance_cases.id"],
                                name=op.f("fk_compliance_approvals_case_id_compliance_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_approvals")),
    )
    op.create_index(op.f("ix_compliance_approvals_case_id"), "compliance_approvals", ["case_id"])
    op.create_table(
        "compliance_label_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_label_versions")),
        sa.UniqueConstraint("list_name", "version", name="uq_compliance_label_versions_version"),
    )
    op.create_index("uq_compliance_label_versions_current", "compliance_label_versions",
                    ["list_name"], unique=True, sqlite_where=sa.text("is_current"),
                    postgresql_where=sa.text("is_current"))
    op.create_table(
        "compliance_labelled_addresses",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["compliance_label_versions.id"],
            name=op.f("fk_compliance_labelled_addresses_version_id_compliance_label_versions")),
        sa.PrimaryKeyConstraint("version_id", "position", name=op.f("pk_compliance_labelled_addresses")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("compliance_labelled_addresses")
    op.drop_index("uq_compliance_label_versions_current", table_name="compliance_label_versions")
    op.drop_table("compliance_label_versions")
    op.drop_index(op.f("ix_compliance_approvals_case_id"), table_name="compliance_approvals")
    op.drop_table("compliance_approvals")
