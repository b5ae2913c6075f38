"""Event mapping without a chain: malformed logs decode to nothing, a group the ledger refuses is
isolated (suspense, then alert only) and never sinks the events around it."""

from __future__ import annotations

import pytest

from keeper.assets import ZERO_ADDRESS
from keeper.chain import events as ev
from keeper.chain.postings import Mapper, fallback
from keeper.ledger import CursorState, HoldResolved, Kind, Ledger, TransferSpec

VAULT = "0x" + "aa" * 20
USDC = "0x" + "bb" * 20


def word(n: int) -> str:
    return f"{n:064x}"


def raw(topics: list[str], data: str, index: int, emitter: str = VAULT) -> dict:
    return {"address": emitter, "topics": topics, "data": "0x" + data, "blockNumber": "0x10",
            "blockHash": "0x" + "cd" * 32, "transactionHash": "0x" + "ef" * 32,
            "logIndex": hex(index)}


def deposit(ref: int, amount: int, index: int) -> dict:
    return raw([ev.DEPOSIT, "0x" + word(0), "0x" + word(1), "0x" + word(ref)], word(amount), index)


def withdrawal(op_id: str, amount: int, index: int) -> dict:
    return raw([ev.WITHDRAWAL, op_id, "0x" + word(0), "0x" + word(2)],
               word(amount) + word(amount), index)


@pytest.mark.parametrize("log", [
    raw([], "", 0),  # no topics at all
    raw([ev.DEPOSIT, "0x" + word(0)], word(5), 0),  # too few topics
    raw([ev.TRANSFER, "0x" + word(0)], word(5), 0, emitter=USDC),  # ERC-721-like shape
    raw([ev.DESTROYED], "", 0, emitter=USDC),  # no data words
    {"address": VAULT, "topics": [ev.DEPOSIT]},  # fields missing
])
def test_malformed_logs_decode_to_nothing(log):
    assert ev.decode(log, {VAULT}) == []


def test_a_transfer_between_two_followed_vaults_is_out_of_one_and_into_the_other():
    other = "0x" + "cc" * 20
    log = raw([ev.TRANSFER, "0x" + word(int(VAULT, 16)), "0x" + word(int(other, 16))],
              word(9), 3, emitter=USDC)
    out = ev.decode(log, {VAULT, other})
    assert [(e.kind, e.vault, e.amount) for e in out] == [("transfer_out", VAULT, 9),
                                                           ("transfer_in", other, 9)]


@pytest.fixture
def ledger(db_url):
    lg = Ledger(db_url)
    yield lg
    lg.close()


def test_a_refused_event_goes_to_suspense_and_the_range_commits(ledger):
    ledger.register_client_ref("0x" + word(1), "alice")
    ledger.post(TransferSpec("seed", ledger.suspense_account("ETH"),
                             ledger.client_account("alice", "ETH"), 100))
    op_id = "0x" + word(77)
    ledger.open_withdrawal_hold(op_id, "alice", "ETH", 40, VAULT)
    logs = [deposit(1, 5, 0), withdrawal(op_id, 40, 1), deposit(1, 6, 2)]
    decoded = [(e, f"t:{i}") for i, lg in enumerate(logs) for e in ev.decode(lg, {VAULT})]
    m = Mapper(ledger, "vault", {ZERO_ADDRESS: "ETH"}, 0)
    groups = m.groups(decoded)
    assert groups[1].transfers[0].kind is Kind.POST
    # the hold expires (another job) between the mapping and the commit
    ledger.post(TransferSpec("void-it", 0, 0, 0, Kind.VOID, pending_id=f"withdrawal:{op_id}"))
    errors = ledger.refusals([g.transfers for g in groups])
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], HoldResolved)
    assert ledger.balance(ledger.client_account("alice", "ETH")).credit_balance == 100  # dry run
    fixed = [g if err is None else fallback(g, m, err, False) for g, err in zip(groups, errors, strict=True)]
    assert [a[0] for a in fixed[1].alerts] == ["refused"]
    ledger.move_cursor([t for g in fixed for t in g.transfers], expected=None,
                       to=CursorState("vault", 16, "0x" + "cd" * 32, 0),
                       alerts=[a for g in fixed for a in g.alerts])
    assert ledger.balance(ledger.client_account("alice", "ETH")).credit_balance == 111
    assert ledger.balance(ledger.suspense_account("ETH")).credit_balance == -100 - 40
    assert [a[0] for a in ledger.alerts()] == ["refused"]
    last = fallback(groups[1], m, errors[1], True)  # if even suspense were refused
    assert last.transfers == [] and last.alerts[-1][0] == "refused"
    assert ledger.verify_invariants() == []
