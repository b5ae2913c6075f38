"""PostgreSQL least privilege: the keeper's role appends and reads, but can neither rewrite the
trail nor drop the triggers that guard it (it does not own the tables)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from keeper.audit import AuditRecord, AuditTrail, guards
from keeper.ledger import make_engine


@pytest.mark.postgres
@pytest.mark.parametrize("sql", [
    "UPDATE audit_records SET body = 'x'",
    "DELETE FROM audit_records",
    "TRUNCATE audit_records",
    "DROP TRIGGER audit_records_no_update ON audit_records",
    "ALTER TABLE audit_records DISABLE TRIGGER ALL",
    "DELETE FROM audit_head",
])
def test_the_keeper_role_can_append_but_not_rewrite(pg_cluster, sql: str) -> None:
    from keeper.audit import upgrade

    owner_url = pg_cluster.create_database(f"priv_{abs(hash(sql))}")
    upgrade(owner_url)
    owner = make_engine(owner_url)
    with owner.connect() as conn, conn.begin():
        conn.exec_driver_sql("DO $$ BEGIN CREATE ROLE keeper_app LOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        guards.restrict(conn, "keeper_app")
    app_url = make_url(owner_url).set(username="keeper_app").render_as_string(hide_password=False)
    with AuditTrail(app_url) as app:
        app.append([AuditRecord("api", "call", {"i": i}) for i in range(3)])
        assert app.record("api", "call").seq == 4
        with pytest.raises(sa_exc.ProgrammingError, match="permission denied|must be owner"):
            with app.engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(sql)
        report = app.verify()
        assert report.ok and report.records == 4, report.summary()
    owner.dispose()


@pytest.mark.sqlite_only(reason="SQLite's refusal")
def test_restrict_is_postgresql_only(tmp_path) -> None:
    from keeper.audit import upgrade

    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn, pytest.raises(ValueError, match="only on PostgreSQL"):
        guards.restrict(conn, "keeper_app")
    engine.dispose()
