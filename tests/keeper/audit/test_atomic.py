"""A change and its audit record commit together or not at all (the ledger's hook runs the
append in the ledger's own transaction), and concurrent writers keep the chain linear."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Connection

from keeper.audit import AuditRecord, AuditRecordError, AuditTrail, AuditUnavailable, append, guards
from keeper.ledger import InsufficientFunds, Ledger, TransferSpec


@pytest.fixture
def ledger(db_url: str):
    lg = Ledger(db_url)
    yield lg
    lg.close()


def _record(tid: str, amount: int) -> AuditRecord:
    return AuditRecord("api:client-1", "ledger.post", {"transfer_id": tid, "amount": str(amount)},
                       {"posted": True})


def _transfer_ids(lg: Ledger) -> set[str]:
    with lg.engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT transfer_id FROM ledger_transfers")}


def test_posting_and_its_record_commit_together(attacker, ledger: Ledger, trail: AuditTrail) -> None:
    om, c = ledger.omnibus_account("USDC", "vault"), ledger.client_account("c1", "USDC")
    ledger.post_all([TransferSpec("dep-1", om, c, 500)],
                    hook=lambda conn: append(conn, _record("dep-1", 500)))
    rows = attacker.read_rows(trail.engine)
    assert [r[0] for r in rows] == [1] and '"transfer_id":"dep-1"' in rows[0][2]
    assert "dep-1" in _transfer_ids(ledger)
    assert trail.verify().ok


def test_refused_posting_leaves_no_record(attacker, ledger: Ledger, trail: AuditTrail) -> None:
    om, c = ledger.omnibus_account("USDC", "vault"), ledger.client_account("c1", "USDC")
    with pytest.raises(InsufficientFunds):
        ledger.post_all([TransferSpec("wd-1", c, om, 1)], hook=lambda conn: append(conn, _record("wd-1", 1)))
    assert attacker.read_rows(trail.engine) == []
    assert "wd-1" not in _transfer_ids(ledger)


@pytest.mark.parametrize("failure", ["bad record", "head removed", "after append"])
def test_failing_audit_append_rolls_the_posting_back(attacker, ledger: Ledger, trail: AuditTrail,
                                                     failure: str) -> None:
    om, c = ledger.omnibus_account("USDC", "vault"), ledger.client_account("c1", "USDC")
    ledger.post_all([TransferSpec("dep-0", om, c, 7)], hook=lambda conn: append(conn, _record("dep-0", 7)))
    before = ledger.balance(c)
    expected: type[BaseException] = RuntimeError

    def hook(conn: Connection) -> None:
        if failure == "bad record":
            append(conn, AuditRecord("api", "ledger.post", {"amount": 1.5}))  # a float: refused
        elif failure == "head removed":
            append(conn, _record("dep-1", 100))
        else:
            append(conn, _record("dep-1", 100))
            raise RuntimeError("the change failed after its record was written")

    if failure == "bad record":
        expected = AuditRecordError
    elif failure == "head removed":  # an attacker broke the trail: no change may commit unaudited
        expected = AuditUnavailable
        with trail.engine.connect() as conn, conn.begin():
            guards.remove(conn)
            conn.exec_driver_sql("DELETE FROM audit_head")
    with pytest.raises(expected):
        ledger.post_all([TransferSpec("dep-1", om, c, 100)], hook=hook)
    assert "dep-1" not in _transfer_ids(ledger)
    assert ledger.balance(c) == before
    assert [r[0] for r in attacker.read_rows(trail.engine)] == [1]  # only dep-0's record


def test_concurrent_writers_keep_one_linear_chain(attacker, trail: AuditTrail, db_url: str) -> None:
    threads, per = 4, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def direct(i: int) -> None:
        other = AuditTrail(db_url)  # its own engine: another process's connections
        try:
            barrier.wait()
            for j in range(per):
                other.append([AuditRecord(f"t{i}", "op", {"j": j}), AuditRecord(f"t{i}", "op2")])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            other.close()

    ts = [threading.Thread(target=direct, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    futs = [trail.submit(AuditRecord("grouped", "op", {"k": k})) for k in range(100)]
    for t in ts:
        t.join()
    assert not errors
    got = [f.result()[0].seq for f in futs]
    total = threads * per * 2 + 100
    rows = attacker.read_rows(trail.engine)
    assert [r[0] for r in rows] == list(range(1, total + 1))
    assert len(set(got)) == 100
    ops = [json.loads(b)["record"]["operation"] for _s, _h, b in rows]
    for i, op in enumerate(ops):  # each transaction's two records sit side by side
        if op == "op2":
            assert ops[i - 1] == "op"
    report = trail.verify()
    assert report.ok, report.summary()
    assert report.records == total


def test_group_commit_refuses_a_bad_record_alone(trail: AuditTrail) -> None:
    good = [trail.submit(AuditRecord("api", "call", {"i": i})) for i in range(3)]
    with pytest.raises(AuditRecordError):
        trail.submit(AuditRecord("api", "call", {"price": 0.1}))
    good.append(trail.submit(AuditRecord("api", "call", {"i": 3})))
    assert [f.result()[0].seq for f in good] == [1, 2, 3, 4]
    assert trail.verify().ok


def test_a_failed_group_commit_fails_every_caller_and_writes_nothing(trail: AuditTrail,
                                                                      attacker) -> None:
    trail.record("api", "call")
    with trail.engine.connect() as conn, conn.begin():  # the trail is broken under the writer
        guards.remove(conn)
        conn.exec_driver_sql("DELETE FROM audit_head")
    futs = [trail.submit(AuditRecord("api", "call", {"i": i})) for i in range(5)]
    for f in futs:
        with pytest.raises(AuditUnavailable):
            f.result()
    assert [r[0] for r in attacker.read_rows(trail.engine)] == [1]
