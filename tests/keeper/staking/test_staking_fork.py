"""The keeper's staking on the fork: deposits sent from the HSM operator key through TxSender,
rewards over several epochs distributed exactly (client rewards + remainder == the contract's
rewards for our stake, and the omnibus == what the pool would pay us), slashing applied pro
rata, a short claim, failed operations on a paused pool rolled back or retried with alerts,
and a crash in the middle of a distribution neither losing nor doubling it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from keeper.staking.book import Accounts
from keeper.staking.models import StakingAllocationRow, StakingEventRow, StakingOpRow
from keeper.staking.pool import queue_value, share_value
from strongroom_testkit.staking import LOCKUP, UNBONDING, next_epoch, settle

ETHER = 10**18
BOTH = pytest.mark.parametrize(
    "keeper", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def ours(pool: Any, operator: str) -> tuple[list[int], list[int]]:
    """Our position ids and open request ids, read from the chain."""
    positions = [i for i in range(1, pool.position_count() + 1)
                 if pool.positions(i).owner.lower() == operator.lower()]
    requests = [i for i in range(1, pool.request_count() + 1)
                if pool.requests(i).owner.lower() == operator.lower()
                and not pool.requests(i).claimed]
    return positions, requests


def chain_value(pool: Any, operator: str) -> int:
    """What the pool would pay our stake now, computed from its storage (independently of the
    mirror): all our shares at the pool's price plus each open request at the queue's."""
    positions, requests = ours(pool, operator)
    shares = sum(pool.positions(i).shares for i in positions)
    value = share_value(shares, pool.pooled(), pool.total_shares())
    return value + sum(queue_value(pool.requests(r).units, pool.unbonding_assets(),
                                   pool.unbonding_units()) for r in requests)


def ledger_view(k: Any, clients: list[str]) -> dict[str, int]:
    acc: Accounts = k.accounts
    bal = k.ledger.balance
    view = {c: bal(acc.staked(c)).credit_balance for c in clients}
    view["remainder"] = bal(acc.remainder).credit_balance
    view["omnibus"] = -bal(acc.om).credit_balance  # debit-normal: what the pool holds for us
    return view


def distributions(k: Any) -> list[Any]:
    with k.ledger.engine.connect() as conn:
        return conn.execute(select(StakingEventRow.__table__).where(
            StakingEventRow.kind.in_(("RewardsAccrued", "Slashed")))).all()


def allocations(k: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    with k.ledger.engine.connect() as conn:
        for r in conn.execute(select(StakingAllocationRow.__table__)):
            out[r.client_id] = out.get(r.client_id, 0) + int(r.amount)
    return out


@BOTH
def test_rewards_over_epochs_are_distributed_exactly(keeper, world, chain):
    k, pool = keeper, world.pool
    clients = {"alice": 2 * ETHER, "bob": ETHER + 7, "carol": 3}
    for c, amount in clients.items():
        k.fund_client(c, amount + ETHER)
        assert k.service.deposit(f"dep-{c}", c, amount).status == "sent"
    pool.deposit(sender=world.stakers[0], value=5 * ETHER + 1)  # an outsider beside us
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    settle(k)
    expected_rewards = 0
    for epochs in (1, 3, 2):  # three distributions of uneven size
        shares = sum(pool.positions(i).shares for i in ours(pool, k.sender.address)[0])
        before = share_value(shares, pool.pooled(), pool.total_shares())
        next_epoch(chain, epochs)
        pool.accrue(sender=world.stakers[1])
        expected_rewards += share_value(shares, pool.pooled(), pool.total_shares()) - before
        settle(k)
    events = [e for e in distributions(k) if e.kind == "RewardsAccrued"]
    assert len(events) == 3
    contract = sum(int(e.contract_amount) for e in events)
    remainder = sum(int(e.remainder) for e in events)
    assert contract == expected_rewards > 0
    assert remainder > 0  # carol's 3-wei stake rounds to nothing: its share stays here
    assert sum(allocations(k).values()) + remainder == contract  # exactly, never lost/created
    for e in events:
        assert int(e.allocated) + int(e.remainder) == int(e.contract_amount)
    view = ledger_view(k, list(clients))
    assert view["omnibus"] == chain_value(pool, k.sender.address)  # the ledger follows the chain
    assert sum(view[c] for c in clients) + view["remainder"] == view["omnibus"]
    for c, amount in clients.items():
        assert view[c] == amount + allocations(k).get(c, 0)
        assert k.ledger.balance(k.accounts.liquid(c)).credit_balance == ETHER
    # pro rata: alice holds twice bob's stake and gets twice his reward, to within a wei per event
    alloc = allocations(k)
    assert abs(alloc["alice"] - 2 * alloc["bob"]) <= 2 * len(events)
    assert {r.status for r in k.ledger.engine.connect().execute(
        select(StakingOpRow.status))} == {"done"}


def test_slash_is_applied_pro_rata_and_the_short_claim_is_booked(keeper, world, chain):
    k, pool = keeper, world.pool
    for c, amount in {"alice": 6 * ETHER, "bob": 4 * ETHER}.items():
        k.fund_client(c, amount)
        k.service.deposit(f"dep-{c}", c, amount)
    settle(k)
    chain.mine(timestamp=chain.pending_timestamp + LOCKUP)
    [alice_pos, bob_pos] = ours(pool, k.sender.address)[0]
    k.service.request_withdrawal("wd-bob", "bob", bob_pos, pool.positions(bob_pos).shares)
    settle(k)
    assert k.service.state("wd-bob").status == "done"
    pool.slash(ETHER // 2, sender=world.slasher)  # 5 %: 3/10 ETH from the pool, 2/10 from the queue
    settle(k)
    alloc = allocations(k)
    assert alloc == {"alice": -3 * ETHER // 10, "bob": -2 * ETHER // 10}
    view = ledger_view(k, ["alice", "bob"])
    assert view["omnibus"] == chain_value(pool, k.sender.address)
    assert sum(view[c] for c in ("alice", "bob")) + view["remainder"] == view["omnibus"]
    chain.mine(timestamp=chain.pending_timestamp + UNBONDING)
    request_id = k.service.state("wd-bob").request_id
    k.service.claim("claim-bob", "bob", request_id)
    settle(k)
    assert k.service.state("claim-bob").status == "done"
    paid = 4 * ETHER - 2 * ETHER // 10
    assert k.ledger.balance(k.accounts.liquid("bob")).credit_balance == paid
    assert k.ledger.balance(k.accounts.staked("bob")).credit_balance == 0
    assert "staking_claim_short" in k.alert_kinds()
    view = ledger_view(k, ["alice", "bob"])
    assert view["omnibus"] == chain_value(pool, k.sender.address) == 6 * ETHER - 3 * ETHER // 10
    assert view["alice"] + view["remainder"] == view["omnibus"]


def test_failures_on_a_paused_pool_leave_ledger_and_chain_consistent(keeper, world, chain):
    k, pool = keeper, world.pool
    k.fund_client("alice", 3 * ETHER)
    k.service.deposit("dep-1", "alice", ETHER)
    settle(k)
    chain.mine(timestamp=chain.pending_timestamp + LOCKUP)
    pool.pause(sender=world.guardian)
    positions_before = pool.position_count()
    # a deposit refused by the paused pool: rolled back, nothing on chain, alert
    state = k.service.deposit("dep-2", "alice", ETHER)
    assert state.status == "failed" and "paused" in state.error
    assert pool.position_count() == positions_before
    liquid = k.ledger.balance(k.accounts.liquid("alice"))
    assert liquid.available == 2 * ETHER and liquid.debits_pending == 0  # the hold was voided
    # a withdrawal request refused for the pause: kept waiting, retried once lifted
    [pos] = ours(pool, k.sender.address)[0]
    assert k.service.request_withdrawal("wd-1", "alice", pos, ETHER).status == "waiting"
    assert {"staking_op_failed", "staking_op_waiting"} <= set(k.alert_kinds())
    settle(k)
    assert k.service.state("wd-1").status == "waiting"  # still paused: nothing sent
    assert pool.request_count() == 0
    pool.unpause(sender=world.guardian)
    settle(k)  # resent, then mirrored (once mined)
    assert k.service.state("wd-1").status in ("sent", "done")
    settle(k)
    assert k.service.state("wd-1").status == "done" and pool.request_count() == 1
    view = ledger_view(k, ["alice"])
    assert view["omnibus"] == chain_value(pool, k.sender.address) == ETHER
    assert view["alice"] + view["remainder"] == ETHER


@BOTH
def test_crash_mid_distribution_neither_loses_nor_doubles(keeper, world, chain):
    k, pool = keeper, world.pool
    for c, amount in {"alice": ETHER + 1, "bob": 2 * ETHER + 1}.items():
        k.fund_client(c, amount)
        k.service.deposit(f"dep-{c}", c, amount)
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    settle(k)
    next_epoch(chain, 2)
    pool.accrue(sender=world.stakers[1])
    before = ledger_view(k, ["alice", "bob"])
    cursor = k.ledger.cursor(k.mirror.cursor_name)

    def crash(conn: Any) -> None:
        raise RuntimeError("keeper killed mid-commit")

    k.mirror.fault = crash
    with pytest.raises(RuntimeError, match="killed"):
        k.mirror.sync()
    assert ledger_view(k, ["alice", "bob"]) == before  # nothing of the distribution landed
    assert k.ledger.cursor(k.mirror.cursor_name) == cursor
    k.mirror.fault = None  # restart
    k.mirror.sync()
    k.mirror.sync()  # and once more: nothing new
    [event] = [e for e in distributions(k) if e.kind == "RewardsAccrued"]
    assert int(event.contract_amount) > 0
    after = ledger_view(k, ["alice", "bob"])
    assert sum(after[c] - before[c] for c in ("alice", "bob")) + \
        after["remainder"] - before["remainder"] == int(event.contract_amount)
    assert after["omnibus"] == chain_value(pool, k.sender.address)


def test_a_deposit_mined_into_a_pause_reverts_and_is_rolled_back(keeper, world, w3):
    """The simulation passed, then the guardian's pause was mined first: the deposit reverts
    on chain; the receipt rolls the hold back, alerts, and a later sync books nothing."""
    k, pool = keeper, world.pool
    k.fund_client("alice", 2 * ETHER)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        assert k.service.deposit("dep-late", "alice", ETHER).status == "sent"
        w3.eth.send_transaction({
            "from": world.guardian.address, "to": pool.address, "gas": 200_000,
            "data": pool.pause.encode_input(), "maxPriorityFeePerGas": 100 * 10**9,
            "maxFeePerGas": 250 * 10**9})  # outbids the keeper: mined first in the block
        w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    settle(k)
    state = k.service.state("dep-late")
    assert state.status == "failed" and "paused" in state.error
    assert k.sender.status("staking:dep-late:0").state == "reverted"  # mined, then reverted
    assert pool.position_count() == 0 and pool.isPaused()
    liquid = k.ledger.balance(k.accounts.liquid("alice"))
    assert liquid.available == 2 * ETHER and liquid.debits_pending == 0
    assert "staking_op_failed" in k.alert_kinds()
    assert ledger_view(k, ["alice"]) == {"alice": 0, "remainder": 0, "omnibus": 0}


def test_a_refused_posting_is_parked_in_suspense_and_the_mirror_goes_on(keeper, world, chain):
    """The deposit's hold expired before its event was mirrored (the ledger refuses to post a
    resolved hold): the omnibus and operator moves still follow the chain, the client leg is
    not booked (alerted for operations to resolve), and the next events are applied as usual."""
    from keeper.ledger import Kind, TransferSpec
    from keeper.staking.book import hold_id

    k, pool = keeper, world.pool
    k.fund_client("alice", 2 * ETHER)
    k.service.deposit("dep-x", "alice", ETHER)
    k.ledger.post(TransferSpec("expire-dep-x", 0, 0, 0, Kind.VOID, pending_id=hold_id("dep-x")))
    settle(k)
    assert "staking_posting_refused" in k.alert_kinds()
    assert k.ledger.balance(k.accounts.liquid("alice")).available == 2 * ETHER  # not booked
    assert ledger_view(k, ["alice"]) == {"alice": 0, "remainder": 0, "omnibus": ETHER}
    assert chain_value(pool, k.sender.address) == ETHER  # the omnibus follows the chain
    assert -k.ledger.balance(k.accounts.funding).credit_balance == ETHER  # left at the wallet
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    next_epoch(chain)
    pool.accrue(sender=world.stakers[1])
    settle(k)
    [event] = [e for e in distributions(k) if e.kind == "RewardsAccrued"]
    assert int(event.contract_amount) == 10**16 + 3 == int(event.allocated) + int(event.remainder)
    assert ledger_view(k, ["alice"])["omnibus"] == chain_value(pool, k.sender.address)


def test_an_event_mirrored_before_its_operation_is_recorded_sent(keeper, world, w3):
    """The keeper stopped between broadcasting a deposit and recording it as sent: the
    mirror still attributes the pool's event to the operation (by its intent's hashes), the
    client is credited once, and resuming sends nothing more."""
    from sqlalchemy import update

    k, pool = keeper, world.pool
    k.fund_client("alice", 2 * ETHER)
    k.service.deposit("dep-c", "alice", ETHER)
    with k.ledger.engine.begin() as conn:  # the crash point: broadcast, not yet recorded
        conn.execute(update(StakingOpRow.__table__).where(StakingOpRow.op_id == "dep-c")
                     .values(status="new", tx_hash=None))
    [tx_hash] = k.service.hashes("dep-c")
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    k.mirror.sync()  # the mirror's job runs before the service resumes
    settle(k)
    assert k.service.state("dep-c").status == "done"
    assert "staking_unattributed" not in k.alert_kinds()
    assert pool.position_count() == 1  # sent once
    assert ledger_view(k, ["alice"]) == {"alice": ETHER, "remainder": 0, "omnibus": ETHER}
