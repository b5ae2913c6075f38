"""Scope rename: ``client:read`` is ``customer:read`` (the spec's name, beside ``customer:trade``).

Stored scopes (space-separated) of ``auth_oauth_clients`` are rewritten; no other scope contains the old name.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    op.execute(sa.text("UPDATE auth_oauth_clients SET scopes = REPLACE(scopes, :old, :new)")
               .bindparams(old=old, new=new))


def upgrade() -> None:
    """Apply."""
    _rename("client:read", "customer:read")


def downgrade() -> None:
    """Revert."""
    _rename("customer:read", "client:read")
