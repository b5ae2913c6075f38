"""Follower on the fork: SIGKILL during backfill, ERC-20 deposits, a reorg deeper than confirmations."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keeper.chain import Follower, FollowerConfig
from keeper.ledger import Ledger, TransferSpec
from scripts.deployments import deploy_system, local_config

pytestmark = pytest.mark.fork
HELPER = Path(__file__).with_name("follower_proc.py")
ROOT = Path(__file__).resolve().parents[3]


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def mine(w3, n: int) -> None:
    w3.provider.make_request("anvil_mine", [hex(n)])


@pytest.fixture
def eth_vault(vault):
    return vault


def deposit_count(ledger: Ledger, source: str = "vault") -> int:
    return ledger.count_source_postings(source)


def test_sigkill_at_random_moments_during_backfill_loses_and_doubles_nothing(
        w3, rpc_url, ledger_url, ledger, eth_vault, accounts):
    rnd = random.Random(2024)
    for c in range(3):
        ledger.register_client_ref(ref(500 + c), f"s{c}")
    start = w3.eth.block_number + 1
    expected: dict[str, int] = {}
    n_deposits = 40
    for _ in range(n_deposits):  # one block each (automine)
        c = rnd.randrange(3)
        amt = rnd.randint(1, 10**18)
        eth_vault.depositEth(ref(500 + c), value=amt, sender=accounts[5 + c])
        expected[f"s{c}"] = expected.get(f"s{c}", 0) + amt
    cmd = [sys.executable, str(HELPER), rpc_url, ledger_url, eth_vault.address, str(start), "1"]
    kills, positions = 0, []
    t0 = time.monotonic()
    for _ in range(6):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                cwd=ROOT)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            for _ in range(rnd.randint(0, 5)):  # let a few steps commit, then kill mid-step
                if not proc.stdout.readline():
                    break
            time.sleep(rnd.uniform(0, 0.03))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            proc.wait(timeout=30)
        cur = Follower(w3, ledger, FollowerConfig(vault=eth_vault.address)).cursor()
        positions.append(cur[0] if cur else start - 1)
    assert kills >= 4, kills
    assert positions[-1] < w3.eth.block_number, "the kills must land before the backfill ended"
    assert positions == sorted(positions)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "synced" in done.stdout, done.stderr[-2000:]
    assert time.monotonic() - t0 < 60
    for client, amt in expected.items():
        assert ledger.balance(ledger.client_account(client, "ETH")).credit_balance == amt
    om = ledger.balance(ledger.omnibus_account("ETH", f"vault:{eth_vault.address.lower()}"))
    assert om.debits_posted - om.credits_posted == w3.eth.get_balance(eth_vault.address)
    assert deposit_count(ledger) == n_deposits  # nothing doubled, nothing lost
    assert ledger.verify_invariants() == []


def _impersonate(accounts, chain, address):
    chain.provider.set_balance(address, 10**20)
    return accounts[address]


def test_usdc_and_usdt_deposits_are_mirrored(project, accounts, chain, w3, ledger, usdc, usdt,
                                             tmp_path):
    record = deploy_system(accounts[0], local_config(), path=tmp_path / "d.json")
    vault = project.Vault.at(record["addresses"]["vault"])
    tokens = {addr: sym for sym, addr in record["tokens"].items()}
    alice, bob = accounts[6], accounts[7]
    ledger.register_client_ref(ref(61), "alice")
    ledger.register_client_ref(ref(62), "bob")
    start = w3.eth.block_number + 1
    # USDC: the master minter allows a minter, which mints to the depositor
    master = _impersonate(accounts, chain, usdc.masterMinter())
    minter = accounts[8]
    usdc.configureMinter(minter.address, 10**15, sender=master)
    usdc.mint(alice.address, 5_000 * 10**6, sender=minter)
    usdc_before = usdc.balanceOf(vault.address)
    usdc.approve(vault.address, 1_234_567_890, sender=alice)
    vault.deposit(usdc.address, 1_234_567_890, ref(61), sender=alice)
    # USDT: the owner issues, charges a transfer fee; approve returns nothing
    owner = _impersonate(accounts, chain, usdt.owner())
    usdt.issue(10_000 * 10**6, sender=owner)
    usdt.transfer(bob.address, 10_000 * 10**6, sender=owner)
    usdt.setParams(10, 5, sender=owner)  # 0.10 % fee, at most 5 USDT
    usdt_before = usdt.balanceOf(vault.address)
    usdt.approve(vault.address, 3_000 * 10**6, sender=bob)
    tx = vault.deposit(usdt.address, 3_000 * 10**6, ref(62), sender=bob)
    received = usdt.balanceOf(vault.address) - usdt_before
    assert received == 3_000 * 10**6 - 3 * 10**6  # 0.1 % of 3,000 USDT
    assert [log.amount for log in tx.decode_logs(vault.Deposit)] == [received]
    usdt.setParams(0, 0, sender=owner)
    alerts: list = []
    f = Follower(w3, ledger, FollowerConfig(vault=vault.address, tokens=tokens, confirmations=0,
                                            start_block=start),
                 on_alert=lambda k, m: alerts.append((k, m)))
    f.run_until_synced()
    assert ledger.client_balances("alice")["USDC"].credit_balance == 1_234_567_890
    assert ledger.client_balances("bob")["USDT"].credit_balance == received
    loc = f"vault:{vault.address.lower()}"
    for sym, token, before in (("USDC", usdc, usdc_before), ("USDT", usdt, usdt_before)):
        om = ledger.balance(ledger.omnibus_account(sym, loc))
        assert om.debits_posted - om.credits_posted == token.balanceOf(vault.address) - before
    assert alerts == []  # the token Transfer logs are explained by the Deposit events
    assert ledger.verify_invariants() == []


def test_reorg_deeper_than_confirmations_after_spend_goes_to_suspense(w3, ledger, eth_vault,
                                                                      accounts):
    ledger.register_client_ref(ref(71), "spender")
    alerts: list = []
    f = Follower(w3, ledger, FollowerConfig(vault=eth_vault.address, confirmations=0,
                                            start_block=w3.eth.block_number - 1),
                 on_alert=lambda k, m: alerts.append((k, m)))
    vault_before = w3.eth.get_balance(eth_vault.address)
    tx = eth_vault.depositEth(ref(71), value=7 * 10**17, sender=accounts[3])
    mine(w3, 1)
    f.run_until_synced()
    spender = ledger.client_account("spender", "ETH")
    payee = ledger.client_account("payee", "ETH")
    ledger.post(TransferSpec("spend-1", spender, payee, 5 * 10**17))  # the client spends it
    depth = w3.eth.block_number - tx.block_number + 1
    assert "error" not in w3.provider.make_request("anvil_reorg", [depth, []])
    mine(w3, 1)
    f.run_until_synced()  # no exception: the shortfall is parked, not retried forever
    assert ledger.balance(spender).credit_balance == 0
    assert ledger.balance(payee).credit_balance == 5 * 10**17
    assert ledger.balance(ledger.suspense_account("ETH")).credit_balance == -5 * 10**17
    om = ledger.balance(ledger.omnibus_account("ETH", f"vault:{eth_vault.address.lower()}"))
    assert om.debits_posted - om.credits_posted == 0 == \
        w3.eth.get_balance(eth_vault.address) - vault_before
    assert [k for k, _ in alerts] == ["reorg_shortfall", "reorg"]
    assert "reorg_shortfall" in [a[0] for a in ledger.alerts()]
    assert ledger.verify_invariants() == []
    f.run_until_synced()  # stable afterwards
    assert ledger.balance(spender).credit_balance == 0
