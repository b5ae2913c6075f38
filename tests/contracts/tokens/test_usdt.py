"""Behaviour of USDT (Tether's TetherToken, Solidity 0.4.17) as the custody system relies on it.

Written against the `usdt` fixture only: the owner is read from the token and impersonated,
holders are fresh accounts, and balances are compared as deltas, so the same tests run on the
local mainnet's stand-in and on a fork of the real Ethereum mainnet.

TetherToken's reverts carry no reason string. A failed `require` is a bare REVERT, which ape
reports as a ContractLogicError with its placeholder message "Transaction failed."; a failed
SafeMath `assert` is the INVALID opcode (0xfe), which anvil reports as "InvalidFEOpcode".
"""

from contextlib import contextmanager

import ape
import pytest
from ape.exceptions import ContractLogicError, VirtualMachineError
from token_helpers import act_as, args, fresh, snapshot

ONE_USDT = 10**6
MAX_UINT256 = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
BARE_REVERT = "Transaction failed."  # ape's message for a revert without data


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def bare_revert():
    """A Solidity 0.4 `require` failure: REVERT without any reason data."""
    with ape.reverts(BARE_REVERT) as info:
        yield info
    assert isinstance(info.value, ContractLogicError)


@contextmanager
def invalid_opcode():
    """A Solidity 0.4 SafeMath `assert` failure: the INVALID opcode, not a REVERT."""
    with pytest.raises(VirtualMachineError, match="InvalidFEOpcode") as info:
        yield info
    assert not isinstance(info.value, ContractLogicError)


def abi_outputs(usdt, name):
    return [abi.outputs for abi in usdt.contract_type.abi if getattr(abi, "name", None) == name]


@pytest.fixture
def owner(usdt, accounts, chain):
    return act_as(accounts, chain, usdt.owner())


@pytest.fixture
def alice(accounts, chain):
    return fresh(accounts, chain)


@pytest.fixture
def bob(accounts, chain):
    return fresh(accounts, chain)


@pytest.fixture
def no_fee(usdt, owner):
    """Make sure no transfer fee applies (the real token's current setting)."""
    if usdt.basisPointsRate() or usdt.maximumFee():
        usdt.setParams(0, 0, sender=owner)


@pytest.fixture
def funded_alice(usdt, owner, alice, no_fee):
    """Alice holding exactly 1,000 USDT, issued by the owner and handed over."""
    usdt.issue(1_000 * ONE_USDT, sender=owner)
    usdt.transfer(alice, 1_000 * ONE_USDT, sender=owner)
    return alice


# --- metadata and the missing return values --------------------------------------------------


def test_metadata_decimals_is_uint256(usdt):
    assert usdt.decimals() == 6
    assert abi_outputs(usdt, "decimals")[0][0].type == "uint256"
    assert usdt.symbol() == "USDT"
    assert usdt.name() == "Tether USD"


def test_transfer_transfer_from_approve_return_no_data(usdt, chain, funded_alice, bob):
    for name in ("transfer", "transferFrom", "approve"):
        assert abi_outputs(usdt, name) == [[]], name

    web3 = chain.provider.web3
    usdt.approve(bob, 10 * ONE_USDT, sender=funded_alice)
    calls = [
        (funded_alice, usdt.transfer.encode_input(bob.address, ONE_USDT)),
        (bob, usdt.transferFrom.encode_input(funded_alice.address, bob.address, ONE_USDT)),
        (funded_alice, usdt.approve.encode_input(bob.address, 0)),
    ]
    for sender, data in calls:
        # The call succeeds (a failure would raise) and returns zero bytes.
        raw = web3.eth.call({"from": sender.address, "to": usdt.address, "data": data})
        assert bytes(raw) == b""

    usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    usdt.transferFrom(funded_alice, bob, 2 * ONE_USDT, sender=bob)
    assert usdt.balanceOf(bob) == 3 * ONE_USDT
    assert usdt.allowance(funded_alice, bob) == 8 * ONE_USDT


# --- transfers -------------------------------------------------------------------------------


def test_transfer_more_than_balance_hits_invalid_opcode(usdt, funded_alice, bob):
    before = snapshot(usdt, funded_alice, bob)
    with invalid_opcode():
        usdt.transfer(bob, 1_000 * ONE_USDT + 1, sender=funded_alice)
    assert snapshot(usdt, funded_alice, bob) == before


def test_transfer_from_beyond_allowance_hits_invalid_opcode(usdt, funded_alice, bob):
    usdt.approve(bob, 5 * ONE_USDT, sender=funded_alice)
    before = snapshot(usdt, funded_alice, bob)
    with invalid_opcode():
        usdt.transferFrom(funded_alice, bob, 5 * ONE_USDT + 1, sender=bob)
    assert snapshot(usdt, funded_alice, bob) == before
    assert usdt.allowance(funded_alice, bob) == 5 * ONE_USDT


