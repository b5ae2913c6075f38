"""Escrow: lock, oracle release, refund after expiry, compliance freeze/resolve; reverts."""

from __future__ import annotations

import ape
import pytest

from scripts.deployments import deploy_stand_in_tokens

DAY = 86400
USD = 10**6
REF = b"\x42" * 32
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def usdc(accounts):
    return deploy_stand_in_tokens(accounts[0], [accounts[5]], amount=10**12)[0]


@pytest.fixture(scope="module")
def escrow(project, accounts, usdc):
    # admin 1, oracle 2, compliance 3; payer 5, supplier 6
    e = project.Escrow.deploy(usdc.address, accounts[1], accounts[2], accounts[3],
                              sender=accounts[0])
    usdc.approve(e.address, 10**12, sender=accounts[5])
    return e


@pytest.fixture
def deal(escrow, accounts, chain):
    expiry = chain.pending_timestamp + 10 * DAY
    tx = escrow.create(accounts[6], 1000 * USD, expiry, REF, sender=accounts[5])
    return tx.events.filter(escrow.EscrowCreated)[0].id, expiry


def _state(escrow, usdc, accounts, i):
    return (tuple(escrow.escrows(i)), usdc.balanceOf(escrow.address),
            usdc.balanceOf(accounts[5]), usdc.balanceOf(accounts[6]))


def test_create_locks_funds(escrow, usdc, deal, accounts):
    i, expiry = deal
    d = escrow.escrows(i)
    assert (d.payer, d.supplier, d.amount, d.expiry, d.status, d.frozen) == (
        accounts[5].address, accounts[6].address, 1000 * USD, expiry, 1, False)
    assert usdc.balanceOf(escrow.address) == 1000 * USD


def test_oracle_releases(escrow, usdc, deal, accounts):
    i, _ = deal
    tx = escrow.release(i, sender=accounts[2])
    assert tx.events.filter(escrow.EscrowReleased)[0].amount == 1000 * USD
    assert usdc.balanceOf(accounts[6]) == 1000 * USD and escrow.escrows(i).status == 2


def test_refund_after_expiry(escrow, usdc, deal, accounts, chain):
    i, expiry = deal
    before = usdc.balanceOf(accounts[5])
    with ape.reverts("Escrow: not expired"):
        escrow.refund(i, sender=accounts[5])
    chain.mine(timestamp=expiry)
    with ape.reverts("Escrow: expired"):
        escrow.release(i, sender=accounts[2])
    escrow.refund(i, sender=accounts[5])
    assert usdc.balanceOf(accounts[5]) - before == 1000 * USD and escrow.escrows(i).status == 3


def test_frozen_blocks_release_and_refund(escrow, usdc, deal, accounts, chain):
    i, expiry = deal
    escrow.freeze(i, sender=accounts[3])
    before = _state(escrow, usdc, accounts, i)
    with ape.reverts("Escrow: frozen"):
        escrow.release(i, sender=accounts[2])
    chain.mine(timestamp=expiry + 1)
    with ape.reverts("Escrow: frozen"):
        escrow.refund(i, sender=accounts[5])
    assert _state(escrow, usdc, accounts, i) == before
    escrow.unfreeze(i, sender=accounts[3])
    escrow.refund(i, sender=accounts[5])
    assert escrow.escrows(i).status == 3


@pytest.mark.parametrize("to_supplier,who_gets", [(True, 6), (False, 5)])
def test_resolve_dispute(escrow, usdc, deal, accounts, to_supplier, who_gets):
    i, _ = deal
    escrow.freeze(i, sender=accounts[3])
    before = usdc.balanceOf(accounts[who_gets])
    tx = escrow.resolve(i, to_supplier, sender=accounts[3])
    assert tx.events.filter(escrow.EscrowResolved)[0].to == accounts[who_gets].address
    assert usdc.balanceOf(accounts[who_gets]) - before == 1000 * USD
    assert not escrow.escrows(i).frozen


def test_reverts_change_nothing(escrow, usdc, deal, accounts, chain):
    i, _ = deal
    now = chain.pending_timestamp
    cases = [
        (escrow.create, (accounts[5], USD, now + DAY, REF), 5, "Escrow: bad supplier"),
        (escrow.create, (ZERO, USD, now + DAY, REF), 5, "Escrow: bad supplier"),
        (escrow.create, (accounts[6], 0, now + DAY, REF), 5, "Escrow: zero amount"),
        (escrow.create, (accounts[6], USD, now - 1, REF), 5, "Escrow: expiry in the past"),
        (escrow.create, (accounts[6], USD, now + 400 * DAY, REF), 5, "Escrow: expiry too far"),
        (escrow.create, (accounts[6], USD, now + DAY, REF), 7,
         "ERC20: transfer amount exceeds allowance"),
        (escrow.release, (i,), 5, "Escrow: not oracle"),
        (escrow.release, (99,), 2, "Escrow: not locked"),
        (escrow.refund, (i,), 6, "Escrow: not payer"),
        (escrow.freeze, (i,), 2, "Escrow: not compliance"),
        (escrow.freeze, (99,), 3, "Escrow: not locked"),
        (escrow.unfreeze, (i,), 3, "Escrow: not frozen"),
        (escrow.unfreeze, (i,), 2, "Escrow: not compliance"),
        (escrow.resolve, (i, True), 3, "Escrow: not frozen"),
        (escrow.resolve, (i, True), 2, "Escrow: not compliance"),
        (escrow.setRoles, (accounts[7], 2), 2, "Escrow: not admin"),
        (escrow.setRoles, (ZERO, 2), 1, "Escrow: zero address"),
        (escrow.setRoles, (accounts[1], 2), 1, "Escrow: admin cannot drop own admin"),
    ]
    for fn, args, sender, reason in cases:
        before = _state(escrow, usdc, accounts, i), escrow.escrow_count()
        with ape.reverts(reason):
            fn(*args, sender=accounts[sender])
        assert (_state(escrow, usdc, accounts, i), escrow.escrow_count()) == before
    escrow.freeze(i, sender=accounts[3])
    with ape.reverts("Escrow: already frozen"):
        escrow.freeze(i, sender=accounts[3])
    escrow.unfreeze(i, sender=accounts[3])
    escrow.release(i, sender=accounts[2])
    with ape.reverts("Escrow: not locked"):
        escrow.refund(i, sender=accounts[5])


def test_blacklisted_supplier_blocks_release_with_reason(escrow, usdc, deal, accounts):
    i, _ = deal
    usdc.blacklist(accounts[6], sender=accounts[0])
    with ape.reverts("Blacklistable: account is blacklisted"):
        escrow.release(i, sender=accounts[2])
    assert escrow.escrows(i).status == 1
    # compliance can settle the dispute back to the payer instead
    escrow.freeze(i, sender=accounts[3])
    escrow.resolve(i, False, sender=accounts[3])
    assert escrow.escrows(i).status == 3


def test_admin_grants_roles(escrow, accounts, deal):
    i, _ = deal
    escrow.setRoles(accounts[7], 2, sender=accounts[1])
    escrow.release(i, sender=accounts[7])
    assert escrow.escrows(i).status == 2


def test_constructor_reverts(project, accounts, usdc, assert_deploy_reverts):
    assert_deploy_reverts(project.Escrow, usdc.address, ZERO, ZERO, ZERO,
                          reason="Escrow: zero address", sender=accounts[0])
