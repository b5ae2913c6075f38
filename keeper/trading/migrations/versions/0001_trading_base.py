"""Trading schema root: each sub-package (routing, taxlots, ...) branches off this revision.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 01:00:00
"""

from __future__ import annotations

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply (nothing: the branches create the tables)."""


def downgrade() -> None:
    """Revert."""
