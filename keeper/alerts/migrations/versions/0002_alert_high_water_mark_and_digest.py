"""alerts: ledger alert id (incremental collection) and suppressed events (hourly digest)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('alerts_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_alert_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('suppressed', sa.Boolean(), server_default='0',
                                      nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_alerts_events_ledger_alert_id'),
                                          ['ledger_alert_id'])
        batch_op.create_index('ix_alerts_events_kind_created_at', ['kind', 'created_at'],
                              unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('alerts_events', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_events_kind_created_at')
        batch_op.drop_constraint(batch_op.f('uq_alerts_events_ledger_alert_id'), type_='unique')
        batch_op.drop_column('suppressed')
        batch_op.drop_column('ledger_alert_id')
