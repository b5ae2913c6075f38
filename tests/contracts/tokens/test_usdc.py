"""Behaviour of USDC (Circle FiatTokenV2_2) as the custody system relies on it.

Written against the `usdc` fixture only: roles are read from the token and impersonated,
holders are fresh accounts, and every balance check is a delta, so the same tests run on the
local mainnet's stand-in and on a fork of the real Ethereum mainnet.
"""

import ape
import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from token_helpers import act_as, args, fresh, snapshot

ONE_USDC = 10**6
MAX_UINT256 = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
BLACKLISTED = "Blacklistable: account is blacklisted"
PAUSED = "Pausable: paused"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def master_minter(usdc, accounts, chain):
    return act_as(accounts, chain, usdc.masterMinter())


@pytest.fixture
def pauser(usdc, accounts, chain):
    return act_as(accounts, chain, usdc.pauser())


@pytest.fixture
def blacklister(usdc, accounts, chain):
    return act_as(accounts, chain, usdc.blacklister())


@pytest.fixture
def owner(usdc, accounts, chain):
    return act_as(accounts, chain, usdc.owner())


@pytest.fixture
def minter(usdc, accounts, chain, master_minter):
    """A freshly configured minter allowed to mint 1,000,000 USDC."""
    account = fresh(accounts, chain)
    usdc.configureMinter(account, 1_000_000 * ONE_USDC, sender=master_minter)
    return account


@pytest.fixture
def alice(accounts, chain):
    return fresh(accounts, chain)


@pytest.fixture
def bob(accounts, chain):
    return fresh(accounts, chain)


@pytest.fixture
def funded_alice(usdc, minter, alice):
    """Alice holding exactly 1,000 USDC."""
    usdc.mint(alice, 1_000 * ONE_USDC, sender=minter)
    return alice


def domain(usdc, chain):
    return {
        "name": usdc.name(),
        "version": "2",
        "chainId": chain.chain_id,
        "verifyingContract": usdc.address,
    }


