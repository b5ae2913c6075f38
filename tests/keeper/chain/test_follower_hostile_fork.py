"""What an outsider can make a token or the vault emit never halts or fools the follower.

Zero-value ``transferFrom(vault, x, 0)`` (address poisoning), dust, settlements above their hold,
expired holds, USDT's fee split, ``destroyBlackFunds`` and vault migrations: every real deposit
is credited once, the cursor reaches the head and the omnibus matches the chain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from chainworld import deploy_vault, usdt_owner

from keeper.chain import Follower, FollowerConfig
from keeper.ledger import Kind, TransferSpec

pytestmark = pytest.mark.fork
USD = 10**6
ETH = "0x" + "00" * 20


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def op(n: int) -> str:
    return "0x" + (10**6 + n).to_bytes(32, "big").hex()


def follower(w3, ledger, vault, usdc, usdt, alerts: list, start: int | None = None) -> Follower:
    cfg = FollowerConfig(vault=vault.address, confirmations=0,
                         tokens={usdc.address: "USDC", usdt.address: "USDT"},
                         start_block=w3.eth.block_number + 1 if start is None else start,
                         holder="test-keeper")
    return Follower(w3, ledger, cfg, on_alert=lambda k, m: alerts.append((k, m)))


def held(ledger, asset: str, vault) -> int:
    b = ledger.balance(ledger.omnibus_account(asset, f"vault:{vault.address.lower()}"))
    return b.debits_posted - b.credits_posted


def client(ledger, name: str, asset: str) -> int:
    return ledger.balance(ledger.client_account(name, asset)).credit_balance


def suspense(ledger, asset: str) -> int:
    return ledger.balance(ledger.suspense_account(asset)).credit_balance


def deposit_usd(vault, token, who, amount: int, client_ref: bytes) -> None:
    token.approve(vault.address, 0, sender=who)
    token.approve(vault.address, amount, sender=who)
    vault.deposit(token.address, amount, client_ref, sender=who)


def test_zero_value_and_dust_transfers_never_block_later_deposits(
        w3, ledger, vault, usdc, usdt, who, fund_usd):
    fund_usd(who.depositor.address, 10_000 * USD)
    fund_usd(who.attacker.address, 10 * USD)
    ledger.register_client_ref(ref(1), "alice")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    deposit_usd(vault, usdc, who.depositor, 1_000 * USD, ref(1))
    # address poisoning: zero-value transferFrom out of the vault, on both stablecoins
    usdc.transferFrom(vault.address, who.attacker.address, 0, sender=who.attacker)
    usdt.transferFrom(vault.address, who.attacker.address, 0, sender=who.attacker)
    usdc.transfer(vault.address, 1, sender=who.attacker)  # dust, no Deposit
    deposit_usd(vault, usdt, who.depositor, 2_000 * USD, ref(1))
    f.run_until_synced()
    assert f.cursor()[0] == w3.eth.block_number  # the cursor passed every spam block
    assert client(ledger, "alice", "USDC") == 1_000 * USD
    assert client(ledger, "alice", "USDT") == 2_000 * USD
    assert suspense(ledger, "USDC") == 1  # the dust, parked
    kinds = [k for k, _ in alerts]
    assert kinds.count("ignored_zero_value") == 2
    assert "unattributed_transfer_in" in kinds
    assert {a[0] for a in ledger.alerts()} >= {"ignored_zero_value", "unattributed_transfer_in"}
    assert held(ledger, "USDC", vault) == usdc.balanceOf(vault.address)
    assert held(ledger, "USDT", vault) == usdt.balanceOf(vault.address)
    assert "balance_mismatch" not in kinds
    assert ledger.verify_invariants() == []


def test_settlement_above_its_hold_and_on_an_expired_hold_never_block(
        w3, ledger, vault, usdc, usdt, who):
    ledger.register_client_ref(ref(2), "bob")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    vault.depositEth(ref(2), value=10 * 10**18, sender=who.depositor)
    f.run_until_synced()
    ledger.open_withdrawal_hold(op(1), "bob", "ETH", 10**18, vault.address)
    bob = ledger.client_account("bob", "ETH")
    om = ledger.omnibus_account("ETH", f"vault:{vault.address.lower()}")
    past = datetime.now(UTC) - timedelta(seconds=1)
    ledger.post(TransferSpec(f"withdrawal:{op(2)}", bob, om, 10**18, Kind.PENDING,
                             expires_at=past))
    vault.withdraw(ETH, who.dest.address, 2 * 10**18, bytes.fromhex(op(1)[2:]), sender=who.admin)
    vault.withdraw(ETH, who.dest.address, 10**18, bytes.fromhex(op(2)[2:]), sender=who.admin)
    vault.depositEth(ref(2), value=5, sender=who.depositor)  # a later deposit still lands
    f.run_until_synced()
    assert f.cursor()[0] == w3.eth.block_number
    # op 1: the hold (1 ETH) settled in full, the extra ETH it paid parked in suspense
    assert ledger.hold(f"withdrawal:{op(1)}").resolved
    # op 2: its hold expired, the payment is parked in suspense; the hold still frees on expiry
    assert client(ledger, "bob", "ETH") == 9 * 10**18 + 5
    assert suspense(ledger, "ETH") == -2 * 10**18
    assert held(ledger, "ETH", vault) == w3.eth.get_balance(vault.address)
    kinds = [k for k, _ in alerts]
    assert "withdrawal_exceeds_hold" in kinds and "unmatched_withdrawal" in kinds
    assert ledger.expire_holds() == 1
    assert ledger.balance(bob).available == 9 * 10**18 + 5
    assert ledger.verify_invariants() == []


def test_cancelled_and_expired_queued_withdrawals_void_their_hold(w3, project, ledger, usdc,
                                                                  usdt, who):
    vault = deploy_vault(project, w3, who, queue_threshold=10**18)
    ledger.register_client_ref(ref(3), "carol")
    f = follower(w3, ledger, vault, usdc, usdt, [])
    vault.depositEth(ref(3), value=10 * 10**18, sender=who.depositor)
    f.run_until_synced()
    for n in (3, 4):
        ledger.open_withdrawal_hold(op(n), "carol", "ETH", 2 * 10**18, vault.address)
        vault.withdraw(ETH, who.dest.address, 2 * 10**18, bytes.fromhex(op(n)[2:]),
                       sender=who.admin)
    carol = ledger.client_account("carol", "ETH")
    assert ledger.balance(carol).available == 6 * 10**18
    vault.cancelWithdrawal(bytes.fromhex(op(3)[2:]), sender=who.compliance)
    f.run_until_synced()
    assert ledger.balance(carol).available == 8 * 10**18  # op 3 voided, op 4 still held
    w3.provider.make_request("evm_increaseTime", [9 * 86400])
    w3.provider.make_request("anvil_mine", ["0x1"])
    vault.expireWithdrawal(bytes.fromhex(op(4)[2:]), sender=who.attacker)
    f.run_until_synced()
    assert ledger.balance(carol).available == 10 * 10**18
    assert ledger.hold(f"withdrawal:{op(4)}").resolved
    assert ledger.verify_invariants() == []


def test_withdrawal_hold_outlives_the_queue_delay_and_grace(ledger):
    ledger.post(TransferSpec("seed", ledger.suspense_account("ETH"),
                             ledger.client_account("dave", "ETH"), 10))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.open_withdrawal_hold(op(5), "dave", "ETH", 7, "0x" + "11" * 20, now=now)
    hold = ledger.hold(f"withdrawal:{op(5)}")
    assert hold.amount == 7 and not hold.resolved
    assert hold.expires_at > now + timedelta(days=8)  # 24 h queue + 7-day grace, then some
    assert ledger.expire_holds(now + timedelta(days=8)) == 0
    assert ledger.expire_holds(now + timedelta(days=30)) == 1


def test_usdt_fee_split_of_withdrawals_and_sweeps_is_explained(
        w3, chain, accounts, ledger, vault, usdc, usdt, who, fund_usd):
    fund_usd(who.depositor.address, 10_000 * USD)
    ledger.register_client_ref(ref(6), "erin")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    deposit_usd(vault, usdt, who.depositor, 5_000 * USD, ref(6))
    f.run_until_synced()
    owner = usdt_owner(accounts, chain, usdt)
    usdt.setParams(10, 5, sender=owner)  # 0.10 %, at most 5 USDT, paid to the owner
    ledger.open_withdrawal_hold(op(6), "erin", "USDT", 1_000 * USD, vault.address)
    tx = vault.withdraw(usdt.address, who.dest.address, 1_000 * USD, bytes.fromhex(op(6)[2:]),
                        sender=who.admin)
    assert [e.received for e in tx.decode_logs(vault.Withdrawal)] == [999 * USD]
    vault.sweep(usdt.address, 2_000 * USD, 1, sender=who.admin)
    usdt.setParams(0, 0, sender=owner)
    f.run_until_synced()
    assert client(ledger, "erin", "USDT") == 4_000 * USD
    tier = ledger.balance(ledger.omnibus_account("USDT", f"tier1:{who.warm.address.lower()}"))
    assert tier.debits_posted == 2_000 * USD  # units that left the vault
    assert held(ledger, "USDT", vault) == usdt.balanceOf(vault.address) == 2_000 * USD
    assert [k for k, _ in alerts] == []  # both fee transfers explained by their vault event
    assert ledger.verify_invariants() == []


def test_destroyed_black_funds_leave_the_omnibus_with_an_alert(
        w3, chain, accounts, ledger, vault, usdc, usdt, who, fund_usd):
    fund_usd(who.depositor.address, 10_000 * USD)
    ledger.register_client_ref(ref(7), "frank")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    deposit_usd(vault, usdt, who.depositor, 3_000 * USD, ref(7))
    owner = usdt_owner(accounts, chain, usdt)
    usdt.addBlackList(vault.address, sender=owner)
    usdt.destroyBlackFunds(vault.address, sender=owner)
    f.run_until_synced()
    assert usdt.balanceOf(vault.address) == 0
    assert held(ledger, "USDT", vault) == 0
    assert client(ledger, "frank", "USDT") == 3_000 * USD  # the claim stands; the loss is ours
    assert suspense(ledger, "USDT") == -3_000 * USD
    assert [k for k, _ in alerts] == ["funds_destroyed"]
    assert ledger.verify_invariants() == []


def test_a_balance_moved_without_any_event_is_alerted(w3, ledger, vault, usdc, usdt, who):
    ledger.register_client_ref(ref(8), "gina")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    vault.depositEth(ref(8), value=10**18, sender=who.depositor)
    f.run_until_synced()
    assert alerts == []
    # ETH arriving without a call (selfdestruct / coinbase style): no log at all
    w3.provider.make_request("anvil_setBalance", [vault.address, hex(3 * 10**18)])
    w3.provider.make_request("anvil_mine", ["0x1"])
    f.run_until_synced()
    assert [k for k, _ in alerts] == ["balance_mismatch"]
    assert "difference 2000000000000000000" in alerts[0][1]
    assert "balance_mismatch" in [a[0] for a in ledger.alerts()]
    w3.provider.make_request("anvil_mine", ["0x1"])
    f.run_until_synced()
    assert len(alerts) == 1  # the same difference is alerted once, not every range


def test_migration_moves_the_omnibus_and_the_follower_follows_the_successor(
        w3, project, ledger, vault, usdc, usdt, who, fund_usd):
    fund_usd(who.depositor.address, 10_000 * USD)
    ledger.register_client_ref(ref(9), "hana")
    alerts: list = []
    f = follower(w3, ledger, vault, usdc, usdt, alerts)
    vault.depositEth(ref(9), value=4 * 10**18, sender=who.depositor)
    deposit_usd(vault, usdc, who.depositor, 1_000 * USD, ref(9))
    new = deploy_vault(project, w3, who, predecessor=vault)
    vault.migrate(new.address, [usdc.address, usdt.address], sender=who.admin)
    new.depositEth(ref(9), value=10**18, sender=who.depositor)
    f.run_until_synced()
    assert client(ledger, "hana", "ETH") == 5 * 10**18
    assert client(ledger, "hana", "USDC") == 1_000 * USD
    for asset, token_balance in (("ETH", w3.eth.get_balance), ("USDC", usdc.balanceOf)):
        assert held(ledger, asset, vault) == token_balance(vault.address) == 0
        assert held(ledger, asset, new) == token_balance(new.address)
    assert set(k for k, _ in alerts) <= {"ignored_zero_value"}  # USDT moved nothing
    # a restarted keeper, now configured with the successor, still follows both vaults
    g = follower(w3, ledger, new, usdc, usdt, alerts)
    deposit_usd(new, usdc, who.depositor, 500 * USD, ref(9))
    usdc.transfer(vault.address, 7, sender=who.depositor)  # late funds at the old vault
    vault.rescue(usdc.address, sender=who.attacker)  # anyone can forward them to the successor
    g.run_until_synced()
    assert client(ledger, "hana", "USDC") == 1_500 * USD
    assert held(ledger, "USDC", new) == usdc.balanceOf(new.address) == 1_500 * USD + 7
    assert suspense(ledger, "USDC") == 7
    assert ledger.verify_invariants() == []
