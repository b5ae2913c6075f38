"""Every domain's migrations produce exactly its models' tables, side by side in one database,
and each can be rolled back without touching the others. The domains come from the one list,
:data:`keeper.schema.SCHEMA_MODULES`."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from keeper.schema import all_schemas, upgrade_all
from strongroom_testkit.dbtemplate import copy_database, fresh_url

DOMAINS = all_schemas()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """One database migrated for real by ``upgrade_all`` (every test here reads it or a copy);
    its URL (SQLite unless ``--db=postgresql``)."""
    url = fresh_url(tmp_path_factory.mktemp("schema") / "all.db")
    upgrade_all(url)
    return url


@pytest.fixture
def db_url(migrated, tmp_path):
    """A copy of the migrated database, for a test that rolls a domain back and forth."""
    return copy_database(migrated, tmp_path / "all.db")


def test_every_domain_with_tables_is_listed():
    assert {"ledger", "clients", "keys"} <= set(DOMAINS)
    for name, schema in DOMAINS.items():
        assert schema.table_prefix == f"{name}_"
        assert schema.version_table == f"{name}_alembic_version"
        assert all(t.startswith(schema.table_prefix) for t in schema.metadata().tables)


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_migrations_match_models(migrated, domain):
    schema = DOMAINS[domain]
    engine = create_engine(migrated)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": schema.include_name,
                                                     "version_table": schema.version_table})
        assert compare_metadata(ctx, schema.metadata()) == []
    engine.dispose()


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_domains_share_one_database_and_roll_back_independently(db_url, domain):
    engine = create_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    for schema in DOMAINS.values():
        assert set(schema.metadata().tables) <= tables
        assert schema.version_table in tables

    target = DOMAINS[domain]
    target.downgrade(db_url)
    after = set(inspect(engine).get_table_names())
    assert not any(t.startswith(target.table_prefix) and t != target.version_table for t in after)
    for name, schema in DOMAINS.items():
        if name != domain:
            assert set(schema.metadata().tables) <= after
    target.upgrade(db_url)  # and back
    assert set(target.metadata().tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
