"""Programmatic Alembic entry points for the ledger schema (used by set-up scripts and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "ledger_alembic_version"  # own table: other packages may migrate the same DB


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate/compare filter: only the ledger's own tables (others may share the DB)."""
    return type_ != "table" or bool(name and name.startswith("ledger_"))


def alembic_config(url: str) -> Config:
    """Alembic ``Config`` pointing at the ledger migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine_url: str | Engine, revision: str = "head") -> None:
    """Migrate the database at ``engine_url`` (URL string or Engine) to ``revision``."""
    url = (
        engine_url.url.render_as_string(hide_password=False)
        if isinstance(engine_url, Engine)
        else engine_url
    )
    command.upgrade(alembic_config(url), revision)


def downgrade(engine_url: str, revision: str = "base") -> None:
    """Downgrade the database at ``engine_url`` to ``revision``."""
    command.downgrade(alembic_config(engine_url), revision)
