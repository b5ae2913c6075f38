"""Programmatic Alembic entry points for the console schema (``console_*`` tables)."""

from __future__ import annotations

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.console.models:ConsoleBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade
