"""Programmatic Alembic entry points for the btc schema (``btc_*`` tables, own version table)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.btc.models:BtcBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
