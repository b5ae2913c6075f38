"""Programmatic Alembic entry points for the clients schema (own version table)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from keeper.schema import DomainSchema

SCHEMA = DomainSchema.beside(__file__, "keeper.clients.models:ClientsBase")
upgrade = SCHEMA.upgrade
downgrade = SCHEMA.downgrade

UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a missing table


def database_not_ready(exc: DBAPIError) -> bool:
    """Whether ``exc`` means the database cannot serve yet (run ``python -m keeper.clients
    migrate``): any SQLite OperationalError (no such table, cannot open the file) or a missing
    table on PostgreSQL (a ProgrammingError there); any other error is a bug to raise."""
    if isinstance(exc, OperationalError):
        return True
    return getattr(exc.orig, "sqlstate", None) == UNDEFINED_TABLE
