"""Multisig-only moves on the fork: the weekly warm -> cold sweep is planned as a warm-Multisig
SafeTx that the signer service accepts from a warm owner and two owners execute; replanning the
week returns the same SafeTx; a cold -> hot top-up is a cold-Multisig proposal (approve + deposit)
that only the cold quorum can execute, and nothing moves before it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keeper.assets import ZERO_ADDRESS
from keeper.jobs.scheduler import JobRun
from keeper.keys import SafeTx, SoftwareSigner, safe_tx_hash, sign_hash
from keeper.safetx import Proposal, SafeChain, SafeTxService
from keeper.treasury.moves import Move
from keeper.treasury.tiers import PlannedProposal, ProposalPlanner, SweepBook, SweepStatus
from keeper.treasury.tiers.jobs import treasury_sweep_weekly
from scripts.deployments import derived_signer

pytestmark = pytest.mark.fork
ETH = 10**18
USDC = 10**6
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def signatures(plan: PlannedProposal, index: int, owners: list[int]) -> bytes:
    accts = sorted((derived_signer(i) for i in owners), key=lambda a: int(a.address, 16))
    return b"".join(sign_hash(SoftwareSigner(bytes(a.key)), bytes.fromhex(plan.hashes[index][2:]))
                    for a in accts)


def execute(project: Any, sender: Any, plan: PlannedProposal, owners: list[int]) -> None:
    safe = project.Multisig.at(plan.safe)
    for i, tx in enumerate(plan.txs):
        safe.execTransaction(tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas,
                             tx.gas_price, tx.gas_token, tx.refund_receiver,
                             signatures(plan, i, owners), sender=sender)


def test_weekly_warm_sweep_is_a_warm_owner_proposal(make_world, deposit, chain, project,
                                                     accounts, rpc_url) -> None:
    world = make_world(treasury=False)
    deposit(world, eth_wei=10 * ETH)
    chain.provider.set_balance(world.warm, 50 * ETH)  # the warm wallet filled up
    world.mine()
    slot = JobRun(world.host, "treasury_sweep_weekly", MONDAY)
    assert treasury_sweep_weekly(slot) == 1
    book = SweepBook(world.host.ledger.engine)
    [row] = book.rows("weekly")
    # 60 ETH in all: warm keeps its 15 % target (9 ETH), 41 ETH go to cold
    assert (row.key, row.units, row.status) == ("weekly:2026-W48:ETH", 41 * ETH,
                                                SweepStatus.PROPOSED)
    planner = ProposalPlanner(book, world.w3, chain.chain_id)
    plan = planner.warm_to_cold(row.key, Move("ETH", "warm_multisig", "warm", "cold_multisig",
                                              "cold", 1, "again"), world.warm, world.cold)
    assert plan.hashes == tuple(t["contractTransactionHash"] for t in row.payload["transactions"])
    assert (plan.txs[0].to, plan.txs[0].value) == (world.cold, 41 * ETH)
    assert world.balance(world.cold) == 0  # the keeper moved nothing itself
    next_week = JobRun(world.host, "treasury_sweep_weekly", MONDAY + timedelta(days=7))
    assert treasury_sweep_weekly(next_week) == 1  # still open: the same proposal, not a second
    assert [r.key for r in book.rows("weekly")] == [row.key]

    service = SafeTxService(world.host.ledger.engine, SafeChain(rpc_url, chain.chain_id))
    service.register_safe(world.warm)
    owner = derived_signer(6)
    h = service.propose(Proposal(world.warm, plan.txs[0], bytes.fromhex(plan.hashes[0][2:]),
                                 owner.address, signatures(plan, 0, [6]), "tests"))
    assert h == plan.hashes[0]
    execute(project, accounts[0], plan, [6, 7])
    world.mine()
    assert world.balance(world.cold) == 41 * ETH and world.balance(world.warm) == 9 * ETH
    assert treasury_sweep_weekly(next_week) == 0  # within its band now: nothing more this week


def test_a_top_up_is_only_a_cold_quorum_proposal(make_world, deposit, chain, project,
                                                 accounts) -> None:
    world = make_world(treasury=False)
    deposit(world, usdc=1_000_000 * USDC)
    world.mine()
    from keeper.treasury.tiers.jobs import treasury_sweep_daily

    treasury_sweep_daily(JobRun(world.host, "treasury_sweep_daily", MONDAY))
    world.mine()
    assert world.balance(world.vault.address, "USDC") == 50_000 * USDC
    planner = ProposalPlanner(SweepBook(world.host.ledger.engine), world.w3, chain.chain_id)
    move = Move("USDC", "cold_multisig", "cold", "vault", "hot", 100_000 * USDC, "top-up")
    plan = planner.cold_to_hot("topup:test:USDC", move, world.cold, world.vault.address)
    assert [tx.nonce for tx in plan.txs] == [0, 1]
    assert planner.cold_to_hot("topup:test:USDC", move, world.cold,
                               world.vault.address).hashes == plan.hashes
    assert world.balance(world.vault.address, "USDC") == 50_000 * USDC  # nothing moved yet
    with pytest.raises(Exception, match="GS020"):
        execute(project, accounts[0], plan, [1, 2])  # two of five: below the cold quorum
    execute(project, accounts[0], plan, [1, 2, 3])
    assert world.balance(world.vault.address, "USDC") == 150_000 * USDC
    assert world.balance(world.cold, "USDC") == 850_000 * USDC


def test_a_plan_takes_the_nonce_after_the_owners_pending_proposals(make_world, chain,
                                                                   rpc_url) -> None:
    world = make_world(treasury=False)
    service = SafeTxService(world.host.ledger.engine, SafeChain(rpc_url, chain.chain_id))
    service.register_safe(world.warm)
    chain.provider.set_balance(world.warm, 50 * ETH)
    owner = derived_signer(6)
    for nonce in (0, 1):  # the warm owners' own business, proposed and not yet executed
        tx = SafeTx(owner.address, 1, b"", 0, 0, 0, 0, ZERO_ADDRESS, ZERO_ADDRESS, nonce)
        digest = safe_tx_hash(chain.chain_id, world.warm, tx)
        service.propose(Proposal(world.warm, tx, digest, owner.address,
                                 sign_hash(SoftwareSigner(bytes(owner.key)), digest), "owners"))
    planner = ProposalPlanner(SweepBook(world.host.ledger.engine), world.w3, chain.chain_id,
                              service=service)
    move = Move("ETH", "warm_multisig", "warm", "cold_multisig", "cold", ETH, "test")
    planner.warm_to_cold("weekly:test:ETH", move, world.warm, world.cold, dry_run=True)
    assert planner.book.get("weekly:test:ETH").status == SweepStatus.DRY_RUN
    plan = planner.warm_to_cold("weekly:test:ETH", move, world.warm, world.cold)
    assert [tx.nonce for tx in plan.txs] == [2]
    assert planner.book.get("weekly:test:ETH").status == SweepStatus.PROPOSED
