"""Every domain's migrations produce exactly its models' tables, side by side in one database,
and each can be rolled back without touching the others."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from keeper.clients.migrate import SCHEMA as CLIENTS
from keeper.clients.models import ClientsBase
from keeper.keys.hd.registry import KeysBase
from keeper.keys.migrate import SCHEMA as KEYS
from keeper.ledger import upgrade as upgrade_ledger
from keeper.ledger.models import Base as LedgerBase

DOMAINS = {"clients": (CLIENTS, ClientsBase.metadata), "keys": (KEYS, KeysBase.metadata)}


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'all.db'}"
    upgrade_ledger(url)
    for schema, _ in DOMAINS.values():
        schema.upgrade(url)
    return url


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_migrations_match_models(db_url, domain):
    schema, metadata = DOMAINS[domain]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": schema.include_name,
                                                     "version_table": schema.version_table})
        assert compare_metadata(ctx, metadata) == []
    engine.dispose()


def test_domains_share_one_database_and_roll_back_independently(db_url):
    engine = create_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    for metadata in (LedgerBase.metadata, ClientsBase.metadata, KeysBase.metadata):
        assert set(metadata.tables) <= tables
    assert {"ledger_alembic_version", "clients_alembic_version", "keys_alembic_version"} <= tables

    KEYS.downgrade(db_url)
    after = set(inspect(engine).get_table_names())
    assert not any(t.startswith("keys_") and t != "keys_alembic_version" for t in after)
    assert set(LedgerBase.metadata.tables) <= after
    assert set(ClientsBase.metadata.tables) <= after
    KEYS.upgrade(db_url)  # and back
    assert set(KeysBase.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
