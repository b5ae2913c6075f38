"""Alembic environment of the clients schema (version table ``clients_alembic_version``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from keeper.clients.migrate import VERSION_TABLE, include_name
from keeper.clients.models import ClientsBase
from keeper.ledger import make_engine

config = context.config
target_metadata = ClientsBase.metadata


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )


def run_migrations_offline() -> None:
    """Emit SQL without a connection."""
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True,
        version_table=VERSION_TABLE, render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata,
            version_table=VERSION_TABLE, render_as_batch=True, include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
