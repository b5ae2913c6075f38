"""Per-domain schema migrations (Alembic) sharing one database.

Each domain that owns tables (``ledger_*``, ``clients_*``, ``keys_*``) keeps its own migration
history under ``<package>/migrations`` with its own version table, so domains evolve
independently while living in the same SQLite/PostgreSQL database. This module is the one place
that wires a domain's metadata, version table and table prefix into Alembic.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, pool

# The one naming convention of constraints and indexes, for every domain's ``MetaData``: names are
# deterministic (the same on SQLite and PostgreSQL), so a migration can name what it alters.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@dataclass(frozen=True)
class DomainSchema:
    """Where a domain's migrations live and which tables are its own."""

    migrations: Path
    version_table: str
    table_prefix: str
    metadata_ref: str = ""  # "package.module:Base" whose ``metadata`` holds this domain's tables

    @classmethod
    def beside(cls, migrate_file: str, metadata_ref: str) -> DomainSchema:
        """The schema of the domain whose ``migrate.py`` is ``migrate_file`` (pass ``__file__``):
        its package name ``<name>`` gives the table prefix ``<name>_`` and the version table
        ``<name>_alembic_version``; the migrations are the package's ``migrations/`` folder."""
        here = Path(migrate_file).resolve()
        name = here.parent.name
        return cls(here.with_name("migrations"), f"{name}_alembic_version", f"{name}_",
                   metadata_ref)

    def metadata(self) -> MetaData:
        """The SQLAlchemy metadata of this domain's models (imported on demand)."""
        module, _, attr = self.metadata_ref.partition(":")
        return getattr(importlib.import_module(module), attr).metadata

    def include_name(self, name: str | None, type_: str, parent_names: object) -> bool:
        """Autogenerate/compare filter: only this domain's tables (others share the database)."""
        return type_ != "table" or bool(name and name.startswith(self.table_prefix))

    def alembic_config(self, url: str) -> Config:
        """Alembic ``Config`` pointing at this domain's migrations and ``url``."""
        cfg = Config()
        cfg.set_main_option("script_location", str(self.migrations))
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return cfg

    def upgrade(self, engine_url: str | Engine, revision: str = "heads") -> None:
        """Migrate the database at ``engine_url`` (URL or Engine) up to ``revision`` (default:
        every head, so a domain whose sub-packages keep Alembic branches is fully migrated)."""
        command.upgrade(self.alembic_config(_url(engine_url)), revision)

    def downgrade(self, engine_url: str | Engine, revision: str = "base") -> None:
        """Migrate the database at ``engine_url`` down to ``revision``."""
        command.downgrade(self.alembic_config(_url(engine_url)), revision)


def _url(engine_url: str | Engine) -> str:
    if isinstance(engine_url, Engine):
        return engine_url.url.render_as_string(hide_password=False)
    return engine_url


def run_alembic_env(schema: DomainSchema, metadata: MetaData) -> None:
    """Body of a domain's ``migrations/env.py``: run offline (SQL) or online migrations."""
    from alembic import context

    from keeper.ledger.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url")
    options = {"target_metadata": metadata, "version_table": schema.version_table,
               "render_as_batch": True, "include_name": schema.include_name}
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    shared = context.config.attributes.get("connection")
    if shared is not None:  # upgrade_all: one connection for every domain, one commit each
        _migrate_on(shared, options)
        return
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _migrate_on(connection, options)
    finally:
        engine.dispose()


def _migrate_on(connection: Connection, options: dict[str, object]) -> None:
    """Run the current Alembic environment's migrations on ``connection``, committed."""
    from alembic import context

    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


# Every domain that owns tables, in migration order: the one list set-up, tests and tools use.
# A new domain adds its ``<package>.migrate`` module here (each defines ``SCHEMA``).
SCHEMA_MODULES: tuple[str, ...] = (
    "keeper.ledger.migrate",
    "keeper.clients.migrate",
    "keeper.keys.migrate",
    "keeper.btc.migrate",
    "keeper.audit.migrate",
    "keeper.compliance.migrate",
    "keeper.recon.migrate",
    "keeper.jobs.migrate",
    "keeper.alerts.migrate",
    "keeper.chain.migrate",
    "keeper.safetx.migrate",
    "keeper.notifications.migrate",
    "keeper.flows.migrate",
    "keeper.auth.migrate",
    "keeper.gl.migrate",
    "keeper.treasury.migrate",
    "keeper.trading.migrate",
    "keeper.staking.migrate",
    "keeper.partners.migrate",
    "keeper.forensics.migrate",
    "keeper.console.migrate",
)


def all_schemas() -> dict[str, DomainSchema]:
    """Every domain's schema by package name (``ledger``, ``clients``, ``keys``, ...)."""
    return {mod.split(".")[1]: importlib.import_module(mod).SCHEMA for mod in SCHEMA_MODULES}


def upgrade_all(engine_url: str | Engine) -> None:
    """Migrate every domain's schema in ``engine_url`` to its head (idempotent), in
    ``SCHEMA_MODULES`` order, each domain in its own transaction, over one connection (one engine
    and one connect for all domains instead of one per domain)."""
    from keeper.ledger.db import make_engine

    url = _url(engine_url)
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            for schema in all_schemas().values():
                cfg = schema.alembic_config(url)
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "heads")
    finally:
        engine.dispose()
