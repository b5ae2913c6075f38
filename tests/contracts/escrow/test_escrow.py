"""Escrow: lock, oracle release, refund after expiry, compliance freeze, two-party resolve;
reverts."""

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


# to_supplier, who gets paid, who confirms (the losing party, or ADMIN)
@pytest.mark.parametrize("to_supplier,who_gets,confirmer", [
    (True, 6, 5), (False, 5, 6), (True, 6, 1), (False, 5, 1)])
def test_resolve_dispute_takes_two_parties(escrow, usdc, deal, accounts, to_supplier, who_gets,
                                           confirmer):
    i, _ = deal
    escrow.freeze(i, sender=accounts[3])
    tx = escrow.proposeResolution(i, to_supplier, sender=accounts[3])
    assert tx.events.filter(escrow.EscrowResolutionProposed)[0].to == accounts[who_gets].address
    assert escrow.escrows(i).status == 1  # a proposal alone moves nothing
    before = usdc.balanceOf(accounts[who_gets])
    tx = escrow.resolve(i, to_supplier, sender=accounts[confirmer])
    assert tx.events.filter(escrow.EscrowResolved)[0].to == accounts[who_gets].address
    assert usdc.balanceOf(accounts[who_gets]) - before == 1000 * USD
    assert not escrow.escrows(i).frozen and escrow.proposals(i).proposer == ZERO


def test_compliance_alone_cannot_pay_anyone(escrow, usdc, deal, accounts):
    """Finding 1 (Escrow): one compliance party can no longer pay or refund an escrow."""
    i, _ = deal
    escrow.freeze(i, sender=accounts[3])
    before = _state(escrow, usdc, accounts, i)
    with ape.reverts("Escrow: no proposal"):
        escrow.resolve(i, True, sender=accounts[3])
    escrow.proposeResolution(i, True, sender=accounts[3])
    with ape.reverts("Escrow: proposer cannot confirm"):
        escrow.resolve(i, True, sender=accounts[3])
    # the winner cannot confirm its own win, nor can a stranger or the oracle
    for sender in (6, 7, 2):
        with ape.reverts("Escrow: not a confirming party"):
            escrow.resolve(i, True, sender=accounts[sender])
    # a confirmation names the direction: a proposal changed in flight is not confirmed
    escrow.proposeResolution(i, False, sender=accounts[3])
    with ape.reverts("Escrow: proposal differs"):
        escrow.resolve(i, True, sender=accounts[5])
    assert _state(escrow, usdc, accounts, i)[1:] == before[1:]
    # unfreezing drops the proposal; ADMIN can unfreeze too (no endless freeze)
    escrow.unfreeze(i, sender=accounts[1])
    assert escrow.proposals(i).proposer == ZERO
    escrow.release(i, sender=accounts[2])
    assert escrow.escrows(i).status == 2


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
        (escrow.resolve, (i, True), 5, "Escrow: not frozen"),
        (escrow.proposeResolution, (i, True), 3, "Escrow: not frozen"),
        (escrow.proposeResolution, (i, True), 2, "Escrow: not compliance"),
        (escrow.setRoles, (accounts[7], 2), 2, "access: not admin"),
        (escrow.setRoles, (ZERO, 2), 1, "access: zero address"),
        (escrow.setRoles, (accounts[1], 2), 1, "access: admin cannot drop own admin"),
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
    # compliance proposes settling back to the payer; the supplier's side (here ADMIN) confirms
    escrow.freeze(i, sender=accounts[3])
    escrow.proposeResolution(i, False, sender=accounts[3])
    escrow.resolve(i, False, sender=accounts[1])
    assert escrow.escrows(i).status == 3


def test_admin_grants_roles(escrow, accounts, deal):
    i, _ = deal
    escrow.setRoles(accounts[7], 2, sender=accounts[1])
    escrow.release(i, sender=accounts[7])
    assert escrow.escrows(i).status == 2


def test_constructor_reverts(project, accounts, usdc, assert_deploy_reverts):
    assert_deploy_reverts(project.Escrow, usdc.address, ZERO, ZERO, ZERO,
                          reason="Escrow: zero address", sender=accounts[0])