def test_infinite_allowance_is_not_decreased(usdt, funded_alice, bob):
    usdt.approve(bob, MAX_UINT256, sender=funded_alice)
    usdt.transferFrom(funded_alice, bob, 7 * ONE_USDT, sender=bob)
    assert usdt.allowance(funded_alice, bob) == MAX_UINT256
    assert usdt.balanceOf(bob) == 7 * ONE_USDT


def test_approve_non_zero_to_non_zero_reverts(usdt, alice, bob):
    tx = usdt.approve(bob, 100, sender=alice)
    assert [args(log) for log in tx.decode_logs(usdt.Approval)] == [
        [alice.address, bob.address, 100]
    ]
    with bare_revert():
        usdt.approve(bob, 200, sender=alice)
    assert usdt.allowance(alice, bob) == 100
    # Reset to zero first, then set: the documented way.
    usdt.approve(bob, 0, sender=alice)
    assert usdt.allowance(alice, bob) == 0
    usdt.approve(bob, 200, sender=alice)
    assert usdt.allowance(alice, bob) == 200


# --- fees ------------------------------------------------------------------------------------


def test_fee_params_limits(usdt, owner, alice):
    decimals = usdt.decimals()
    rate, cap = usdt.basisPointsRate(), usdt.maximumFee()
    with bare_revert():
        usdt.setParams(20, 0, sender=owner)  # basis points must be < 20
    with bare_revert():
        usdt.setParams(0, 50, sender=owner)  # max fee must be < 50 whole tokens
    with bare_revert():
        usdt.setParams(1, 1, sender=alice)  # owner only
    assert (usdt.basisPointsRate(), usdt.maximumFee()) == (rate, cap)

    tx = usdt.setParams(19, 49, sender=owner)
    assert usdt.basisPointsRate() == 19
    assert usdt.maximumFee() == 49 * 10**decimals
    assert [args(log) for log in tx.decode_logs(usdt.Params)] == [[19, 49 * 10**decimals]]


def test_fee_is_deducted_and_paid_to_owner(usdt, owner, funded_alice, bob, accounts, chain):
    usdt.setParams(10, 2, sender=owner)  # 0.1 %, capped at 2 USDT
    owner_before = usdt.balanceOf(owner)
    supply = usdt.totalSupply()

    tx = usdt.transfer(bob, 100 * ONE_USDT, sender=funded_alice)  # fee 0.1 USDT
    fee = 100 * ONE_USDT * 10 // 10_000
    assert usdt.balanceOf(funded_alice) == 900 * ONE_USDT
    assert usdt.balanceOf(bob) == 100 * ONE_USDT - fee
    assert usdt.balanceOf(owner) == owner_before + fee
    assert usdt.totalSupply() == supply
    assert [args(log) for log in tx.decode_logs(usdt.Transfer)] == [
        [funded_alice.address, owner.address, fee],
        [funded_alice.address, bob.address, 100 * ONE_USDT - fee],
    ]

    # 0.1 % of 800 USDT is 0.8 USDT, under the cap; via transferFrom the same fee applies.
    carol = fresh(accounts, chain)
    usdt.approve(carol, 800 * ONE_USDT, sender=funded_alice)
    usdt.transferFrom(funded_alice, carol, 800 * ONE_USDT, sender=carol)
    assert usdt.balanceOf(carol) == 800 * ONE_USDT - 800_000
    assert usdt.allowance(funded_alice, carol) == 0
    assert usdt.balanceOf(owner) == owner_before + fee + 800_000


def test_fee_is_capped_at_maximum_fee(usdt, owner, bob, no_fee, accounts, chain):
    whale = fresh(accounts, chain)
    usdt.issue(10_000 * ONE_USDT, sender=owner)
    usdt.transfer(whale, 10_000 * ONE_USDT, sender=owner)
    usdt.setParams(19, 1, sender=owner)  # 0.19 % but at most 1 USDT
    owner_before = usdt.balanceOf(owner)
    usdt.transfer(bob, 10_000 * ONE_USDT, sender=whale)  # 19 USDT uncapped
    assert usdt.balanceOf(bob) == 9_999 * ONE_USDT
    assert usdt.balanceOf(owner) == owner_before + ONE_USDT


# --- blacklist -------------------------------------------------------------------------------


def test_blacklist_freezes_sender(usdt, owner, funded_alice, bob):
    tx = usdt.addBlackList(funded_alice, sender=owner)
    assert [args(log) for log in tx.decode_logs(usdt.AddedBlackList)] == [[funded_alice.address]]
    assert usdt.isBlackListed(funded_alice)
    assert usdt.getBlackListStatus(funded_alice)

    usdt.approve(bob, 10 * ONE_USDT, sender=funded_alice)  # approve is not blocked
    before = snapshot(usdt, funded_alice, bob)
    with bare_revert():
        usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    with bare_revert():
        usdt.transferFrom(funded_alice, bob, ONE_USDT, sender=bob)
    assert snapshot(usdt, funded_alice, bob) == before

    usdt.removeBlackList(funded_alice, sender=owner)
    assert not usdt.isBlackListed(funded_alice)
    usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    assert usdt.balanceOf(bob) == ONE_USDT


