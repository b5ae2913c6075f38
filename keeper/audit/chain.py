"""Appending to the chain inside a caller's open transaction.

:func:`append` is how every domain writes its audit records: in the *same* database transaction
as the change they record (the ledger's ``post_all(..., hook=...)``, later flows and compliance),
so a change never commits without its record and a record never commits without its change.

Concurrency: the first statement is ``UPDATE audit_head ... RETURNING``. It takes the head row's
lock (PostgreSQL: row lock, held to commit; READ COMMITTED re-reads the row a concurrent appender
committed) or SQLite's write lock, and reserves ``seq`` numbers, before any record is hashed: two
transactions can never chain onto the same predecessor. On SQLite open the transaction as a write
(``BEGIN IMMEDIATE``, e.g. ``keeper.ledger.db.WRITE`` execution options) or let ``append`` be its
first statement. Call it *last* in the transaction: the head lock is then held only until the
commit, and every transaction takes its own rows' locks before the head's (one lock order, no
deadlock on PostgreSQL). Under REPEATABLE READ or SERIALIZABLE a concurrent append makes the
later transaction fail with a serialization error (retry it); READ COMMITTED simply waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from keeper.audit.records import GENESIS, Appended, AuditRecord, envelope, record_hash

_TAKE = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash")
_SET = text("UPDATE audit_head SET hash = :h WHERE id = 1")
_SQLITE_INSERT = "INSERT INTO audit_records (seq, hash, body) VALUES (?, ?, ?)"
# PostgreSQL: COPY (~1 us of client CPU per record); a text[] parameter costs ~30 us, psycopg
# escaping every quote of every body with a regular expression
_PG_COPY = "COPY audit_records (seq, hash, body) FROM STDIN"


class AuditUnavailable(RuntimeError):  # noqa: N818 - reads as a state
    """The trail cannot be appended to (schema missing or its head row removed)."""


def append(conn: Connection, records: AuditRecord | Sequence[AuditRecord]) -> list[Appended]:
    """Append ``records`` (in order) to the chain in ``conn``'s open transaction.

    Every record is encoded and checked first (:class:`~keeper.audit.records.AuditRecordError`
    before anything is written). Returns each record's ``(seq, hash)``. Nothing is committed
    here: the records commit or roll back with the caller's transaction.
    """
    items = [records] if isinstance(records, AuditRecord) else list(records)
    return append_encoded(conn, [r.encode() for r in items])


def record_in(conn: Connection, actor: str, operation: str, params: Any, result: Any) -> Appended:
    """Append one record in ``conn``'s open transaction: the audit callable domains take
    (``AlertDispatcher(audit=...)``, ``BreakBook(audit=...)``, ``KeeperJobs(audit=...)``)."""
    return append(conn, AuditRecord(actor, operation, params, result))[0]


def append_encoded(conn: Connection, encoded: Sequence[str]) -> list[Appended]:
    """:func:`append` of records already encoded with :meth:`AuditRecord.encode`."""
    n = len(encoded)
    if n == 0:
        return []
    head = conn.execute(_TAKE, {"n": n}).one_or_none()
    if head is None:
        raise AuditUnavailable("audit_head row is missing: the trail cannot be appended to")
    end, prev = int(head[0]), str(head[1])
    seqs = range(end - n + 1, end + 1)
    hashes: list[str] = []
    bodies: list[str] = []
    for seq, rec in zip(seqs, encoded, strict=True):
        body = envelope(prev, rec, seq)
        prev = record_hash(body)
        bodies.append(body)
        hashes.append(prev)
    if conn.dialect.name == "postgresql":  # same driver connection, same transaction
        with conn.connection.driver_connection.cursor() as cur, cur.copy(_PG_COPY) as copy:
            for row in zip(seqs, hashes, bodies, strict=True):
                copy.write_row(row)
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, list(zip(seqs, hashes, bodies, strict=True)))
    conn.execute(_SET, {"h": prev})
    return [Appended(s, h) for s, h in zip(seqs, hashes, strict=True)]


def head(conn: Connection) -> Appended:
    """The last stored record's ``(seq, hash)`` (``(0, GENESIS)`` for an empty trail), read
    from the records themselves, not from the head cache."""
    row = conn.exec_driver_sql(
        "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1").one_or_none()
    return Appended(0, GENESIS) if row is None else Appended(int(row[0]), str(row[1]))
