"""Acceptance: zero-value spam, dust, a reorg re-including a withdrawal and a second follower
started alongside: every real deposit is credited exactly once and the ledger matches the chain.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from web3 import HTTPProvider, Web3

from keeper.chain import Follower, FollowerConfig
from keeper.chain.follower import CAUGHT_UP, LEASE_HELD
from keeper.ledger import Ledger
from strongroom_testkit import mine, revert, snapshot

pytestmark = pytest.mark.fork
ETH = "0x" + "00" * 20
USD = 10**6


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def op(n: int) -> bytes:
    return (7 * 10**6 + n).to_bytes(32, "big")


def cfg(vault, usdc, usdt, start: int, holder: str, **kw) -> FollowerConfig:
    return FollowerConfig(vault=vault.address, tokens={usdc.address: "USDC", usdt.address: "USDT"},
                          confirmations=0, start_block=start, holder=holder, **kw)


def eth(ledger: Ledger, client: str) -> int:
    return ledger.balance(ledger.client_account(client, "ETH")).credit_balance


def reorg_reincluding(w3, snap: str, resend, filler) -> None:
    """A real reorg: back to ``snap`` (taken before the withdrawal), a different block first
    (``filler``), the same withdrawal again (``resend``), then a longer chain than before.

    (anvil_reorg keeps the orphaned transactions' storage writes on this fork, so the re-sent
    withdrawal would revert with "op_id used"; a snapshot revert rewinds the state for real.)
    """
    old_head = w3.eth.block_number
    revert(w3, snap)
    filler()
    resend()
    mine(w3, max(1, old_head - w3.eth.block_number + 1))


def test_reorg_reincluding_a_withdrawal_settles_it_again_without_refund(
        w3, ledger, vault, usdc, usdt, who):
    ledger.register_client_ref(ref(1), "alice")
    alerts: list = []
    start = w3.eth.block_number + 1
    f = Follower(w3, ledger, cfg(vault, usdc, usdt, start, "k"),
                 on_alert=lambda k, m: alerts.append(k))
    vault.depositEth(ref(1), value=10 * 10**18, sender=who.depositor)
    f.run_until_synced()
    ledger.open_withdrawal_hold("0x" + op(1).hex(), "alice", "ETH", 3 * 10**18, vault.address)
    snap = snapshot(w3)

    def withdraw():
        return vault.withdraw(ETH, who.dest.address, 3 * 10**18, op(1), sender=who.admin)

    withdraw()
    mine(w3, 1)
    f.run_until_synced()
    assert eth(ledger, "alice") == 7 * 10**18
    reorg_reincluding(w3, snap, withdraw,
                      lambda: who.attacker.transfer(who.attacker, 1))
    f.run_until_synced()
    assert "reorg" in alerts
    assert eth(ledger, "alice") == 7 * 10**18  # settled again by op_id, never refunded
    bal = ledger.balance(ledger.client_account("alice", "ETH"))
    assert bal.debits_pending == 0  # the re-hold was settled, nothing left held
    assert ledger.balance(ledger.suspense_account("ETH")).credit_balance == 0
    om = ledger.balance(ledger.omnibus_account("ETH", f"vault:{vault.address.lower()}"))
    assert om.debits_posted - om.credits_posted == w3.eth.get_balance(vault.address)
    assert "unmatched_withdrawal" not in alerts
    assert ledger.verify_invariants() == []


def test_reorg_dropping_a_withdrawal_keeps_it_held_until_it_can_no_longer_execute(
        w3, ledger, vault, usdc, usdt, who):
    ledger.register_client_ref(ref(2), "bob")
    f = Follower(w3, ledger, cfg(vault, usdc, usdt, w3.eth.block_number + 1, "k"))
    vault.depositEth(ref(2), value=10 * 10**18, sender=who.depositor)
    f.run_until_synced()
    ledger.open_withdrawal_hold("0x" + op(2).hex(), "bob", "ETH", 4 * 10**18, vault.address)
    tx = vault.withdraw(ETH, who.dest.address, 4 * 10**18, op(2), sender=who.admin)
    f.run_until_synced()
    depth = w3.eth.block_number - tx.block_number + 1
    assert "error" not in w3.provider.make_request("anvil_reorg", [depth, []])
    w3.provider.make_request("anvil_mine", ["0x1"])
    f.run_until_synced()
    bal = ledger.balance(ledger.client_account("bob", "ETH"))
    assert bal.credit_balance == 10 * 10**18  # the settlement was undone...
    assert bal.available == 6 * 10**18  # ...but the operation may still execute: held again
    assert ledger.open_withdrawal_hold_id("0x" + op(2).hex()).startswith("withdrawal:0x")


def test_a_follower_taken_over_mid_step_commits_nothing(w3, ledger_url, vault, usdc, usdt, who):
    a, b = Ledger(ledger_url), Ledger(ledger_url)
    try:
        a.register_client_ref(ref(3), "carol")
        start = w3.eth.block_number + 1
        for _ in range(3):
            vault.depositEth(ref(3), value=10**18, sender=who.depositor)
        fa = Follower(w3, a, cfg(vault, usdc, usdt, start, "a", lease_seconds=0.000001))
        fb = Follower(w3, b, cfg(vault, usdc, usdt, start, "b"))
        real = fa._decode
        took_over: list[int] = []

        def decode_then_stall(logs, vaults, gen):
            took_over.append(fb.run_until_synced())  # a stalls past its lease; b takes over
            return real(logs, vaults, gen)

        fa._decode = decode_then_stall
        assert fa.step() == 0  # its commit was refused: the lease moved to b
        assert took_over == [3]
        assert fa.step() == LEASE_HELD
        assert eth(a, "carol") == 3 * 10**18  # once
        assert a.count_source_postings("vault") == 3
    finally:
        a.close()
        b.close()


@pytest.mark.slow
def test_acceptance_spam_reorged_withdrawal_and_a_second_follower_credit_once(
        w3, rpc_url, ledger_url, project, vault, usdc, usdt, who, fund_usd):
    rnd = random.Random(7)
    setup = Ledger(ledger_url)
    for c in range(3):
        setup.register_client_ref(ref(10 + c), f"c{c}")
    fund_usd(who.depositor.address, 100_000 * USD)
    fund_usd(who.attacker.address, 100 * USD)
    start = w3.eth.block_number + 1
    stop = threading.Event()
    errors: list[BaseException] = []

    def deposit_some(n: int) -> None:
        for _ in range(n):
            c = rnd.randrange(3)
            vault.depositEth(ref(10 + c), value=rnd.randint(1, 10**18), sender=who.depositor)
            if rnd.random() < 0.5:  # address poisoning and dust between deposits
                usdc.transferFrom(vault.address, who.attacker.address, 0, sender=who.attacker)
            if rnd.random() < 0.3:
                usdt.transfer(vault.address, rnd.randint(1, 99), sender=who.attacker)

    def keeper(holder: str) -> None:
        lg = Ledger(ledger_url)
        f = Follower(Web3(HTTPProvider(rpc_url)), lg,
                     cfg(vault, usdc, usdt, start, holder, lease_seconds=0.2, range_size=3))
        try:
            while not stop.is_set():
                if f.step() in (CAUGHT_UP, LEASE_HELD):
                    time.sleep(rnd.uniform(0, 0.3))  # sometimes longer than the lease
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            lg.close()

    deposit_some(10)
    threads = [threading.Thread(target=keeper, args=(h,)) for h in ("keeper-1", "keeper-2")]
    for t in threads:
        t.start()
    try:
        deposit_some(10)
        setup.open_withdrawal_hold("0x" + op(9).hex(), "c0", "ETH", 1, vault.address)
        snap = snapshot(w3)

        def withdraw():
            return vault.withdraw(ETH, who.dest.address, 1, op(9), sender=who.admin)

        withdraw()
        deposit_some(3)
        time.sleep(1)  # let the followers mirror the withdrawal before the reorg
        reorg_reincluding(w3, snap, withdraw, lambda: deposit_some(1))
        # the reorg dropped the deposits after the withdrawal: the canonical chain is the truth
        deposit_some(10)
        head = w3.eth.block_number
        deadline = time.monotonic() + 120
        while (setup.cursor("vault") is None or setup.cursor("vault").position < head) \
                and time.monotonic() < deadline and not errors:
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    final = Follower(w3, setup, cfg(vault, usdc, usdt, start, "final"))
    final.run_until_synced()
    om = setup.balance(setup.omnibus_account("ETH", f"vault:{vault.address.lower()}"))
    assert om.debits_posted - om.credits_posted == w3.eth.get_balance(vault.address)
    chain_by_client = {f"c{c}": 0 for c in range(3)}
    for log in vault.Deposit.range(start, w3.eth.block_number + 1):
        chain_by_client[f"c{int.from_bytes(log.client_ref, 'big') - 10}"] += log.amount
    chain_by_client["c0"] -= 1
    for client, amount in chain_by_client.items():
        assert eth(setup, client) == amount  # exactly once, as the canonical chain says
    usdt_in = setup.balance(setup.omnibus_account("USDT", f"vault:{vault.address.lower()}"))
    assert usdt_in.debits_posted - usdt_in.credits_posted == usdt.balanceOf(vault.address)
    assert setup.verify_invariants() == []
    setup.close()
