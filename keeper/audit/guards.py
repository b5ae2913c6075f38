"""The database's own refusal of UPDATE/DELETE on the trail: trigger DDL, one home.

The migration installs these triggers; :func:`missing_guards` tells the verifier which are gone
(an attacker holding the database can drop them, so the verifier never relies on them).
SQLite also refuses an INSERT over an existing ``seq``: ``INSERT OR REPLACE`` deletes the old row
without firing DELETE triggers (unless ``recursive_triggers`` is on). On PostgreSQL ``ON CONFLICT
DO UPDATE`` fires the UPDATE trigger and TRUNCATE has its own.

Alembic's SQLite "batch" mode rebuilds a table on ALTER and drops its triggers: a later
migration that alters these tables must call :func:`install` again.
"""

from __future__ import annotations

from sqlalchemy import Connection

_REFUSED = "audit trail is append-only"

_SQLITE = {
    "audit_records_no_update": "BEFORE UPDATE ON audit_records",
    "audit_records_no_delete": "BEFORE DELETE ON audit_records",
    "audit_records_no_overwrite": "BEFORE INSERT ON audit_records WHEN EXISTS "
                                  "(SELECT 1 FROM audit_records WHERE seq = NEW.seq)",
    "audit_head_no_delete": "BEFORE DELETE ON audit_head",
    "audit_head_no_rewind": "BEFORE UPDATE ON audit_head WHEN NEW.seq < OLD.seq OR NEW.id <> OLD.id",
}
_PG = {
    "audit_records_no_update": "BEFORE UPDATE ON audit_records FOR EACH ROW",
    "audit_records_no_delete": "BEFORE DELETE ON audit_records FOR EACH ROW",
    "audit_records_no_truncate": "BEFORE TRUNCATE ON audit_records FOR EACH STATEMENT",
    "audit_head_no_delete": "BEFORE DELETE ON audit_head FOR EACH ROW",
    "audit_head_no_truncate": "BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT",
    "audit_head_no_rewind": "BEFORE UPDATE ON audit_head FOR EACH ROW "
                            "WHEN (NEW.seq < OLD.seq OR NEW.id <> OLD.id)",
}
_PG_FUNCTION = "audit_refuse_change"


def expected(dialect: str) -> tuple[str, ...]:
    """Names of the triggers the trail has on ``dialect`` (``sqlite`` or ``postgresql``)."""
    return tuple(_PG if dialect == "postgresql" else _SQLITE)


def install(conn: Connection) -> None:
    """Create every guard trigger (on a schema that has none)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"CREATE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION USING MESSAGE = '{_REFUSED}: ' || TG_OP || ' on ' || TG_TABLE_NAME "
            "|| ' refused', ERRCODE = 'insufficient_privilege'; END $$")
        for name, when in _PG.items():
            conn.exec_driver_sql(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {_PG_FUNCTION}()")
        return
    for name, when in _SQLITE.items():
        conn.exec_driver_sql(
            f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, '{_REFUSED}: {name}'); END")


def remove(conn: Connection) -> None:
    """Drop every guard trigger (downgrade)."""
    if conn.dialect.name == "postgresql":
        for name, when in _PG.items():
            table = when.split(" ON ")[1].split()[0]
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
        return
    for name in _SQLITE:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def present(conn: Connection) -> set[str]:
    """Names of the guard triggers that exist now."""
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
            "('audit_records'::regclass, 'audit_head'::regclass)")
    else:
        rows = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
            "tbl_name IN ('audit_records', 'audit_head')")
    return {r[0] for r in rows}


def missing_guards(conn: Connection) -> list[str]:
    """Guard triggers that should exist on this database but do not (sorted)."""
    return sorted(set(expected(conn.dialect.name)) - present(conn))


def restrict(conn: Connection, role: str) -> None:
    """PostgreSQL least privilege: ``role`` (the keeper's login) may read and append to the
    trail and move its head, nothing else; it does not own the tables, so it cannot drop the
    guard triggers either (only the schema owner, who runs migrations, can). Run as the owner."""
    if conn.dialect.name != "postgresql":
        raise ValueError("table privileges exist only on PostgreSQL")
    who = conn.dialect.identifier_preparer.quote(role)
    conn.exec_driver_sql(f"REVOKE ALL ON audit_records, audit_head FROM PUBLIC, {who}")
    conn.exec_driver_sql(f"GRANT SELECT, INSERT ON audit_records TO {who}")
    conn.exec_driver_sql(f"GRANT SELECT, UPDATE (seq, hash) ON audit_head TO {who}")
