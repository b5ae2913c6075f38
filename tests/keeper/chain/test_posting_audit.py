"""Audit records of follower posting groups: one per group, naming the event and every transfer
and alert, appendable to the hash chain in the posting's transaction (no chain needed)."""

from __future__ import annotations

from sqlalchemy import select

from keeper.assets import ZERO_ADDRESS
from keeper.audit import append, verify_trail
from keeper.audit.models import AuditRow
from keeper.chain import events as ev
from keeper.chain.postings import Mapper, audit_records
from keeper.ledger import Ledger, make_engine
from strongroom_testkit.dbtemplate import fresh_url

VAULT = "0x" + "aa" * 20


def word(n: int) -> str:
    return f"{n:064x}"


def deposit(ref: int, amount: int, index: int) -> dict:
    return {"address": VAULT, "topics": [ev.DEPOSIT, "0x" + word(0), "0x" + word(1), "0x" + word(ref)],
            "data": "0x" + word(amount), "blockNumber": "0x10", "blockHash": "0x" + "cd" * 32,
            "transactionHash": "0x" + "ef" * 32, "logIndex": hex(index)}


def test_one_record_per_group_with_its_transfers_and_alerts(tmp_path) -> None:
    url = fresh_url(tmp_path / 'k.db', migrated=True)
    lg = Ledger(url, group_commit=False)
    try:
        lg.register_client_ref("0x" + word(1), "alice")
        logs = [deposit(1, 5 * 10**30, 0), deposit(1, 0, 1)]  # beyond 2**53; a zero-value poke
        decoded = [(e, f"t:{i}") for i, raw in enumerate(logs) for e in ev.decode(raw, {VAULT})]
        groups = Mapper(lg, "vault", {ZERO_ADDRESS: "ETH"}, 3).groups(decoded)
        records = audit_records("vault", groups, 3)
    finally:
        lg.close()
    assert len(records) == len(groups) == 2
    first, zero = records
    assert (first.actor, first.operation) == ("chain:vault", "chain.posting")
    assert first.params["event"] == "t:0" and first.params["block"] == 16
    assert first.params["generation"] == 3 and first.params["log_index"] == 0
    [[tid, kind, _debit, _credit, amount, _pending]] = first.params["transfers"]
    assert (tid, kind, amount) == ("t:0", "single", str(5 * 10**30))
    assert zero.params["transfers"] == [] and zero.result["alerts"][0][0] == "ignored_zero_value"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            append(conn, records)
        with engine.connect() as conn:
            assert len(conn.execute(select(AuditRow.seq)).all()) == 2
        assert verify_trail(engine).ok
    finally:
        engine.dispose()
