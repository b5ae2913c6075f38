"""Timelock: OpenZeppelin TimelockController semantics, delay floor, every revert reason."""

from __future__ import annotations

import ape
from eth_abi import encode
from eth_utils import keccak
from hexbytes import HexBytes
from timelock_utils import DELAY, Z32, ZERO, H, timelock_args

from scripts.deployments import exec_multisig


def _call(target, delay=3600):
    return bytes(target.setActivationDelay.encode_input(delay))


def test_hash_matches_openzeppelin(tl, target):
    data = _call(target)
    salt = b"\x11" * 32
    oz = keccak(encode(["address", "uint256", "bytes", "bytes32", "bytes32"],
                       [target.address, 0, data, Z32, salt]))
    assert bytes(tl.hashOperation(target.address, 0, data, Z32, salt)) == oz
    oz_batch = keccak(encode(["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"],
                             [[target.address] * 2, [0, 0], [data, data], Z32, salt]))
    assert bytes(tl.hashOperationBatch([target.address] * 2, [0, 0], [data, data], Z32,
                                       salt)) == oz_batch


def test_schedule_wait_execute(tl, target, accounts, chain):
    data = _call(target)
    tx = tl.schedule(target.address, 0, data, Z32, b"\x01" * 32, DELAY, sender=accounts[1])
    op_id = tl.hashOperation(target.address, 0, data, Z32, b"\x01" * 32)
    assert tx.events.filter(tl.CallScheduled)[0].delay == DELAY
    assert tx.events.filter(tl.CallSalt)
    assert tl.isOperationPending(op_id) and not tl.isOperationReady(op_id)
    assert tl.getTimestamp(op_id) == tx.timestamp + DELAY
    chain.mine(timestamp=tx.timestamp + DELAY - 2)
    with ape.reverts("Timelock: operation is not ready"):
        tl.execute(target.address, 0, data, Z32, b"\x01" * 32, sender=accounts[2])
    chain.mine(timestamp=tx.timestamp + DELAY)
    assert tl.isOperationReady(op_id)
    tl.execute(target.address, 0, data, Z32, b"\x01" * 32, sender=accounts[2])
    assert tl.isOperationDone(op_id) and target.activation_delay() == 3600
    with ape.reverts("Timelock: operation is not ready"):
        tl.execute(target.address, 0, data, Z32, b"\x01" * 32, sender=accounts[2])


