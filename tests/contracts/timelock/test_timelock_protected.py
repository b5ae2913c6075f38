"""The proposer's path no canceller can block: an operation scheduled with a delay of at least
PROTECTED_DELAY can be cancelled only by a proposer, and a proposer may execute it itself."""

from __future__ import annotations

import ape
from timelock_utils import (
    CANCELLER,
    DELAY,
    MAX_PROTECTED,
    PROPOSER,
    PROTECTED,
    Z32,
    schedule_and_wait,
    timelock_args,
)

from scripts.deployments import exec_multisig

PROPOSER_ONLY = "Timelock: protected, proposer only"


def _revoke(tl, account):
    return bytes(tl.setRoles.encode_input(account.address, 0))


def _id(tl, data, salt=Z32, target=None):
    return bytes(tl.hashOperation((target or tl).address, 0, data, Z32, salt))


def test_rogue_canceller_cannot_block_its_own_revocation(tl, accounts, chain, canceller,
                                                         canceller_owners, fund):
    revoke = _revoke(tl, canceller)
    # the short path: the canceller vetoes its own revocation
    tl.schedule(tl.address, 0, revoke, Z32, Z32, DELAY, sender=accounts[1])
    exec_multisig(canceller, canceller_owners[:2], tl, tl.cancel.encode_input(_id(tl, revoke)),
                  accounts[0])
    assert not tl.isOperation(_id(tl, revoke))
    # the protected path: same call, PROTECTED delay
    salt = b"\x07" * 32
    tx = tl.schedule(tl.address, 0, revoke, Z32, salt, PROTECTED, sender=accounts[1])
    op_id = _id(tl, revoke, salt)
    assert tx.events.filter(tl.CallScheduled)[0].delay == PROTECTED == tl.PROTECTED_DELAY()
    assert tl.isOperationProtected(op_id)
    with ape.reverts("GS013"):  # the multisig's call to cancel fails
        exec_multisig(canceller, canceller_owners[1:], tl, tl.cancel.encode_input(op_id),
                      accounts[0])
    fund(canceller.address)
    with ape.reverts(PROPOSER_ONLY):  # the reason, sent from the multisig's own address
        tl.cancel(op_id, sender=accounts[canceller.address])
    assert tl.isOperationPending(op_id)
    chain.mine(timestamp=tx.timestamp + PROTECTED - 1)
    assert not tl.isOperationReady(op_id)
    chain.mine(timestamp=tx.timestamp + PROTECTED)
    done = tl.execute(tl.address, 0, revoke, Z32, salt, sender=accounts[2])
    (event,) = done.events.filter(tl.RoleSet)
    assert event.account == canceller.address and event.roles == 0
    assert tl.roles(canceller) == 0 and tl.isOperationDone(op_id)
    assert not tl.isOperationProtected(op_id)
    # from now on the former canceller cannot cancel anything
    data = bytes(tl.updateDelay.encode_input(DELAY + 1))
    tl.schedule(tl.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    with ape.reverts("Timelock: not canceller"):
        tl.cancel(_id(tl, data), sender=accounts[canceller.address])


def test_just_below_the_protected_delay_stays_cancellable(tl, accounts, canceller,
                                                          canceller_owners):
    data = bytes(tl.updateDelay.encode_input(DELAY + 1))
    tl.schedule(tl.address, 0, data, Z32, Z32, PROTECTED - 1, sender=accounts[1])
    assert tl.isOperationPending(_id(tl, data)) and not tl.isOperationProtected(_id(tl, data))
    tx = exec_multisig(canceller, canceller_owners[:2], tl,
                       tl.cancel.encode_input(_id(tl, data)), accounts[0])
    assert tx.events.filter(tl.Cancelled) and not tl.isOperation(_id(tl, data))


def test_proposer_cancels_its_protected_operation(tl, accounts, canceller, fund):
    data = bytes(tl.updateDelay.encode_input(DELAY + 1))
    tl.schedule(tl.address, 0, data, Z32, Z32, PROTECTED, sender=accounts[1])
    with ape.reverts(PROPOSER_ONLY):
        tl.cancel(_id(tl, data), sender=accounts[2])  # executor, not proposer
    tx = tl.cancel(_id(tl, data), sender=accounts[1])
    assert tx.events.filter(tl.Cancelled)
    assert not tl.isOperation(_id(tl, data)) and not tl.isOperationProtected(_id(tl, data))
    # rescheduled on the short path it is an ordinary, cancellable operation again
    tl.schedule(tl.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    fund(canceller.address)
    tl.cancel(_id(tl, data), sender=accounts[canceller.address])
    assert not tl.isOperation(_id(tl, data))


def test_proposer_may_execute_a_protected_operation(tl, target, accounts, chain):
    data = bytes(target.setActivationDelay.encode_input(7200))
    short = schedule_and_wait(tl, chain, accounts[1], target, data)
    with ape.reverts("Timelock: not executor"):
        tl.execute(target.address, 0, data, Z32, Z32, sender=accounts[1])
    salt = b"\x09" * 32
    protected = schedule_and_wait(tl, chain, accounts[1], target, data, PROTECTED, salt)
    with ape.reverts("Timelock: not executor"):
        tl.execute(target.address, 0, data, Z32, salt, sender=accounts[7])
    tl.execute(target.address, 0, data, Z32, salt, sender=accounts[1])
    assert tl.isOperationDone(protected) and target.activation_delay() == 7200
    assert tl.isOperationReady(short)  # the short one still waits for an executor


def test_protected_operation_needs_an_uncancellable_predecessor(tl, target, accounts, chain):
    data = bytes(target.setActivationDelay.encode_input(7200))
    tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    short = _id(tl, data, target=target)
    with ape.reverts("Timelock: predecessor not protected"):
        tl.schedule(target.address, 0, data, short, b"\x01" * 32, PROTECTED, sender=accounts[1])
    with ape.reverts("Timelock: predecessor not protected"):
        tl.scheduleBatch([target.address], [0], [data], short, b"\x01" * 32, PROTECTED,
                         sender=accounts[1])
    with ape.reverts("Timelock: predecessor not protected"):  # not even scheduled yet
        tl.schedule(target.address, 0, data, b"\x05" * 32, b"\x01" * 32, PROTECTED,
                    sender=accounts[1])
    # a protected predecessor or a done one is fine; a short operation may follow anything
    tl.schedule(target.address, 0, data, Z32, b"\x02" * 32, PROTECTED, sender=accounts[1])
    first = _id(tl, data, b"\x02" * 32, target)
    tl.schedule(target.address, 0, data, first, b"\x03" * 32, PROTECTED, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    tl.execute(target.address, 0, data, Z32, Z32, sender=accounts[2])
    tl.schedule(target.address, 0, data, short, b"\x04" * 32, PROTECTED, sender=accounts[1])
    tl.schedule(target.address, 0, data, b"\x05" * 32, b"\x06" * 32, DELAY, sender=accounts[1])


def test_min_delay_stays_below_the_protected_delay(tl, accounts, chain):
    too_high = bytes(tl.updateDelay.encode_input(PROTECTED))
    schedule_and_wait(tl, chain, accounts[1], tl, too_high)
    with ape.reverts("Timelock: delay not below protected"):
        tl.execute(tl.address, 0, too_high, Z32, Z32, sender=accounts[2])
    highest = bytes(tl.updateDelay.encode_input(PROTECTED - 1))
    schedule_and_wait(tl, chain, accounts[1], tl, highest)
    tl.execute(tl.address, 0, highest, Z32, Z32, sender=accounts[2])
    assert tl.getMinDelay() == PROTECTED - 1


def test_constructor_bounds_the_protected_delay(project, accounts, canceller,
                                                assert_deploy_reverts):
    roles = ([accounts[1]], [accounts[2]], [canceller])
    assert_deploy_reverts(project.Timelock, *timelock_args(*roles, protected=DELAY),
                          reason="Timelock: protected delay too short", sender=accounts[0])
    assert_deploy_reverts(project.Timelock, *timelock_args(*roles, protected=MAX_PROTECTED + 1),
                          reason="Timelock: protected delay too long", sender=accounts[0])
    tl = project.Timelock.deploy(*timelock_args(*roles, protected=MAX_PROTECTED),
                                 sender=accounts[0])
    assert tl.PROTECTED_DELAY() == MAX_PROTECTED and tl.roles(accounts[1]) == PROPOSER
    assert tl.roles(canceller) == CANCELLER
