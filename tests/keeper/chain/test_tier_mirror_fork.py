"""Issue 14 on the fork: every move between the vault and its tier Multisigs is mirrored in the
ledger exactly once (warm <-> cold SafeTxs, top-ups into the vault) and type 1 reconciliation
checks the tier wallets, so what the ledger does not know shows up as a break."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector as selector

from keeper.assets import ETH_ADDRESS, USDC
from keeper.chain import tier_location
from keeper.jobs.scheduler import JobRun
from keeper.recon.jobs import break_book, type1_hourly
from strongroom_testkit.tierworld import CLIENT_REF, TierWorld, tier_world

pytestmark = pytest.mark.fork
ETH, USD = 10**18, 10**6
TIER_ALERTS = {"tier_outflow", "tier_execution_unread", "topup_not_from_tier", "unknown_client_ref",
               "unattributed_transfer_in", "refused"}


def transfer(to: str, units: int) -> bytes:
    """ERC-20 ``transfer(to, units)`` calldata."""
    return selector("transfer(address,uint256)") + encode(["address", "uint256"], [to, units])


@pytest.fixture
def world(accounts: Any, chain: Any, project: Any, tmp_path: Any) -> TierWorld:
    """The system with 1,000 USDC and 10 ETH deposited by client c1, 600 USDC and 6 ETH swept
    to cold, all mirrored."""
    w = tier_world(accounts, chain, tmp_path)
    who = accounts[8]
    w.fund(project, who, 1_000 * USD)
    project.FiatTokenV2.at(USDC.address).approve(w.vault.address, 1_000 * USD, sender=who)
    w.vault.deposit(USDC.address, 1_000 * USD, CLIENT_REF, sender=who)
    w.vault.depositEth(CLIENT_REF, value=10 * ETH, sender=who)
    w.vault.sweep(USDC.address, 600 * USD, 2, sender=accounts[0])
    w.vault.sweep(ETH_ADDRESS, 6 * ETH, 2, sender=accounts[0])
    w.mine()
    yield w
    w.host.ledger.close()


def books(w: TierWorld, asset: str) -> tuple[int, int, int]:
    """(vault, warm, cold) omnibus balances of ``asset`` in the ledger."""
    return (w.book(f"vault:{w.vault.address.lower()}", asset),
            w.book(tier_location(1, w.warm), asset), w.book(tier_location(2, w.cold), asset))


def chains(w: TierWorld, asset: str) -> tuple[int, int, int]:
    """(vault, warm, cold) on-chain balances of ``asset``."""
    return tuple(w.on_chain(a, asset) for a in (w.vault.address, w.warm, w.cold))  # type: ignore[return-value]


def type1(w: TierWorld, hour: int) -> list[Any]:
    """Run the hourly type 1 job; its breaks."""
    run_id = type1_hourly(JobRun(w.host, "recon_type1", datetime(2026, 11, 23, hour, tzinfo=UTC)))
    run = break_book(w.host).run(run_id)
    assert tier_location(2, w.cold) in str(run.figures)  # the tier wallets are always listed
    return break_book(w.host).breaks(run_id)


def tier_alerts(w: TierWorld) -> list[tuple[str, str, str | None]]:
    return [a for a in w.host.ledger.alerts() if a[0] in TIER_ALERTS]


def test_warm_cold_moves_are_mirrored_once_and_type1_passes(world: TierWorld, project: Any) -> None:
    w = world
    w.safe_call(project, w.cold, USDC.address, transfer(w.warm, 250 * USD))
    w.safe_call(project, w.cold, w.warm, value=2 * ETH)
    w.safe_call(project, w.warm, USDC.address, transfer(w.cold, 100 * USD))
    w.safe_call(project, w.warm, w.cold, value=ETH)
    w.mine()
    assert books(w, "USDC") == chains(w, "USDC") == (400 * USD, 150 * USD, 450 * USD)
    assert books(w, "ETH") == chains(w, "ETH") == (4 * ETH, ETH, 5 * ETH)
    assert w.mine() == 0  # a replay of the same blocks posts nothing more
    assert books(w, "USDC") == (400 * USD, 150 * USD, 450 * USD)
    assert (w.suspense("USDC"), w.suspense("ETH"), tier_alerts(w)) == (0, 0, [])
    assert type1(w, 1) == []


def test_a_reorg_of_a_warm_to_cold_move_does_not_double_post(world: TierWorld, project: Any,
                                                              accounts: Any) -> None:
    w = world
    w.safe_call(project, w.cold, USDC.address, transfer(w.warm, 300 * USD))
    w.mine()
    receipt = w.safe_call(project, w.warm, USDC.address, transfer(w.cold, 200 * USD))
    w.mine()
    assert books(w, "USDC")[1:] == (100 * USD, 500 * USD)
    depth = w.w3.eth.block_number - receipt.block_number + 1
    assert "error" not in w.w3.provider.make_request("anvil_reorg", [depth, []])
    w.mine()  # the orphaned move is reversed
    assert books(w, "USDC") == chains(w, "USDC") == (400 * USD, 300 * USD, 300 * USD)
    # the move made again (anvil's reorg keeps the Multisig's nonce, so a new SafeTx): once
    w.safe_call(project, w.warm, USDC.address, transfer(w.cold, 200 * USD))
    w.mine()
    assert books(w, "USDC") == chains(w, "USDC") == (400 * USD, 100 * USD, 500 * USD)
    assert w.mine() == 0
    assert w.host.ledger.verify_invariants() == []
    assert type1(w, 2) == []


def test_a_top_up_is_an_internal_move_into_the_vault(world: TierWorld, project: Any,
                                                    chain: Any) -> None:
    """The top-ups and rebalancing moves exactly as the treasury plans them (cold -> hot:
    approve + deposit, depositEth; warm -> cold: transfer), executed by the owners."""
    from keeper.treasury.moves import Move
    from keeper.treasury.tiers import ProposalPlanner, SweepBook

    w = world
    planner = ProposalPlanner(SweepBook(w.host.ledger.engine), w.w3, chain.chain_id)
    plans = [planner.cold_to_hot(f"topup:t:{asset}", Move(asset, "cold_multisig", "cold", "vault",
                                                           "hot", units, "test"),
                                 w.cold, w.vault.address)
             for asset, units in (("USDC", 250 * USD), ("ETH", 2 * ETH))]
    for plan in plans:
        for tx in plan.txs:
            w.safe_call(project, w.cold, tx.to, tx.data, tx.value)
    w.mine()
    assert books(w, "USDC") == chains(w, "USDC") == (650 * USD, 0, 350 * USD)
    assert books(w, "ETH") == chains(w, "ETH") == (6 * ETH, 0, 4 * ETH)
    assert (w.suspense("USDC"), w.suspense("ETH"), tier_alerts(w)) == (0, 0, [])
    c1 = w.host.ledger.client_balances("c1")
    assert (c1["USDC"].credit_balance, c1["ETH"].credit_balance) == (1_000 * USD, 10 * ETH)
    assert type1(w, 3) == []


def test_tier_payments_to_outsiders_go_to_suspense_with_an_alert(world: TierWorld, project: Any,
                                                                  accounts: Any) -> None:
    w = world
    outsider = accounts[7].address
    w.safe_call(project, w.cold, USDC.address, transfer(outsider, 5 * USD))
    w.safe_call(project, w.cold, outsider, value=ETH)
    w.mine()
    assert books(w, "USDC") == chains(w, "USDC") == (400 * USD, 0, 595 * USD)
    assert books(w, "ETH") == chains(w, "ETH") == (4 * ETH, 0, 5 * ETH)
    assert (w.suspense("USDC"), w.suspense("ETH")) == (-5 * USD, -ETH)  # gone, unexplained
    assert [a[0] for a in tier_alerts(w)] == ["tier_outflow", "tier_outflow"]
    assert type1(w, 4) == []


def test_a_batch_of_a_tier_is_mirrored_call_by_call(world: TierWorld, project: Any,
                                                     accounts: Any) -> None:
    w = world
    outsider = accounts[7].address
    w.safe_batch(project, w.cold, [(w.warm, 2 * ETH, b""), (outsider, ETH, b""),
                                   (USDC.address, 0, transfer(w.warm, 50 * USD))])
    w.mine()
    assert books(w, "ETH") == chains(w, "ETH") == (4 * ETH, 2 * ETH, 3 * ETH)
    assert books(w, "USDC") == chains(w, "USDC") == (400 * USD, 50 * USD, 550 * USD)
    assert w.suspense("ETH") == -ETH
    assert [a[0] for a in tier_alerts(w)] == ["tier_outflow"]
    assert type1(w, 6) == []


def test_an_execution_not_read_from_its_transaction_is_alerted(world: TierWorld, project: Any,
                                                                accounts: Any) -> None:
    from keeper.safetx.chain import exec_transaction_data

    w = world
    tx, sigs = w.signed(project, w.cold, accounts[7].address, ETH, b"")
    w.safe_call(project, w.warm, w.cold, exec_transaction_data(tx, sigs))  # warm relays cold's
    assert w.mine() >= 0
    assert [a[0] for a in tier_alerts(w)] == ["tier_execution_unread"]
    assert books(w, "ETH")[2] == 6 * ETH and chains(w, "ETH")[2] == 5 * ETH
    assert {b.subject for b in type1(w, 7)} == {f"ETH {tier_location(2, w.cold)}"}


def test_an_outsiders_dust_to_the_multisigs_is_a_type1_break(world: TierWorld, project: Any,
                                                            accounts: Any) -> None:
    w = world
    stranger = accounts[7]
    w.fund(project, stranger, 3)
    project.FiatTokenV2.at(USDC.address).transfer(w.cold, 3, sender=stranger)
    stranger.transfer(w.warm, 7)  # warm: a wallet the ledger has never posted to
    assert w.mine() >= 0  # the follower carries on
    assert books(w, "USDC")[2] == 600 * USD and chains(w, "USDC")[2] == 600 * USD + 3
    found = {(b.subject, b.difference) for b in type1(w, 5)}
    assert found == {(f"USDC {tier_location(2, w.cold)}", -3),
                     (f"ETH {tier_location(1, w.warm)}", -7)}
    assert tier_alerts(w) == []