def test_batch_and_predecessor(tl, target, accounts, chain):
    d1, d2 = _call(target, 7200), _call(target, 5400)
    tl.schedule(target.address, 0, d1, Z32, Z32, DELAY, sender=accounts[1])
    first = tl.hashOperation(target.address, 0, d1, Z32, Z32)
    tl.scheduleBatch([target.address], [0], [d2], first, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    with ape.reverts("Timelock: missing dependency"):
        tl.executeBatch([target.address], [0], [d2], first, Z32, sender=accounts[2])
    tl.execute(target.address, 0, d1, Z32, Z32, sender=accounts[2])
    tl.executeBatch([target.address], [0], [d2], first, Z32, sender=accounts[2])
    assert target.activation_delay() == 5400


def test_cancel(tl, target, accounts, canceller, canceller_owners, fund):
    data = _call(target)
    tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    op_id = tl.hashOperation(target.address, 0, data, Z32, Z32)
    tx = exec_multisig(canceller, canceller_owners[:2], tl, tl.cancel.encode_input(op_id),
                       accounts[0])
    assert tx.events.filter(tl.Cancelled) and not tl.isOperation(op_id)
    fund(canceller.address)
    with ape.reverts("Timelock: operation not pending"):
        tl.cancel(op_id, sender=accounts[canceller.address])  # the multisig's own address


def test_delay_floor_cannot_be_bypassed(tl, accounts, chain):
    low = bytes(tl.updateDelay.encode_input(DELAY - 1))
    tl.schedule(tl.address, 0, low, Z32, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    with ape.reverts("Timelock: delay below floor"):
        tl.execute(tl.address, 0, low, Z32, Z32, sender=accounts[2])
    assert tl.getMinDelay() == DELAY
    higher = DELAY + 24 * H  # below PROTECTED: see test_timelock_veto
    high = bytes(tl.updateDelay.encode_input(higher))
    tl.schedule(tl.address, 0, high, Z32, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    tx = tl.execute(tl.address, 0, high, Z32, Z32, sender=accounts[2])
    assert tx.events.filter(tl.MinDelayChange)[0].new_duration == higher
    assert tl.getMinDelay() == higher and tl.MIN_DELAY_FLOOR() == DELAY


def test_roles_through_timelock_and_open_executor(tl, target, accounts, chain):
    grant = bytes(tl.setRoles.encode_input(ZERO, 2))  # EXECUTOR to everyone
    tl.schedule(tl.address, 0, grant, Z32, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    tl.execute(tl.address, 0, grant, Z32, Z32, sender=accounts[2])
    data = _call(target)
    tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    tl.execute(target.address, 0, data, Z32, Z32, sender=accounts[7])
    assert target.activation_delay() == 3600


def test_underlying_revert_bubbles(tl, target, accounts, chain):
    bad = _call(target, 0)
    tl.schedule(target.address, 0, bad, Z32, Z32, DELAY, sender=accounts[1])
    chain.mine(timestamp=chain.pending_timestamp + DELAY)
    with ape.reverts("Whitelist: zero delay"):
        tl.execute(target.address, 0, bad, Z32, Z32, sender=accounts[2])


def test_reverts(tl, target, accounts):
    data = _call(target)
    with ape.reverts("Timelock: not proposer"):
        tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[2])
    with ape.reverts("Timelock: not proposer"):
        tl.scheduleBatch([target.address], [0], [data], Z32, Z32, DELAY, sender=accounts[3])
    with ape.reverts("Timelock: insufficient delay"):
        tl.schedule(target.address, 0, data, Z32, Z32, DELAY - 1, sender=accounts[1])
    with ape.reverts("Timelock: length mismatch"):
        tl.scheduleBatch([target.address], [0, 0], [data], Z32, Z32, DELAY, sender=accounts[1])
    tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    with ape.reverts("Timelock: operation already scheduled"):
        tl.schedule(target.address, 0, data, Z32, Z32, DELAY, sender=accounts[1])
    op_id = tl.hashOperation(target.address, 0, data, Z32, Z32)
    with ape.reverts("Timelock: not canceller"):
        tl.cancel(op_id, sender=accounts[2])
    with ape.reverts("Timelock: not executor"):
        tl.execute(target.address, 0, data, Z32, Z32, sender=accounts[1])
    with ape.reverts("Timelock: length mismatch"):
        tl.executeBatch([target.address], [], [data], Z32, Z32, sender=accounts[2])
    with ape.reverts("Timelock: unauthorized caller"):
        tl.updateDelay(DELAY * 3, sender=accounts[1])
    with ape.reverts("Timelock: unauthorized caller"):
        tl.setRoles(accounts[5], 1, sender=accounts[1])
    with ape.reverts("Timelock: no roles"):
        tl.renounceRoles(sender=accounts[5])
    assert tl.isOperationPending(op_id) and tl.getMinDelay() == DELAY


def test_renounce(tl, accounts, canceller, canceller_owners):
    exec_multisig(canceller, canceller_owners[1:], tl, tl.renounceRoles.encode_input(),
                  accounts[0])
    assert tl.roles(canceller) == 0


def test_constructor_floor(project, accounts, chain, assert_deploy_reverts):
    assert_deploy_reverts(project.Timelock, *timelock_args([accounts[1]], [], [], delay=DELAY - 1),
                          reason="Timelock: delay below floor", sender=accounts[0])
    ok = bytes(HexBytes(project.Timelock.contract_type.deployment_bytecode.bytecode)) + bytes(
        project.Timelock.constructor.encode_input(*timelock_args([accounts[1]], [], [])))
    assert chain.provider.web3.eth.call({"from": accounts[0].address, "data": "0x" + ok.hex()})


def test_has_role_takes_account_then_role_like_the_vault(project, tl, accounts):
    """`hasRole(account, role)` in every contract: the Vault's argument order."""
    def inputs(container):
        (abi,) = [m for m in container.contract_type.view_methods if m.name == "hasRole"]
        return [(i.name, i.type) for i in abi.inputs]

    assert inputs(project.Timelock) == inputs(project.Vault) == [("account", "address"),
                                                                 ("role", "uint256")]
    assert tl.hasRole(accounts[1], 1) and not tl.hasRole(accounts[2], 1)  # PROPOSER
    assert tl.hasRole(accounts[2], 2) and not tl.hasRole(accounts[1], 2)  # EXECUTOR
