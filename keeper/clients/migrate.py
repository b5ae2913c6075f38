"""Programmatic Alembic entry points for the clients schema (own version table)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "clients_alembic_version"  # own table: the ledger and others migrate the same DB


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate/compare filter: only the clients' own tables (others share the DB)."""
    return type_ != "table" or bool(name and name.startswith("clients_"))


def alembic_config(url: str) -> Config:
    """Alembic ``Config`` pointing at the clients migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _url(engine_url: str | Engine) -> str:
    if isinstance(engine_url, Engine):
        return engine_url.url.render_as_string(hide_password=False)
    return engine_url


def upgrade(engine_url: str | Engine, revision: str = "head") -> None:
    """Migrate the database at ``engine_url`` (URL string or Engine) to ``revision``."""
    command.upgrade(alembic_config(_url(engine_url)), revision)


def downgrade(engine_url: str | Engine, revision: str = "base") -> None:
    """Downgrade the database at ``engine_url`` to ``revision``."""
    command.downgrade(alembic_config(_url(engine_url)), revision)
