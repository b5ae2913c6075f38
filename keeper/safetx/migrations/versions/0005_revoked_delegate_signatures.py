"""revoked delegate signatures: a removed delegation cannot be added again by replaying them

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('safetx_revoked_delegate_signatures',
    sa.Column('signature_hash', sa.String(length=66), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('signature_hash', name=op.f('pk_safetx_revoked_delegate_signatures'))
    )
    op.create_index(op.f('ix_safetx_revoked_delegate_signatures_revoked_at'),
                    'safetx_revoked_delegate_signatures', ['revoked_at'], unique=False)
    with op.batch_alter_table('safetx_delegates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_hash', sa.String(length=66), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('safetx_delegates', schema=None) as batch_op:
        batch_op.drop_column('signature_hash')
    op.drop_index(op.f('ix_safetx_revoked_delegate_signatures_revoked_at'),
                  table_name='safetx_revoked_delegate_signatures')
    op.drop_table('safetx_revoked_delegate_signatures')
