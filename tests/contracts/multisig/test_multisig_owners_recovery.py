"""Owner/threshold management (self-calls only) and the delayed quorum-unreachable recovery."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from hexbytes import HexBytes
from msig_utils import (
    RECOVERY_DELAY,
    SENTINEL,
    ZERO,
    SafeTxParams,
    assert_reverts,
    calldata,
    execute,
    msig_nonce,
    self_call,
    sign_all,
)

SELF_ONLY = [
    ("addOwnerWithThreshold", [SENTINEL.replace("1", "2"), 3]),
    ("removeOwner", [SENTINEL, ZERO, 1]),
    ("swapOwner", [SENTINEL, ZERO, ZERO]),
    ("changeThreshold", [1]),
    ("changeRecovery", [[], 0, 0]),
    ("cancelRecovery", []),
]


def _fresh(n: int) -> list[str]:
    return [Account.from_key((1000 + i).to_bytes(32, "big")).address for i in range(n)]


def _owners_data(msig, method: str, args: list) -> bytes:
    return bytes(getattr(msig, method).encode_input(*args))


@pytest.mark.parametrize("method,args", SELF_ONLY)
def test_self_only_functions_reject_everyone_else(cold, owner_accounts, method, args):
    assert_reverts(cold, method, args, owner_accounts[0], "GS031")


def test_add_remove_swap_change_threshold(cold, owner_accounts, keeper):
    signers = owner_accounts[:3]
    new = _fresh(2)
    receipt = self_call(cold, signers, keeper, _owners_data(cold, "addOwnerWithThreshold", [new[0], 4]))
    assert [e.owner for e in cold.AddedOwner.from_receipt(receipt)] == [new[0]]
    assert [e.threshold for e in cold.ChangedThreshold.from_receipt(receipt)] == [4]
    assert list(cold.getOwners()) == [new[0]] + [a.address for a in owner_accounts]  # head insert
    assert cold.getThreshold() == 4

    signers = owner_accounts[:4]
    # swap owner_accounts[4] (predecessor owner_accounts[3]) for new[1]
    receipt = self_call(
        cold,
        signers,
        keeper,
        _owners_data(cold, "swapOwner", [owner_accounts[3].address, owner_accounts[4].address, new[1]]),
    )
    assert [e.owner for e in cold.RemovedOwner.from_receipt(receipt)] == [owner_accounts[4].address]
    assert [e.owner for e in cold.AddedOwner.from_receipt(receipt)] == [new[1]]
    assert not cold.isOwner(owner_accounts[4]) and cold.isOwner(new[1])

    # remove the head (predecessor is the sentinel) and lower the threshold
    receipt = self_call(cold, signers, keeper, _owners_data(cold, "removeOwner", [SENTINEL, new[0], 3]))
    assert [e.owner for e in cold.RemovedOwner.from_receipt(receipt)] == [new[0]]
    assert list(cold.getOwners()) == [a.address for a in owner_accounts[:4]] + [new[1]]
    assert cold.getThreshold() == 3

    receipt = self_call(cold, owner_accounts[:3], keeper, _owners_data(cold, "changeThreshold", [2]))
    assert cold.getThreshold() == 2
    assert msig_nonce(cold) == 4
    # Removed owner's signature no longer counts.
    tx = SafeTxParams(to=keeper.address)
    sigs = sign_all(cold, tx, [owner_accounts[0], owner_accounts[4]])
    assert_reverts(cold, "execTransaction", [*tx.args(), sigs], keeper, "GS026")


def test_owner_management_revert_reasons(cold, owner_accounts):
    """Inner reasons, seen by calling as the multisig itself (execTransaction would say GS013)."""
    me = type("Self", (), {"address": cold.address})()
    o = [a.address for a in owner_accounts]
    cases = [
        ("addOwnerWithThreshold", [ZERO, 3], "GS203"),
        ("addOwnerWithThreshold", [SENTINEL, 3], "GS203"),
        ("addOwnerWithThreshold", [cold.address, 3], "GS203"),
        ("addOwnerWithThreshold", [o[1], 3], "GS204"),
        ("addOwnerWithThreshold", [_fresh(1)[0], 7], "GS201"),
        ("addOwnerWithThreshold", [_fresh(1)[0], 0], "GS202"),
        ("removeOwner", [o[0], o[2], 3], "GS205"),
        ("removeOwner", [SENTINEL, SENTINEL, 3], "GS203"),
        ("removeOwner", [SENTINEL, o[0], 5], "GS201"),
        ("removeOwner", [SENTINEL, o[0], 0], "GS202"),
        ("swapOwner", [SENTINEL, o[0], o[1]], "GS204"),
        ("swapOwner", [SENTINEL, o[0], ZERO], "GS203"),
        ("swapOwner", [SENTINEL, SENTINEL, _fresh(1)[0]], "GS203"),
        ("swapOwner", [o[2], o[0], _fresh(1)[0]], "GS205"),
        ("changeThreshold", [6], "GS201"),
        ("changeThreshold", [0], "GS202"),
        ("changeRecovery", [[o[0]], 2, 0], "recovery threshold above member count"),
        ("changeRecovery", [[o[0]], 0, 0], "recovery threshold zero"),
        ("changeRecovery", [[o[0], o[1]], 2, RECOVERY_DELAY - 1], "recovery delay below floor"),
        ("changeRecovery", [[o[0], o[0]], 2, 0], "duplicate recovery owner"),
        ("changeRecovery", [[o[0], ZERO], 2, 0], "invalid recovery owner"),
    ]
    for method, args, reason in cases:
        assert_reverts(cold, method, args, me, reason, send=False)
    # Through execTransaction the failing self-call reverts everything (GS013).
    tx = SafeTxParams(to=cold.address, data=_owners_data(cold, "changeThreshold", [0]))
    assert_reverts(
        cold,
        "execTransaction",
        [*tx.args(), sign_all(cold, tx, owner_accounts[:3])],
        owner_accounts[0],
        "GS013",
    )
    assert cold.getThreshold() == 3 and msig_nonce(cold) == 0


def test_max_owners(multisig_container, keeper, recovery_accounts):
    owners = _fresh(16)
    msig = keeper.deploy(multisig_container, owners, 9, [a.address for a in recovery_accounts[:2]], 2, 0)
    assert len(msig.getOwners()) == 16
    assert msig.recoveryDelay() == RECOVERY_DELAY  # 0 selects the 30-day default
    me = type("Self", (), {"address": msig.address})()
    assert_reverts(msig, "addOwnerWithThreshold", [_fresh(17)[16], 9], me, "too many owners", send=False)


def test_constructor_validation(chain, multisig_container, keeper):
    w3 = chain.provider.web3
    initcode = bytes(HexBytes(multisig_container.contract_type.deployment_bytecode.bytecode))
    o = _fresh(3)
    types = ["address[]", "uint256", "address[]", "uint256", "uint256"]
    cases = [
        ([o, 4, o, 2, 0], "GS201"),
        ([o, 0, o, 2, 0], "GS202"),
        ([[], 0, o, 2, 0], "GS202"),
        ([[o[0], ZERO], 1, o, 2, 0], "GS203"),
        ([[o[0], SENTINEL], 1, o, 2, 0], "GS203"),
        ([[o[0], o[0]], 1, o, 2, 0], "GS203"),
        ([[o[0], o[1], o[0]], 1, o, 2, 0], "GS204"),
        ([o, 2, o, 2, RECOVERY_DELAY - 1], "recovery delay below floor"),
        ([o, 2, o, 4, 0], "recovery threshold above member count"),
        ([o, 2, o, 0, 0], "recovery threshold zero"),
        ([o, 2, [], 1, 0], "recovery threshold above member count"),
    ]
    from web3.exceptions import ContractLogicError

    for args, reason in cases:
        with pytest.raises(ContractLogicError) as info:
            w3.eth.call({"from": keeper.address, "data": initcode + encode(types, args)})
        assert info.value.message == f"execution reverted: {reason}", args
    # Recovery can be disabled explicitly.
    w3.eth.call({"from": keeper.address, "data": initcode + encode(types, [o, 2, [], 0, 0])})


# --- recovery ------------------------------------------------------------------------------


def test_recovery_full_flow(chain, cold, owner_accounts, recovery_accounts, keeper, outsider):
    new_owners = _fresh(3)
    r1, r2, _ = recovery_accounts
    rid = bytes(cold.getRecoveryId(new_owners, 2))
    assert_reverts(cold, "proposeRecovery", [new_owners, 2], outsider, "not a recovery owner")
    assert_reverts(cold, "proposeRecovery", [new_owners, 0], r1, "GS202")
    assert_reverts(cold, "proposeRecovery", [new_owners + [new_owners[0]], 2], r1, "GS204")
    assert_reverts(cold, "proposeRecovery", [[cold.address], 1], r1, "GS203")

    receipt = cold.proposeRecovery(new_owners, 2, sender=r1)
    assert [bytes(e.recoveryId) for e in cold.RecoveryProposed.from_receipt(receipt)] == [rid]
    assert cold.recoveryApprovalCount(rid) == 1 and cold.recoveryReadyAt(rid) == 0
    assert_reverts(cold, "proposeRecovery", [new_owners, 2], r1, "recovery already approved")
    assert_reverts(cold, "executeRecovery", [new_owners, 2], r1, "recovery not quorate")

    receipt = cold.proposeRecovery(new_owners, 2, sender=r2)
    queued = cold.RecoveryQueued.from_receipt(receipt)
    ready_at = queued[0].readyAt
    assert ready_at == chain.blocks.head.timestamp + RECOVERY_DELAY
    assert_reverts(cold, "executeRecovery", [new_owners, 2], r1, "recovery delay not passed")

    chain.pending_timestamp = ready_at - 60
    assert_reverts(cold, "executeRecovery", [new_owners, 2], r1, "recovery delay not passed")
    chain.pending_timestamp = ready_at
    assert_reverts(cold, "executeRecovery", [new_owners, 2], outsider, "not a recovery owner")
    assert_reverts(cold, "executeRecovery", [new_owners, 3], r1, "recovery not quorate")
    receipt = cold.executeRecovery(new_owners, 2, sender=r2)
    assert [e.owner for e in cold.RemovedOwner.from_receipt(receipt)] == [a.address for a in owner_accounts]
    assert [e.owner for e in cold.AddedOwner.from_receipt(receipt)] == new_owners
    assert list(cold.getOwners()) == new_owners and cold.getThreshold() == 2
    assert len(cold.RecoveryExecuted.from_receipt(receipt)) == 1
    # Cannot be replayed; old owners are out, nonce is kept.
    assert_reverts(cold, "executeRecovery", [new_owners, 2], r1, "recovery not quorate")
    tx = SafeTxParams(to=outsider.address, value=1)
    assert_reverts(
        cold, "execTransaction", [*tx.args(), sign_all(cold, tx, owner_accounts[:3])], keeper, "GS026"
    )
    assert msig_nonce(cold) == 0
    for a in owner_accounts:
        assert not cold.isOwner(a)


def test_owners_cancel_recovery(chain, cold, owner_accounts, recovery_accounts, keeper):
    new_owners = _fresh(2)
    r1, r2, r3 = recovery_accounts
    cold.proposeRecovery(new_owners, 1, sender=r1)
    cold.proposeRecovery(new_owners, 1, sender=r3)
    rid = bytes(cold.getRecoveryId(new_owners, 1))
    ready_at = cold.recoveryReadyAt(rid)
    assert ready_at > 0
    epoch = cold.recoveryEpoch()
    receipt = self_call(cold, owner_accounts[:3], keeper, _owners_data(cold, "cancelRecovery", []))
    assert [e.cancelledEpoch for e in cold.RecoveryCancelled.from_receipt(receipt)] == [epoch]
    assert cold.recoveryEpoch() == epoch + 1
    chain.pending_timestamp = ready_at + 1
    assert_reverts(cold, "executeRecovery", [new_owners, 1], r2, "recovery not quorate")
    assert list(cold.getOwners()) == [a.address for a in owner_accounts]
    # A new proposal needs a new quorum and a new full delay.
    cold.proposeRecovery(new_owners, 1, sender=r1)
    receipt = cold.proposeRecovery(new_owners, 1, sender=r2)
    assert cold.RecoveryQueued.from_receipt(receipt)[0].readyAt >= ready_at + 1 + RECOVERY_DELAY


def test_change_recovery_replaces_quorum(cold, owner_accounts, recovery_accounts, keeper, outsider):
    new_owners = _fresh(2)
    r1 = recovery_accounts[0]
    cold.proposeRecovery(new_owners, 1, sender=r1)
    members = [outsider.address, owner_accounts[0].address]
    data = _owners_data(cold, "changeRecovery", [members, 2, 60 * 86400])
    receipt = self_call(cold, owner_accounts[:3], keeper, data)
    ev = cold.RecoveryConfigChanged.from_receipt(receipt)[0]
    assert list(ev.recoveryOwners) == members and ev.recoveryDelay == 60 * 86400
    assert list(cold.getRecoveryOwners()) == members
    assert not cold.isRecoveryOwner(r1) and cold.isRecoveryOwner(outsider)
    assert cold.recoveryThreshold() == 2 and cold.recoveryDelay() == 60 * 86400
    assert_reverts(cold, "proposeRecovery", [new_owners, 1], r1, "not a recovery owner")
    receipt = cold.proposeRecovery(new_owners, 1, sender=outsider)
    assert len(cold.RecoveryQueued.from_receipt(receipt)) == 0
    receipt = cold.proposeRecovery(new_owners, 1, sender=owner_accounts[0])
    assert len(cold.RecoveryQueued.from_receipt(receipt)) == 1


def test_change_threshold_via_hand_encoded_calldata(cold, owner_accounts, keeper):
    """A self-call built from the plain function signature (what Safe tooling sends)."""
    data = calldata("changeThreshold(uint256)", ["uint256"], [2])
    assert data == _owners_data(cold, "changeThreshold", [2])
    tx = SafeTxParams(to=cold.address, data=data)
    execute(cold, tx, sign_all(cold, tx, owner_accounts[:3]), keeper)
    assert cold.getThreshold() == 2
