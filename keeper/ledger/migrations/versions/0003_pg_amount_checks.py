"""PostgreSQL CHECK constraints: every amount and account total within 0..2**256-1

A backstop for raw SQL (a repair script, a psql session) that bypasses the ``Amount`` type's bind
check. PostgreSQL only: on SQLite the amount columns are affinity-free (exact wide integers are
stored as text), so a SQL comparison there would not be numeric; the ``Amount`` type guards them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:45:00
"""

from __future__ import annotations

from alembic import op

from keeper.ledger.types import UINT256_MAX

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = {
    "ledger_transfers": ("amount",),
    "ledger_accounts": ("debits_posted", "credits_posted", "debits_pending", "credits_pending"),
}


def _checks() -> list[tuple[str, str, str]]:
    """(constraint name, table, condition) of every check, named as the models name them."""
    return [(f"ck_{table}_{column}_range", table, f"{column} >= 0 AND {column} <= {UINT256_MAX}")
            for table, columns in COLUMNS.items() for column in columns]


def upgrade() -> None:
    """Apply (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, condition in _checks():
        op.create_check_constraint(op.f(name), table, condition)


def downgrade() -> None:
    """Revert (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, _ in _checks():
        op.drop_constraint(op.f(name), table, type_="check")
