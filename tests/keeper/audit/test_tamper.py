"""An attacker holding the database: every kind of rewrite is detected and the first bad record
is named, on SQLite and PostgreSQL. The guard triggers refuse UPDATE/DELETE while they exist."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import exc as sa_exc

from keeper.audit import AuditRecord, AuditTrail, guards
from keeper.audit.records import record_hash

N = 10
K = 5  # the record the attacks aim at


@pytest.fixture
def filled(trail: AuditTrail) -> AuditTrail:
    trail.append([AuditRecord(f"user{i}", "ledger.post", {"transfer_id": f"t{i}", "amount": str(10**20 + i)},
                              {"created": True}) for i in range(1, N + 1)])
    assert trail.verify().ok
    return trail


def _edit(body: str) -> str:
    assert '"actor":"user5"' in body
    return body.replace('"actor":"user5"', '"actor":"mallory"')


def test_clean_trail_verifies(filled: AuditTrail) -> None:
    report = filled.verify()
    assert report.ok and report.records == N and report.head.seq == N
    assert report.first_bad is None


@pytest.mark.parametrize("sql", [
    "UPDATE audit_records SET body = 'x' WHERE seq = 5",
    "DELETE FROM audit_records WHERE seq = 5",
    "DELETE FROM audit_head",
    "UPDATE audit_head SET seq = 1",
])
def test_database_refuses_update_and_delete(attacker, filled: AuditTrail, sql: str) -> None:
    before = attacker.read_rows(filled.engine)
    with pytest.raises(sa_exc.DatabaseError, match="append-only"):
        with filled.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(sql)
    assert attacker.read_rows(filled.engine) == before
    assert filled.verify().ok


def test_database_refuses_overwrite_and_truncate(attacker, filled: AuditTrail) -> None:
    before = attacker.read_rows(filled.engine)
    sql = ("TRUNCATE audit_records" if filled.engine.dialect.name == "postgresql"
           else "INSERT OR REPLACE INTO audit_records (seq, hash, body) VALUES (5, 'x', 'y')")
    with pytest.raises(sa_exc.DatabaseError, match="append-only"):
        with filled.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(sql)
    assert attacker.read_rows(filled.engine) == before


def test_edit_detected(attacker, filled: AuditTrail) -> None:
    attacker.attack(filled.engine, lambda rows: [(s, h, _edit(b) if s == K else b) for s, h, b in rows])
    report = filled.verify()
    assert not report.ok and report.first_bad == K
    assert "edited" in report.first_problem().reason


def test_edit_with_recomputed_hash_detected(attacker, filled: AuditTrail) -> None:
    def change(rows):
        out = []
        for s, h, b in rows:
            if s == K:
                b = _edit(b)
                h = record_hash(b)
            out.append((s, h, b))
        return out

    attacker.attack(filled.engine, change)
    report = filled.verify()
    assert not report.ok and report.first_bad == K


def test_delete_with_triggers_dropped_detected(filled: AuditTrail) -> None:
    with filled.engine.connect() as conn, conn.begin():  # the attacker's own SQL, guards dropped
        guards.remove(conn)
        conn.exec_driver_sql("DELETE FROM audit_records WHERE seq = 5")
    report = filled.verify()
    assert not report.ok and report.first_bad == K
    assert "missing" in report.first_problem().reason
    assert any(p.seq is None and "guard trigger" in p.reason for p in report.problems)


def test_delete_and_renumber_detected(attacker, filled: AuditTrail) -> None:
    def change(rows):
        kept = [r for r in rows if r[0] != K]
        return [(s if s < K else s - 1, h, b) for s, h, b in kept]

    attacker.attack(filled.engine, change)
    report = filled.verify()
    assert not report.ok and report.first_bad == K


def test_insert_detected(attacker, filled: AuditTrail) -> None:
    def change(rows):
        prev = rows[K - 2][1]  # hash of record K-1
        fake = attacker.forge(prev, K, AuditRecord("mallory", "ledger.post", {"amount": "1"}).encode())
        shifted = [(s + 1, h, b) for s, h, b in rows[K - 1:]]
        return rows[:K - 1] + [fake] + shifted

    attacker.attack(filled.engine, change)
    report = filled.verify()
    assert report.records == N + 1
    assert not report.ok and report.first_bad == K


def test_insert_without_renumbering_detected(attacker, filled: AuditTrail) -> None:
    """A forged record squeezed in by rewriting the later records' positions *and* bodies'
    seq fields still breaks the hashes (each body is hashed)."""
    def change(rows):
        prev = rows[K - 2][1]
        fake = attacker.forge(prev, K, AuditRecord("mallory", "x").encode())
        later = []
        for s, _h, b in rows[K - 1:]:
            rec = json.loads(b)
            rec["seq"] = s + 1
            nb = json.dumps(rec, sort_keys=True, separators=(",", ":"))
            later.append((s + 1, record_hash(nb), nb))
        return rows[:K - 1] + [fake] + later

    attacker.attack(filled.engine, change)
    report = filled.verify()
    assert not report.ok and report.first_bad == K


def test_reorder_detected(attacker, filled: AuditTrail) -> None:
    def change(rows):
        a, b = rows[K - 1], rows[K]
        rows[K - 1], rows[K] = (K, b[1], b[2]), (K + 1, a[1], a[2])
        return rows

    attacker.attack(filled.engine, change)
    report = filled.verify()
    assert not report.ok and report.first_bad == K
    assert "reordered" in report.first_problem().reason


def test_tail_cut_is_seen_by_the_head_cache_when_not_fixed(attacker, filled: AuditTrail) -> None:
    attacker.attack(filled.engine, lambda rows: rows[:K - 1], fix_head=False)
    report = filled.verify()
    assert not report.ok and report.first_bad == K
    assert f"the head says {N}" in report.first_problem().reason


def test_dropped_guards_alone_fail_verification(filled: AuditTrail) -> None:
    with filled.engine.connect() as conn, conn.begin():
        guards.remove(conn)
    report = filled.verify()
    assert not report.ok and report.first_bad is None
    assert {p.reason.split()[2] for p in report.problems} == set(
        guards.expected(filled.engine.dialect.name))


def test_a_shift_near_the_start_reports_boundedly(attacker, trail: AuditTrail) -> None:
    """Deleting record 1 and renumbering makes every later record wrong: the report keeps the
    first problems and counts the rest (a million-record trail must not yield a million)."""
    from keeper.audit.verify import MAX_PROBLEMS

    n = MAX_PROBLEMS + 500
    trail.append([AuditRecord("u", "op", {"i": i}) for i in range(n)])
    attacker.attack(trail.engine, lambda rows: [(s - 1, h, b) for s, h, b in rows[1:]])
    report = trail.verify()
    assert report.first_bad == 1
    assert len(report.problems) == MAX_PROBLEMS
    assert report.dropped == n - 1 - MAX_PROBLEMS  # every record sits one place early
    assert f"{MAX_PROBLEMS + report.dropped} problems" in report.summary()


def test_the_first_bad_record_survives_the_cap() -> None:
    from keeper.audit.verify import MAX_PROBLEMS, Problem, Report

    report = Report()
    for i in range(MAX_PROBLEMS + 10):
        report.add(Problem(100 + i, "later"))
    report.add(Problem(None, "trail-wide"))
    report.add(Problem(5, "rewritten (found by an anchor after the walk)"))
    assert report.first_bad == 5 and report.first_problem().reason.startswith("rewritten")
    assert len(report.problems) == MAX_PROBLEMS and report.dropped == 12