def test_blacklisted_account_can_still_receive(usdt, owner, funded_alice, bob):
    # Only the sender is checked: funds sent to a blacklisted address land there, frozen.
    usdt.addBlackList(bob, sender=owner)
    usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    assert usdt.balanceOf(bob) == ONE_USDT


def test_only_owner_manages_blacklist(usdt, alice, bob):
    with bare_revert():
        usdt.addBlackList(bob, sender=alice)
    assert not usdt.isBlackListed(bob)


def test_destroy_black_funds(usdt, owner, funded_alice):
    supply = usdt.totalSupply()
    with bare_revert():  # only for blacklisted accounts
        usdt.destroyBlackFunds(funded_alice, sender=owner)
    assert snapshot(usdt, funded_alice) == [1_000 * ONE_USDT, supply]

    usdt.addBlackList(funded_alice, sender=owner)
    tx = usdt.destroyBlackFunds(funded_alice, sender=owner)
    assert usdt.balanceOf(funded_alice) == 0
    assert usdt.totalSupply() == supply - 1_000 * ONE_USDT
    assert [args(log) for log in tx.decode_logs(usdt.DestroyedBlackFunds)] == [
        [funded_alice.address, 1_000 * ONE_USDT]
    ]
    assert tx.decode_logs(usdt.Transfer) == []


# --- pause -----------------------------------------------------------------------------------


def test_pause_stops_transfers(usdt, owner, funded_alice, bob):
    usdt.approve(bob, 10 * ONE_USDT, sender=funded_alice)
    tx = usdt.pause(sender=owner)
    assert len(tx.decode_logs(usdt.Pause)) == 1
    assert usdt.paused()
    with bare_revert():
        usdt.pause(sender=owner)  # whenNotPaused

    before = snapshot(usdt, funded_alice, bob)
    with bare_revert():
        usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    with bare_revert():
        usdt.transferFrom(funded_alice, bob, ONE_USDT, sender=bob)
    assert snapshot(usdt, funded_alice, bob) == before
    # approve is not pausable in TetherToken.
    usdt.approve(bob, 0, sender=funded_alice)
    assert usdt.allowance(funded_alice, bob) == 0

    usdt.unpause(sender=owner)
    assert not usdt.paused()
    with bare_revert():
        usdt.unpause(sender=owner)  # whenPaused
    usdt.transfer(bob, ONE_USDT, sender=funded_alice)
    assert usdt.balanceOf(bob) == ONE_USDT


def test_only_owner_pauses(usdt, alice):
    with bare_revert():
        usdt.pause(sender=alice)
    assert not usdt.paused()


# --- issue / redeem / ownership --------------------------------------------------------------


def test_issue_and_redeem(usdt, owner):
    balance, supply = usdt.balanceOf(owner), usdt.totalSupply()
    tx = usdt.issue(500 * ONE_USDT, sender=owner)
    assert usdt.balanceOf(owner) == balance + 500 * ONE_USDT
    assert usdt.totalSupply() == supply + 500 * ONE_USDT
    assert [args(log) for log in tx.decode_logs(usdt.Issue)] == [[500 * ONE_USDT]]
    assert tx.decode_logs(usdt.Transfer) == []  # no Transfer event for issuance

    tx = usdt.redeem(200 * ONE_USDT, sender=owner)
    assert usdt.balanceOf(owner) == balance + 300 * ONE_USDT
    assert usdt.totalSupply() == supply + 300 * ONE_USDT
    assert [args(log) for log in tx.decode_logs(usdt.Redeem)] == [[200 * ONE_USDT]]


def test_issue_and_redeem_limits(usdt, owner, alice):
    before = snapshot(usdt, owner)
    with bare_revert():
        usdt.issue(ONE_USDT, sender=alice)  # owner only
    with bare_revert():
        usdt.redeem(usdt.balanceOf(owner) + 1, sender=owner)  # more than the owner holds
    with bare_revert():
        usdt.issue(0, sender=owner)  # require(_totalSupply + amount > _totalSupply)
    assert snapshot(usdt, owner) == before


def test_transfer_ownership(usdt, owner, alice):
    usdt.transferOwnership(ZERO, sender=owner)  # silently ignored
    assert usdt.owner() == owner
    with bare_revert():
        usdt.transferOwnership(alice, sender=alice)
    usdt.transferOwnership(alice, sender=owner)
    assert usdt.owner() == alice
    assert usdt.getOwner() == alice
