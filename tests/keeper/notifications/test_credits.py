"""``deposit.credited`` events from the ledger's deposits feed, with the notifier's own cursor."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select

from keeper.ledger import Kind, Ledger, TransferSpec
from keeper.notifications import DEPOSIT_CREDITED, emit_deposit_credits
from keeper.notifications.models import OutboxRow

_O = OutboxRow.__table__


def _outbox(engine: Engine) -> list[tuple[str, str, dict]]:
    with engine.connect() as conn:
        return [(r.event_id, r.client_id, json.loads(r.payload))
                for r in conn.execute(select(_O).where(_O.c.event == DEPOSIT_CREDITED)
                                      .order_by(_O.c.id))]


def test_each_deposit_is_announced_once_to_its_client(db_url: str, engine: Engine) -> None:
    lg = Ledger(db_url, group_commit=False)
    try:
        om = lg.omnibus_account("USDC", "vault:x")
        a, b = lg.client_account("alice", "USDC"), lg.client_account("bob", "USDC")
        lg.post_all([TransferSpec("dep-a", om, a, 2**70, reference="block 7 tx 0xab log 1"),
                     TransferSpec("dep-b", om, b, 5),
                     TransferSpec("wd-a", a, om, 1),  # a withdrawal is not a deposit
                     TransferSpec("hold-b", om, b, 9, Kind.PENDING)])  # not credited yet
        assert emit_deposit_credits(engine) == 2
        assert emit_deposit_credits(engine) == 0  # idempotent: nothing new
        lg.post(TransferSpec("hold-b:post", 0, 0, 0, Kind.POST, pending_id="hold-b"))
        assert emit_deposit_credits(engine) == 1
    finally:
        lg.close()
    got = _outbox(engine)
    assert [(c, p["transfer_id"]) for _, c, p in got] == [
        ("alice", "dep-a"), ("bob", "dep-b"), ("bob", "hold-b:post")]
    assert all(e.startswith("deposit.credited:") for e, _, _ in got)
    assert len({e for e, _, _ in got}) == 3
    assert got[0][2] | {"credited_at": None} == {
        "transfer_id": "dep-a", "asset": "USDC", "amount": str(2**70),
        "reference": "block 7 tx 0xab log 1", "credited_at": None}
    assert got[2][2]["amount"] == "9"


def test_odd_transfer_ids_and_huge_references_never_block_the_feed(db_url: str,
                                                                   engine: Engine) -> None:
    lg = Ledger(db_url, group_commit=False)
    try:
        om = lg.omnibus_account("USDC", "vault:x")
        a = lg.client_account("alice", "USDC")
        lg.post_all([TransferSpec("id with spaces\r\nX: y", om, a, 1),
                     TransferSpec("x" * 160, om, a, 2),
                     TransferSpec("huge-ref", om, a, 3, reference="r" * 50_000),
                     TransferSpec("plain", om, a, 4)])
        assert emit_deposit_credits(engine) == 4
        assert emit_deposit_credits(engine) == 0
    finally:
        lg.close()
    got = _outbox(engine)
    assert [p["amount"] for _, _, p in got] == ["1", "2", "3", "4"]
    assert got[0][2]["transfer_id"] == "id with spaces\r\nX: y"  # data, not a header
    assert len(got[2][2]["reference"]) <= 500
