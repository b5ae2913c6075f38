"""ledger_accounts by owner: a client's accounts found without scanning every client's

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 08:00:00

The unique key (kind, asset, owner) serves lookups of one account; "every account of client X"
(balances, the transactions page) could use only its ``kind`` prefix and read every client
account of the bank. An index led by ``owner`` makes those reads a few index rows.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_index("ix_ledger_accounts_owner", "ledger_accounts", ["owner", "kind"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_ledger_accounts_owner", table_name="ledger_accounts")
