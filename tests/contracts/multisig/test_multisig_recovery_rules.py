"""Recovery hardening (security review finding 1).

- A recovery quorum of one key is refused: with recovery enabled its threshold must be >= 2
  (constructor and changeRecovery), so no single key can replace the cold owners after the delay.
- A quorate recovery can only execute inside a window after `readyAt`
  ([readyAt, readyAt + RECOVERY_WINDOW)); after it, the proposal is dead and has to be proposed
  and approved again from scratch (a new quorum and a new full delay).
- Events carry what a mirror needs: RecoveryQueued has readyAt and expiresAt; a restarted
  expired proposal emits RecoveryExpired before its new RecoveryProposed.
"""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from hexbytes import HexBytes
from msig_utils import RECOVERY_DELAY, assert_reverts

BELOW_2 = "recovery threshold below 2"


def _fresh(n: int, base: int = 2000) -> list[str]:
    return [Account.from_key((base + i).to_bytes(32, "big")).address for i in range(n)]


def test_constructor_refuses_single_key_recovery(chain, multisig_container, keeper):
    from web3.exceptions import ContractLogicError

    w3 = chain.provider.web3
    initcode = bytes(HexBytes(multisig_container.contract_type.deployment_bytecode.bytecode))
    o = _fresh(5)
    types = ["address[]", "uint256", "address[]", "uint256", "uint256"]
    for recovery, threshold in (([o[0]], 1), (o[:3], 1), (o, 1)):
        with pytest.raises(ContractLogicError) as info:
            w3.eth.call(
                {"from": keeper.address, "data": initcode + encode(types, [o, 3, recovery, threshold, 0])}
            )
        assert info.value.message == f"execution reverted: {BELOW_2}", (recovery, threshold)
    # 2-of-2 and disabled recovery are accepted.
    w3.eth.call({"from": keeper.address, "data": initcode + encode(types, [o, 3, o[:2], 2, 0])})
    w3.eth.call({"from": keeper.address, "data": initcode + encode(types, [o, 3, [], 0, 0])})


def test_change_recovery_refuses_single_key_recovery(cold, recovery_accounts):
    me = type("Self", (), {"address": cold.address})()
    members = [a.address for a in recovery_accounts]
    assert_reverts(cold, "changeRecovery", [members, 1, 0], me, BELOW_2, send=False)
    assert_reverts(cold, "changeRecovery", [members[:1], 1, 0], me, BELOW_2, send=False)
    assert cold.recoveryThreshold() == 2


def _quorate(cold, chain, recovery_accounts, new_owners: list[str], new_threshold: int):
    r1, r2, _ = recovery_accounts
    cold.proposeRecovery(new_owners, new_threshold, sender=r1)
    receipt = cold.proposeRecovery(new_owners, new_threshold, sender=r2)
    queued = cold.RecoveryQueued.from_receipt(receipt)
    assert len(queued) == 1
    return queued[0]


def test_recovery_queued_event_carries_the_window(chain, cold, recovery_accounts):
    window = cold.RECOVERY_WINDOW()
    assert window > 0
    new_owners = _fresh(3)
    queued = _quorate(cold, chain, recovery_accounts, new_owners, 2)
    rid = bytes(cold.getRecoveryId(new_owners, 2))
    assert bytes(queued.recoveryId) == rid
    assert queued.readyAt == chain.blocks.head.timestamp + RECOVERY_DELAY
    assert queued.expiresAt == queued.readyAt + window
    assert cold.recoveryReadyAt(rid) == queued.readyAt
    assert cold.recoveryExpiresAt(rid) == queued.expiresAt


def test_recovery_executes_on_the_last_second_of_the_window(chain, cold, recovery_accounts):
    new_owners = _fresh(3)
    queued = _quorate(cold, chain, recovery_accounts, new_owners, 2)
    chain.pending_timestamp = queued.expiresAt - 1
    cold.executeRecovery(new_owners, 2, sender=recovery_accounts[2])
    assert list(cold.getOwners()) == new_owners


def test_recovery_cannot_execute_after_the_window(chain, cold, owner_accounts, recovery_accounts):
    new_owners = _fresh(3)
    queued = _quorate(cold, chain, recovery_accounts, new_owners, 2)
    chain.mine(timestamp=queued.expiresAt)  # eth_call (the reason) and the sent tx both see >= expiresAt
    assert_reverts(cold, "executeRecovery", [new_owners, 2], recovery_accounts[0], "recovery window expired")
    chain.mine(timestamp=queued.expiresAt + 365 * 86400)
    assert_reverts(cold, "executeRecovery", [new_owners, 2], recovery_accounts[1], "recovery window expired")
    assert list(cold.getOwners()) == [a.address for a in owner_accounts]
    assert cold.getThreshold() == 3


def test_expired_recovery_restarts_from_scratch(chain, cold, recovery_accounts):
    new_owners = _fresh(3)
    r1, r2, r3 = recovery_accounts
    queued = _quorate(cold, chain, recovery_accounts, new_owners, 2)
    rid = bytes(queued.recoveryId)
    chain.pending_timestamp = queued.expiresAt + 10
    # A single member re-proposing an expired proposal resets it: one approval, no readyAt.
    receipt = cold.proposeRecovery(new_owners, 2, sender=r1)
    assert [bytes(e.recoveryId) for e in cold.RecoveryExpired.from_receipt(receipt)] == [rid]
    assert [bytes(e.recoveryId) for e in cold.RecoveryProposed.from_receipt(receipt)] == [rid]
    assert cold.recoveryApprovalCount(rid) == 1
    assert cold.recoveryReadyAt(rid) == 0 and cold.recoveryExpiresAt(rid) == 0
    assert not cold.recoveryApprovals(rid, r2)
    assert_reverts(cold, "executeRecovery", [new_owners, 2], r1, "recovery not quorate")
    # The second approval starts a new full delay.
    receipt = cold.proposeRecovery(new_owners, 2, sender=r3)
    again = cold.RecoveryQueued.from_receipt(receipt)[0]
    assert again.readyAt == chain.blocks.head.timestamp + RECOVERY_DELAY
    assert again.readyAt >= queued.expiresAt + RECOVERY_DELAY
    chain.pending_timestamp = again.readyAt
    cold.executeRecovery(new_owners, 2, sender=r2)
    assert list(cold.getOwners()) == new_owners


def test_pending_quorate_recovery_cannot_be_reset_by_reproposal(chain, cold, recovery_accounts):
    """Inside its window a quorate proposal is not restartable: re-approval is refused."""
    new_owners = _fresh(3)
    queued = _quorate(cold, chain, recovery_accounts, new_owners, 2)
    chain.pending_timestamp = queued.readyAt + 1
    assert_reverts(
        cold, "proposeRecovery", [new_owners, 2], recovery_accounts[0], "recovery already approved"
    )
    rid = bytes(queued.recoveryId)
    assert cold.recoveryReadyAt(rid) == queued.readyAt
