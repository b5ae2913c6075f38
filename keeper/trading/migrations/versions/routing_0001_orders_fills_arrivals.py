"""routing: parent orders, child orders (written before they are sent), fills, arrival books,
exclusions and price-feed episodes

Revision ID: routing_0001
Revises: 0001
Create Date: 2026-11-24 00:44:11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'routing_0001'
down_revision = '0001'
branch_labels = ('routing',)
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('trading_routing_arrivals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('parent_id', sa.String(length=120), nullable=False),
    sa.Column('venue', sa.String(length=64), nullable=False),
    sa.Column('book', sa.Text(), nullable=False),
    sa.Column('maker_ppm', sa.Integer(), nullable=False),
    sa.Column('taker_ppm', sa.Integer(), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_arrivals')),
    sa.UniqueConstraint('parent_id', 'venue', name=op.f('uq_trading_routing_arrivals_parent_id'))
    )
    with op.batch_alter_table('trading_routing_arrivals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trading_routing_arrivals_parent_id'), ['parent_id'],
                              unique=False)

    op.create_table('trading_routing_children',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('parent_id', sa.String(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('client_order_id', sa.String(length=160), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('venue', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('price', sa.String(length=80), nullable=True),
    sa.Column('planned_notional', sa.String(length=80), nullable=False),
    sa.Column('planned_fee', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=True),
    sa.Column('filled', sa.String(length=80), nullable=False),
    sa.Column('cost', sa.String(length=80), nullable=False),
    sa.Column('fee', sa.String(length=80), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_children')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_trading_routing_children_client_order_id')),
    sa.UniqueConstraint('parent_id', 'seq', name=op.f('uq_trading_routing_children_parent_id'))
    )
    with op.batch_alter_table('trading_routing_children', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trading_routing_children_parent_id'), ['parent_id'],
                              unique=False)

    op.create_table('trading_routing_episodes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('venue', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('since_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_episodes')),
    sa.UniqueConstraint('venue', 'symbol', 'reason', name=op.f('uq_trading_routing_episodes_venue'))
    )
    op.create_table('trading_routing_exclusions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('parent_id', sa.String(length=120), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('venue', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_exclusions'))
    )
    with op.batch_alter_table('trading_routing_exclusions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trading_routing_exclusions_parent_id'), ['parent_id'],
                              unique=False)

    op.create_table('trading_routing_fills',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('parent_id', sa.String(length=120), nullable=False),
    sa.Column('client_order_id', sa.String(length=160), nullable=False),
    sa.Column('venue', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('price', sa.String(length=80), nullable=False),
    sa.Column('cost', sa.String(length=80), nullable=False),
    sa.Column('fee', sa.String(length=80), nullable=False),
    sa.Column('timestamp_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_fills')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_trading_routing_fills_client_order_id')),
    sa.UniqueConstraint('venue', 'order_id', name=op.f('uq_trading_routing_fills_venue'))
    )
    with op.batch_alter_table('trading_routing_fills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trading_routing_fills_parent_id'), ['parent_id'],
                              unique=False)

    op.create_table('trading_routing_parents',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('client_id', sa.String(length=120), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('limit_price', sa.String(length=80), nullable=True),
    sa.Column('jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('client_type', sa.String(length=32), nullable=False),
    sa.Column('created_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('filled', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trading_routing_parents'))
    )
    with op.batch_alter_table('trading_routing_parents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trading_routing_parents_client_id'), ['client_id'], unique=False)



def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('trading_routing_parents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trading_routing_parents_client_id'))

    op.drop_table('trading_routing_parents')
    with op.batch_alter_table('trading_routing_fills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trading_routing_fills_parent_id'))

    op.drop_table('trading_routing_fills')
    with op.batch_alter_table('trading_routing_exclusions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trading_routing_exclusions_parent_id'))

    op.drop_table('trading_routing_exclusions')
    op.drop_table('trading_routing_episodes')
    with op.batch_alter_table('trading_routing_children', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trading_routing_children_parent_id'))

    op.drop_table('trading_routing_children')
    with op.batch_alter_table('trading_routing_arrivals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trading_routing_arrivals_parent_id'))

    op.drop_table('trading_routing_arrivals')
