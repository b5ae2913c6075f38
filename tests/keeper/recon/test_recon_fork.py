"""Type 1 and type 3 on the fork: real ETH and USDC balances and supply read over JSON-RPC at a
pinned block; each size class of break gets exactly the spec's action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_utils import keccak
from web3 import Web3

from keeper.chain.reader import ChainReader
from keeper.ledger import CursorState, Ledger, TransferSpec, make_engine
from keeper.ledger import upgrade as upgrade_ledger
from keeper.prices import StaticPrices
from keeper.recon import (
    BreakBook,
    Reconciler,
    RpcSupply,
    SizeClass,
    Status,
    TransactionsHalted,
    ensure_open_for_business,
)
from keeper.recon.migrate import upgrade as upgrade_recon
from strongroom_testkit import mine
from strongroom_testkit.dbtemplate import fresh_url

pytestmark = pytest.mark.fork
RESOLVER = "treasury.alice"
USDC_UNIT = 10**6


def addr(label: str) -> str:
    """A fresh lower-case address nobody holds keys for."""
    return "0x" + keccak(label.encode())[:20].hex()


@pytest.fixture
def world(tmp_path: Any, w3: Web3) -> Any:
    url = fresh_url(tmp_path / 'recon.db')
    upgrade_ledger(url)
    upgrade_recon(url)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    book = BreakBook(engine, resolvers=[RESOLVER])
    now = datetime.now(UTC)
    rec = Reconciler(engine, book, StaticPrices({"ETH": 300_000}, now))
    yield ledger, book, rec, engine
    ledger.close()


def credit(ledger: Ledger, asset: str, location: str, amount: int, tid: str) -> None:
    ledger.post(TransferSpec(tid, ledger.omnibus_account(asset, location),
                             ledger.client_account("alice", asset), amount))


def mint_usdc(chain: Any, accounts: Any, usdc: Any, to: str, amount: int) -> None:
    master = usdc.masterMinter()
    chain.provider.set_balance(master, 10**20)
    usdc.configureMinter(accounts[1].address, 10**18, sender=accounts[master])
    usdc.mint(Web3.to_checksum_address(to), amount, sender=accounts[1])


def test_type1_each_size_class_on_the_fork(world, chain, accounts, usdc, w3) -> None:
    ledger, book, rec, engine = world
    small, medium, large = addr("small"), addr("medium"), addr("large")
    held, cold = addr("held"), addr("cold")
    # the ledger says these vaults hold USDC the chain does not have: $99.99, $100, $10,000.01
    credit(ledger, "USDC", f"vault:{small}", 9_999 * 10**4, "s")
    credit(ledger, "USDC", f"vault:{medium}", 100 * USDC_UNIT, "m")
    credit(ledger, "USDC", f"vault:{large}", 1_000_001 * 10**4, "l")
    # matching balances: real balanceOf and eth_getBalance readings
    mint_usdc(chain, accounts, usdc, held, 1_234 * USDC_UNIT)
    credit(ledger, "USDC", f"tier1:{held}", 1_234 * USDC_UNIT, "h")
    chain.provider.set_balance(Web3.to_checksum_address(held), 2 * 10**18 + 5)
    credit(ledger, "ETH", f"tier1:{held}", 2 * 10**18 + 5, "e")
    # a configured cold multisig the ledger has no account for holds 0.01 ETH ($30)
    chain.provider.set_balance(Web3.to_checksum_address(cold), 10**16)
    block = mine(w3)
    run = rec.run_type1(ChainReader(w3), run_key="t1", block=block, locations=[f"tier2:{cold}"])
    assert (run.status, run.block) == ("FAIL", block)
    got = {b.subject: b for b in book.breaks(run.id)}
    assert set(got) == {f"USDC vault:{small}", f"USDC vault:{medium}", f"USDC vault:{large}",
                        f"ETH tier2:{cold}"}
    auto, case, crit = (got[f"USDC vault:{x}"] for x in (small, medium, large))
    assert (auto.usd_cents, auto.size_class, auto.status) == (9_999, SizeClass.AUTO,
                                                              Status.AUTO_RESOLVED)
    assert (case.usd_cents, case.size_class, case.status) == (10_000, SizeClass.INVESTIGATE,
                                                              Status.OPEN)
    assert case.due_at is not None and (case.due_at - case.created_at).total_seconds() == 86_400
    assert (crit.usd_cents, crit.size_class, crit.status) == (1_000_001, SizeClass.CRITICAL,
                                                              Status.OPEN)
    coldb = got[f"ETH tier2:{cold}"]
    assert (coldb.difference, coldb.usd_cents, coldb.size_class) == (-10**16, -3_000,
                                                                     SizeClass.AUTO)
    exact = run.figures["exact"]
    assert exact["USDC"]["locations"][f"tier1:{held}"]["chain"] == str(1_234 * USDC_UNIT)
    assert exact["ETH"]["locations"][f"tier1:{held}"]["chain"] == str(2 * 10**18 + 5)
    # > $10K: new transactions halt until an authorised person resolves it with a note
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)
    book.resolve(case.id, RESOLVER, "timing: deposit in flight")
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)
    book.resolve(crit.id, RESOLVER, "ledger entry reversed after review, ticket 9")
    ensure_open_for_business(engine)


def test_type1_reads_the_chain_at_the_followers_block(world, chain, w3) -> None:
    ledger, book, rec, _ = world
    vault = addr("pinned-vault")
    chain.provider.set_balance(Web3.to_checksum_address(vault), 3 * 10**18)
    followed = mine(w3)
    mine(w3)  # anvil's balance setter edits the head's state: keep ``followed`` in history
    credit(ledger, "ETH", f"vault:{vault}", 3 * 10**18, "d")
    ledger.move_cursor([], expected=None, to=CursorState("vault", followed, "0x" + "00" * 32, 0))
    # the chain moves on past the follower: 1 ETH more arrives, not yet credited
    chain.provider.set_balance(Web3.to_checksum_address(vault), 4 * 10**18)
    head = mine(w3, 3)
    pinned = rec.run_type1(ChainReader(w3), run_key="pinned")
    assert (pinned.block, pinned.status) == (followed, "PASS")
    at_head = rec.run_type1(ChainReader(w3), run_key="head", cursor=None)
    assert at_head.block == head
    (brk,) = book.breaks(at_head.id)
    assert (brk.difference, brk.usd_cents, brk.size_class) == (-10**18, -300_000,
                                                               SizeClass.INVESTIGATE)


def test_type3_reserves_vs_usdc_and_usdt_supply(world, usdc, usdt, w3, corebank) -> None:
    _, book, rec, engine = world
    block = mine(w3)
    supply = RpcSupply(ChainReader(w3))
    usdc_supply, usdt_supply = supply.total_supply(usdc.address, block), supply.total_supply(
        usdt.address, block)
    assert usdc_supply == usdc.totalSupply() and usdt_supply == usdt.totalSupply()
    assert usdc_supply % 10**4 == 0 and usdt_supply % 10**4 == 0  # whole cents on this chain
    corebank.reserves = {"USDC": usdc_supply // 10**4, "USDT": usdt_supply // 10**4}
    ok = rec.run_type3(corebank, supply, block, run_key="t3-ok")
    assert ok.status == "PASS" and ok.figures["exact"]["USDC"]["supply"] == str(usdc_supply)
    corebank.reserves["USDT"] -= 1  # one cent short: 1:1 backing not proven
    bad = rec.run_type3(corebank, supply, block, run_key="t3-short")
    (brk,) = book.breaks(bad.id)
    assert (brk.kind, brk.asset, brk.difference, brk.usd_cents) == ("reserves", "USDT", -10**4,
                                                                    -1)
    assert brk.size_class is SizeClass.CRITICAL
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)