def sign_typed(key, usdc, chain, primary, types, message):
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: types,
        },
        "primaryType": primary,
        "domain": domain(usdc, chain),
        "message": message,
    }
    signed = Account.sign_message(encode_typed_data(full_message=typed), key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


PERMIT_TYPES = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
AUTH_TYPES = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


def sign_permit(key, usdc, chain, owner, spender, value, nonce, deadline):
    message = {
        "owner": owner, "spender": spender, "value": value, "nonce": nonce, "deadline": deadline,
    }
    return sign_typed(key, usdc, chain, "Permit", PERMIT_TYPES, message)


def sign_auth(key, usdc, chain, primary, sender, to, value, valid_after, valid_before, nonce):
    message = {
        "from": sender, "to": to, "value": value,
        "validAfter": valid_after, "validBefore": valid_before, "nonce": nonce,
    }
    return sign_typed(key, usdc, chain, primary, AUTH_TYPES, message)


# --- metadata --------------------------------------------------------------------------------


def test_metadata_six_decimals_and_version(usdc):
    assert usdc.decimals() == 6
    assert usdc.version() == "2"
    assert usdc.currency() == "USD"
    assert usdc.symbol() == "USDC"
    assert usdc.name() == "USD Coin"


def test_domain_separator_is_eip712_of_name_version_chain_and_address(usdc, chain):
    type_hash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [type_hash, keccak(text=usdc.name()), keccak(text="2"), chain.chain_id, usdc.address],
        )
    )
    assert usdc.DOMAIN_SEPARATOR() == expected
    assert usdc.PERMIT_TYPEHASH() == keccak(
        text="Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    )


def test_token_contract_itself_is_blacklisted(usdc, funded_alice):
    # FiatTokenV2_1/2_2 blacklist the token's own address: tokens sent to it would be lost.
    assert usdc.isBlacklisted(usdc.address)
    before = snapshot(usdc, funded_alice)
    with ape.reverts(BLACKLISTED):
        usdc.transfer(usdc.address, ONE_USDC, sender=funded_alice)
    assert snapshot(usdc, funded_alice) == before


# --- minting ---------------------------------------------------------------------------------


def test_master_minter_configures_minter_and_mint_consumes_allowance(
    usdc, accounts, chain, master_minter, alice
):
    minter = fresh(accounts, chain)
    assert not usdc.isMinter(minter)
    tx = usdc.configureMinter(minter, 500 * ONE_USDC, sender=master_minter)
    assert [args(log) for log in tx.decode_logs(usdc.MinterConfigured)] == [
        [minter.address, 500 * ONE_USDC]
    ]
    assert usdc.isMinter(minter)
    assert usdc.minterAllowance(minter) == 500 * ONE_USDC

    supply = usdc.totalSupply()
    tx = usdc.mint(alice, 200 * ONE_USDC, sender=minter)
    assert usdc.balanceOf(alice) == 200 * ONE_USDC
    assert usdc.totalSupply() == supply + 200 * ONE_USDC
    assert usdc.minterAllowance(minter) == 300 * ONE_USDC
    assert [args(log) for log in tx.decode_logs(usdc.Mint)] == [
        [minter.address, alice.address, 200 * ONE_USDC]
    ]
    assert [args(log) for log in tx.decode_logs(usdc.Transfer)] == [
        [ZERO, alice.address, 200 * ONE_USDC]
    ]


def test_mint_beyond_minter_allowance_reverts(usdc, minter, alice):
    allowance = usdc.minterAllowance(minter)
    before = snapshot(usdc, alice)
    with ape.reverts("FiatToken: mint amount exceeds minterAllowance"):
        usdc.mint(alice, allowance + 1, sender=minter)
    assert snapshot(usdc, alice) == before
    assert usdc.minterAllowance(minter) == allowance


def test_mint_zero_and_mint_to_zero_address_revert(usdc, minter, alice):
    before = snapshot(usdc, alice)
    with ape.reverts("FiatToken: mint amount not greater than 0"):
        usdc.mint(alice, 0, sender=minter)
    with ape.reverts("FiatToken: mint to the zero address"):
        usdc.mint(ZERO, ONE_USDC, sender=minter)
    assert snapshot(usdc, alice) == before


def test_only_master_minter_configures_minters(usdc, alice, bob):
    with ape.reverts("FiatToken: caller is not the masterMinter"):
        usdc.configureMinter(bob, ONE_USDC, sender=alice)
    assert not usdc.isMinter(bob)
    assert usdc.minterAllowance(bob) == 0


def test_non_minter_cannot_mint(usdc, alice, bob):
    before = snapshot(usdc, bob)
    with ape.reverts("FiatToken: caller is not a minter"):
        usdc.mint(bob, ONE_USDC, sender=alice)
    assert snapshot(usdc, bob) == before


def test_remove_minter_revokes_minting(usdc, master_minter, minter, alice):
    tx = usdc.removeMinter(minter, sender=master_minter)
    assert [args(log) for log in tx.decode_logs(usdc.MinterRemoved)] == [[minter.address]]
    assert not usdc.isMinter(minter)
    assert usdc.minterAllowance(minter) == 0
    before = snapshot(usdc, alice)
    with ape.reverts("FiatToken: caller is not a minter"):
        usdc.mint(alice, ONE_USDC, sender=minter)
    assert snapshot(usdc, alice) == before


def test_burn_destroys_minters_own_balance(usdc, minter):
    usdc.mint(minter, 10 * ONE_USDC, sender=minter)
    supply = usdc.totalSupply()
    tx = usdc.burn(4 * ONE_USDC, sender=minter)
    assert usdc.balanceOf(minter) == 6 * ONE_USDC
    assert usdc.totalSupply() == supply - 4 * ONE_USDC
    assert [args(log) for log in tx.decode_logs(usdc.Burn)] == [[minter.address, 4 * ONE_USDC]]
    assert [args(log) for log in tx.decode_logs(usdc.Transfer)] == [
        [minter.address, ZERO, 4 * ONE_USDC]
    ]


def test_burn_more_than_balance_or_by_non_minter_reverts(usdc, minter, funded_alice):
    usdc.mint(minter, ONE_USDC, sender=minter)
    before = snapshot(usdc, minter, funded_alice)
    with ape.reverts("FiatToken: burn amount exceeds balance"):
        usdc.burn(ONE_USDC + 1, sender=minter)
    with ape.reverts("FiatToken: burn amount not greater than 0"):
        usdc.burn(0, sender=minter)
    with ape.reverts("FiatToken: caller is not a minter"):
        usdc.burn(ONE_USDC, sender=funded_alice)
    assert snapshot(usdc, minter, funded_alice) == before


# --- transfers and allowances ----------------------------------------------------------------


def test_transfer_returns_true_and_moves_balance(usdc, funded_alice, bob):
    assert usdc.transfer.call(bob, ONE_USDC, sender=funded_alice) is True
    tx = usdc.transfer(bob, 3 * ONE_USDC, sender=funded_alice)
    assert usdc.balanceOf(funded_alice) == 997 * ONE_USDC
    assert usdc.balanceOf(bob) == 3 * ONE_USDC
    assert [args(log) for log in tx.decode_logs(usdc.Transfer)] == [
        [funded_alice.address, bob.address, 3 * ONE_USDC]
    ]


def test_transfer_more_than_balance_reverts(usdc, funded_alice, bob):
    before = snapshot(usdc, funded_alice, bob)
    with ape.reverts("ERC20: transfer amount exceeds balance"):
        usdc.transfer(bob, 1_000 * ONE_USDC + 1, sender=funded_alice)
    with ape.reverts("ERC20: transfer to the zero address"):
        usdc.transfer(ZERO, ONE_USDC, sender=funded_alice)
    assert snapshot(usdc, funded_alice, bob) == before


def test_transfer_from_spends_allowance(usdc, funded_alice, bob):
    usdc.approve(bob, 10 * ONE_USDC, sender=funded_alice)
    usdc.transferFrom(funded_alice, bob, 4 * ONE_USDC, sender=bob)
    assert usdc.allowance(funded_alice, bob) == 6 * ONE_USDC
    assert usdc.balanceOf(bob) == 4 * ONE_USDC
    before = snapshot(usdc, funded_alice, bob)
    with ape.reverts("ERC20: transfer amount exceeds allowance"):
        usdc.transferFrom(funded_alice, bob, 6 * ONE_USDC + 1, sender=bob)
    assert snapshot(usdc, funded_alice, bob) == before
    assert usdc.allowance(funded_alice, bob) == 6 * ONE_USDC


def test_increase_and_decrease_allowance(usdc, alice, bob):
    usdc.increaseAllowance(bob, 5, sender=alice)
    usdc.increaseAllowance(bob, 7, sender=alice)
    assert usdc.allowance(alice, bob) == 12
    usdc.decreaseAllowance(bob, 2, sender=alice)
    assert usdc.allowance(alice, bob) == 10
    with ape.reverts("ERC20: decreased allowance below zero"):
        usdc.decreaseAllowance(bob, 11, sender=alice)
    assert usdc.allowance(alice, bob) == 10
    # Unlike USDT, changing a non-zero allowance directly is fine.
    usdc.approve(bob, 3, sender=alice)
    assert usdc.allowance(alice, bob) == 3


# --- blacklist -------------------------------------------------------------------------------


def test_blacklist_freezes_sender(usdc, blacklister, funded_alice, bob):
    tx = usdc.blacklist(funded_alice, sender=blacklister)
    assert [args(log) for log in tx.decode_logs(usdc.Blacklisted)] == [[funded_alice.address]]
    assert usdc.isBlacklisted(funded_alice)
    # The frozen balance is still reported.
    assert usdc.balanceOf(funded_alice) == 1_000 * ONE_USDC
    before = snapshot(usdc, funded_alice, bob)
    with ape.reverts(BLACKLISTED):
        usdc.transfer(bob, ONE_USDC, sender=funded_alice)
    assert snapshot(usdc, funded_alice, bob) == before

    usdc.unBlacklist(funded_alice, sender=blacklister)
    assert not usdc.isBlacklisted(funded_alice)
    usdc.transfer(bob, ONE_USDC, sender=funded_alice)
    assert usdc.balanceOf(bob) == ONE_USDC


def test_blacklist_freezes_receiver(usdc, blacklister, minter, funded_alice, bob):
    usdc.blacklist(bob, sender=blacklister)
    before = snapshot(usdc, funded_alice, bob)
    with ape.reverts(BLACKLISTED):
        usdc.transfer(bob, ONE_USDC, sender=funded_alice)
    with ape.reverts(BLACKLISTED):
        usdc.mint(bob, ONE_USDC, sender=minter)
    assert snapshot(usdc, funded_alice, bob) == before


def test_blacklist_blocks_transfer_from_by_spender_and_of_holder(
    usdc, blacklister, funded_alice, bob, accounts, chain
):
    carol = fresh(accounts, chain)
    usdc.approve(bob, 10 * ONE_USDC, sender=funded_alice)
    before = snapshot(usdc, funded_alice, bob, carol)

    usdc.blacklist(bob, sender=blacklister)  # the spender
    with ape.reverts(BLACKLISTED):
        usdc.transferFrom(funded_alice, carol, ONE_USDC, sender=bob)
    usdc.unBlacklist(bob, sender=blacklister)

    usdc.blacklist(funded_alice, sender=blacklister)  # the holder
    with ape.reverts(BLACKLISTED):
        usdc.transferFrom(funded_alice, carol, ONE_USDC, sender=bob)

    assert snapshot(usdc, funded_alice, bob, carol) == before
    assert usdc.allowance(funded_alice, bob) == 10 * ONE_USDC


def test_blacklisted_account_can_still_approve_but_not_move_funds(
    usdc, blacklister, funded_alice, bob
):
    # FiatTokenV2_2 dropped the blacklist checks from approve/increaseAllowance/permit;
    # the funds stay frozen because transferFrom checks holder, spender and payee.
    usdc.blacklist(funded_alice, sender=blacklister)
    usdc.approve(bob, 5, sender=funded_alice)
    assert usdc.allowance(funded_alice, bob) == 5
    before = snapshot(usdc, funded_alice, bob)
    with ape.reverts(BLACKLISTED):
        usdc.transferFrom(funded_alice, bob, 5, sender=bob)
    assert snapshot(usdc, funded_alice, bob) == before


def test_only_blacklister_blacklists(usdc, alice, bob):
    with ape.reverts("Blacklistable: caller is not the blacklister"):
        usdc.blacklist(bob, sender=alice)
    assert not usdc.isBlacklisted(bob)


# --- pause -----------------------------------------------------------------------------------


def test_pause_stops_transfers_approvals_minting_and_burning(
    usdc, pauser, minter, master_minter, funded_alice, bob
):
    usdc.mint(minter, ONE_USDC, sender=minter)
    usdc.approve(bob, ONE_USDC, sender=funded_alice)
    tx = usdc.pause(sender=pauser)
    assert len(tx.decode_logs(usdc.Pause)) == 1
    assert usdc.paused()

    before = snapshot(usdc, funded_alice, bob, minter)
    with ape.reverts(PAUSED):
        usdc.transfer(bob, ONE_USDC, sender=funded_alice)
    with ape.reverts(PAUSED):
        usdc.transferFrom(funded_alice, bob, ONE_USDC, sender=bob)
    with ape.reverts(PAUSED):
        usdc.approve(bob, 2 * ONE_USDC, sender=funded_alice)
    with ape.reverts(PAUSED):
        usdc.mint(bob, ONE_USDC, sender=minter)
    with ape.reverts(PAUSED):
        usdc.burn(ONE_USDC, sender=minter)
    with ape.reverts(PAUSED):
        usdc.configureMinter(bob, ONE_USDC, sender=master_minter)
    assert snapshot(usdc, funded_alice, bob, minter) == before
    assert usdc.allowance(funded_alice, bob) == ONE_USDC

    usdc.unpause(sender=pauser)
    assert not usdc.paused()
    usdc.transfer(bob, ONE_USDC, sender=funded_alice)
    assert usdc.balanceOf(bob) == ONE_USDC


def test_only_pauser_pauses(usdc, alice):
    with ape.reverts("Pausable: caller is not the pauser"):
        usdc.pause(sender=alice)
    assert not usdc.paused()


# --- owner -----------------------------------------------------------------------------------


def test_owner_rotates_roles(usdc, owner, alice, bob):
    usdc.updatePauser(alice, sender=owner)
    usdc.updateBlacklister(alice, sender=owner)
    usdc.updateMasterMinter(alice, sender=owner)
    assert (usdc.pauser(), usdc.blacklister(), usdc.masterMinter()) == (alice,) * 3
    usdc.pause(sender=alice)  # the new pauser acts
    assert usdc.paused()

    with ape.reverts("Pausable: new pauser is the zero address"):
        usdc.updatePauser(ZERO, sender=owner)
    with ape.reverts("Ownable: new owner is the zero address"):
        usdc.transferOwnership(ZERO, sender=owner)

    tx = usdc.transferOwnership(bob, sender=owner)
    assert [args(log) for log in tx.decode_logs(usdc.OwnershipTransferred)] == [
        [owner.address, bob.address]
    ]
    assert usdc.owner() == bob


def test_only_owner_rotates_roles(usdc, alice):
    pauser = usdc.pauser()
    with ape.reverts("Ownable: caller is not the owner"):
        usdc.updatePauser(alice, sender=alice)
    with ape.reverts("Ownable: caller is not the owner"):
        usdc.transferOwnership(alice, sender=alice)
    assert usdc.pauser() == pauser
    assert usdc.owner() != alice.address


# --- EIP-2612 permit -------------------------------------------------------------------------


def test_permit_sets_allowance_from_offchain_signature(usdc, chain, bob):
    holder = Account.create()
    nonce = usdc.nonces(holder.address)
    deadline = chain.blocks.head.timestamp + 3600
    v, r, s = sign_permit(holder.key, usdc, chain, holder.address, bob.address, 42, nonce, deadline)
    tx = usdc.permit(holder.address, bob, 42, deadline, v, r, s, sender=bob)
    assert usdc.allowance(holder.address, bob) == 42
    assert usdc.nonces(holder.address) == nonce + 1
    assert [args(log) for log in tx.decode_logs(usdc.Approval)] == [
        [holder.address, bob.address, 42]
    ]
    # Replaying the same signature fails: the nonce moved on.
    with ape.reverts("EIP2612: invalid signature"):
        usdc.permit(holder.address, bob, 42, deadline, v, r, s, sender=bob)
    assert usdc.nonces(holder.address) == nonce + 1


def test_permit_expired_reverts(usdc, chain, bob):
    holder = Account.create()
    deadline = chain.blocks.head.timestamp - 1
    v, r, s = sign_permit(holder.key, usdc, chain, holder.address, bob.address, 42, 0, deadline)
    with ape.reverts("FiatTokenV2: permit is expired"):
        usdc.permit(holder.address, bob, 42, deadline, v, r, s, sender=bob)
    assert usdc.allowance(holder.address, bob) == 0
    assert usdc.nonces(holder.address) == 0


def test_permit_with_bad_signature_reverts(usdc, chain, bob):
    holder, impostor = Account.create(), Account.create()
    deadline = MAX_UINT256  # never expires
    v, r, s = sign_permit(impostor.key, usdc, chain, holder.address, bob.address, 42, 0, deadline)
    with ape.reverts("EIP2612: invalid signature"):
        usdc.permit(holder.address, bob, 42, deadline, v, r, s, sender=bob)
    # Signed for a different value.
    v, r, s = sign_permit(holder.key, usdc, chain, holder.address, bob.address, 41, 0, deadline)
    with ape.reverts("EIP2612: invalid signature"):
        usdc.permit(holder.address, bob, 42, deadline, v, r, s, sender=bob)
    with ape.reverts("ECRecover: invalid signature 'v' value"):
        usdc.permit(holder.address, bob, 41, deadline, 29, r, s, sender=bob)
    assert usdc.allowance(holder.address, bob) == 0
    assert usdc.nonces(holder.address) == 0


# --- EIP-3009 --------------------------------------------------------------------------------


@pytest.fixture
def signer_with_funds(usdc, minter):
    """An off-chain key holding 100 USDC."""
    holder = Account.create()
    usdc.mint(holder.address, 100 * ONE_USDC, sender=minter)
    return holder


def test_transfer_with_authorization(usdc, chain, signer_with_funds, alice, bob):
    holder = signer_with_funds
    nonce = keccak(text="strongroom-auth-1")
    valid_before = chain.blocks.head.timestamp + 3600
    v, r, s = sign_auth(
        holder.key, usdc, chain, "TransferWithAuthorization",
        holder.address, bob.address, 30 * ONE_USDC, 0, valid_before, nonce,
    )
    assert not usdc.authorizationState(holder.address, nonce)
    tx = usdc.transferWithAuthorization(
        holder.address, bob, 30 * ONE_USDC, 0, valid_before, nonce, v, r, s, sender=alice
    )
    assert usdc.balanceOf(bob) == 30 * ONE_USDC
    assert usdc.balanceOf(holder.address) == 70 * ONE_USDC
    assert usdc.authorizationState(holder.address, nonce)
    assert [args(log) for log in tx.decode_logs(usdc.AuthorizationUsed)] == [
        [holder.address, nonce]
    ]

    before = snapshot(usdc, holder.address, bob)
    with ape.reverts("FiatTokenV2: authorization is used or canceled"):
        usdc.transferWithAuthorization(
            holder.address, bob, 30 * ONE_USDC, 0, valid_before, nonce, v, r, s, sender=alice
        )
    assert snapshot(usdc, holder.address, bob) == before


def test_transfer_with_authorization_time_window_and_signer(
    usdc, chain, signer_with_funds, alice, bob
):
    holder = signer_with_funds
    now = chain.blocks.head.timestamp
    before = snapshot(usdc, holder.address, bob)
    cases = [
        ("FiatTokenV2: authorization is not yet valid", holder, now + 3600, now + 7200),
        ("FiatTokenV2: authorization is expired", holder, 0, now - 1),
        ("FiatTokenV2: invalid signature", Account.create(), 0, now + 3600),
    ]
    for i, (reason, key_owner, valid_after, valid_before) in enumerate(cases):
        nonce = keccak(text=f"strongroom-auth-window-{i}")
        v, r, s = sign_auth(
            key_owner.key, usdc, chain, "TransferWithAuthorization",
            holder.address, bob.address, ONE_USDC, valid_after, valid_before, nonce,
        )
        with ape.reverts(reason):
            usdc.transferWithAuthorization(
                holder.address, bob, ONE_USDC, valid_after, valid_before, nonce, v, r, s,
                sender=alice,
            )
        assert not usdc.authorizationState(holder.address, nonce)
    assert snapshot(usdc, holder.address, bob) == before


def test_receive_with_authorization_only_by_payee(usdc, chain, signer_with_funds, alice, bob):
    holder = signer_with_funds
    nonce = keccak(text="strongroom-receive-1")
    valid_before = chain.blocks.head.timestamp + 3600
    v, r, s = sign_auth(
        holder.key, usdc, chain, "ReceiveWithAuthorization",
        holder.address, bob.address, 5 * ONE_USDC, 0, valid_before, nonce,
    )
    before = snapshot(usdc, holder.address, bob)
    with ape.reverts("FiatTokenV2: caller must be the payee"):
        usdc.receiveWithAuthorization(
            holder.address, bob, 5 * ONE_USDC, 0, valid_before, nonce, v, r, s, sender=alice
        )
    assert snapshot(usdc, holder.address, bob) == before
    usdc.receiveWithAuthorization(
        holder.address, bob, 5 * ONE_USDC, 0, valid_before, nonce, v, r, s, sender=bob
    )
    assert usdc.balanceOf(bob) == 5 * ONE_USDC


def test_cancel_authorization(usdc, chain, signer_with_funds, alice, bob):
    holder = signer_with_funds
    nonce = keccak(text="strongroom-cancel-1")
    valid_before = chain.blocks.head.timestamp + 3600
    v, r, s = sign_auth(
        holder.key, usdc, chain, "TransferWithAuthorization",
        holder.address, bob.address, ONE_USDC, 0, valid_before, nonce,
    )
    cancel = sign_typed(
        holder.key, usdc, chain, "CancelAuthorization",
        [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}],
        {"authorizer": holder.address, "nonce": nonce},
    )
    tx = usdc.cancelAuthorization(holder.address, nonce, *cancel, sender=alice)
    assert [args(log) for log in tx.decode_logs(usdc.AuthorizationCanceled)] == [
        [holder.address, nonce]
    ]
    assert usdc.authorizationState(holder.address, nonce)
    before = snapshot(usdc, holder.address, bob)
    with ape.reverts("FiatTokenV2: authorization is used or canceled"):
        usdc.transferWithAuthorization(
            holder.address, bob, ONE_USDC, 0, valid_before, nonce, v, r, s, sender=alice
        )
    assert snapshot(usdc, holder.address, bob) == before
