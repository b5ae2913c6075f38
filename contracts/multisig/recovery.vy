# pragma version 0.4.3
"""
@title Strongroom Multisig: quorum-unreachable recovery
@license Apache-2.0
@author Strongroom
@notice A separate recovery quorum may replace the whole owner set when the owners' own quorum
    is unreachable (lost keys). Rules:
    - recovery is disabled (no members, threshold 0) or needs at least MIN_RECOVERY_THRESHOLD
      (2) approvals: no single key can rotate the owners;
    - once quorate, a proposal waits `recoveryDelay` (>= 30 days) and then executes only within
      RECOVERY_WINDOW (7 days); an expired proposal restarts from no approvals;
    - the owners cancel every pending proposal with `cancelRecovery` (self-call), and
      `changeRecovery` replaces the quorum; both bump `recoveryEpoch`, which every recovery id
      binds, as does an executed recovery.
    Execution itself (the owner rotation) is `executeRecovery` of the multisig, which consumes a
    proposal here with `_consume` and rewrites the owners in the owner manager.
"""

from . import owner_manager
from . import self_authorized

# EVENTS #

event RecoveryConfigChanged:
    recoveryOwners: DynArray[address, owner_manager.MAX_OWNERS]
    recoveryThreshold: uint256
    recoveryDelay: uint256
    recoveryEpoch: uint256

event RecoveryProposed:
    recoveryId: indexed(bytes32)
    proposer: indexed(address)
    newOwners: DynArray[address, owner_manager.MAX_OWNERS]
    newThreshold: uint256
    recoveryEpoch: uint256

event RecoveryApproved:
    recoveryId: indexed(bytes32)
    approver: indexed(address)
    approvals: uint256

event RecoveryQueued:
    recoveryId: indexed(bytes32)
    readyAt: uint256
    expiresAt: uint256

event RecoveryExpired:
    recoveryId: indexed(bytes32)

event RecoveryCancelled:
    cancelledEpoch: indexed(uint256)

event RecoveryExecuted:
    recoveryId: indexed(bytes32)
    executor: indexed(address)
    newOwners: DynArray[address, owner_manager.MAX_OWNERS]
    newThreshold: uint256

# CONSTANTS #

# Recovery delay floor (cannot be configured lower) and the value used when 0 is passed.
MIN_RECOVERY_DELAY: public(constant(uint256)) = 30 * 86400
DEFAULT_RECOVERY_DELAY: public(constant(uint256)) = 30 * 86400
# A quorate recovery executes only in [readyAt, readyAt + RECOVERY_WINDOW).
RECOVERY_WINDOW: public(constant(uint256)) = 7 * 86400
# Smallest recovery quorum when recovery is enabled.
MIN_RECOVERY_THRESHOLD: public(constant(uint256)) = 2

# STORAGE #

recoveryOwners: DynArray[address, owner_manager.MAX_OWNERS]
# @notice True for members of the recovery quorum.
isRecoveryOwner: public(HashMap[address, bool])
# @notice Approvals a recovery proposal needs before its delay starts.
recoveryThreshold: public(uint256)
# @notice Seconds between a recovery proposal reaching its quorum and becoming executable.
recoveryDelay: public(uint256)
# @notice Bumped on cancel, on recovery execution and on recovery-config change; part of every
#     recovery id, so it invalidates all pending proposals at once.
recoveryEpoch: public(uint256)
# @notice recovery id => recovery owner => approved.
recoveryApprovals: public(HashMap[bytes32, HashMap[address, bool]])
# @notice recovery id => number of recovery-owner approvals.
recoveryApprovalCount: public(HashMap[bytes32, uint256])
# @notice recovery id => timestamp from which it can execute (0: quorum not reached yet).
recoveryReadyAt: public(HashMap[bytes32, uint256])
# @notice recovery id => first timestamp at which it can no longer execute (0: not quorate).
recoveryExpiresAt: public(HashMap[bytes32, uint256])

# EXTERNAL #


@external
def changeRecovery(
    recovery_owners: DynArray[address, owner_manager.MAX_OWNERS],
    recovery_threshold: uint256,
    recovery_delay: uint256,
):
    """
    @notice Replace the recovery quorum and delay; cancels every pending recovery.
    @dev Only through execTransaction (self-call).
    @param recovery_owners New recovery quorum (empty disables recovery).
    @param recovery_threshold Approvals required (2..len; 0 iff empty).
    @param recovery_delay Seconds (0 = DEFAULT_RECOVERY_DELAY, else >= MIN_RECOVERY_DELAY).
    """
    self_authorized._only_self()
    for member: address in self.recoveryOwners:
        self.isRecoveryOwner[member] = False
    delay: uint256 = self._set_recovery(recovery_owners, recovery_threshold, recovery_delay)
    epoch: uint256 = self.recoveryEpoch + 1
    self.recoveryEpoch = epoch
    log RecoveryConfigChanged(
        recoveryOwners=recovery_owners,
        recoveryThreshold=recovery_threshold,
        recoveryDelay=delay,
        recoveryEpoch=epoch,
    )


@external
def proposeRecovery(
    new_owners: DynArray[address, owner_manager.MAX_OWNERS], new_threshold: uint256
) -> bytes32:
    """
    @notice Propose (or approve) rotating the whole owner set when the owners' quorum is
        unreachable. Once `recoveryThreshold` recovery owners have called this with the same
        arguments, the rotation can be executed after `recoveryDelay` seconds unless the
        owners cancel it (cancelRecovery through execTransaction). It then stays executable
        for RECOVERY_WINDOW seconds; a proposal whose window passed restarts from no approvals
        when proposed again (RecoveryExpired).
    @dev Recovery owners only. The id binds the arguments and the current recovery epoch.
    @param new_owners Replacement owners (same rules as the constructor).
    @param new_threshold Replacement threshold.
    @return The recovery id.
    """
    assert self.isRecoveryOwner[msg.sender], "not a recovery owner"
    owner_manager._check_owner_set(new_owners, new_threshold)
    epoch: uint256 = self.recoveryEpoch
    recovery_id: bytes32 = self._recovery_id(new_owners, new_threshold, epoch)
    expires_at: uint256 = self.recoveryExpiresAt[recovery_id]
    if expires_at != 0 and block.timestamp >= expires_at:
        # Its window passed unused: start again from no approvals.
        for member: address in self.recoveryOwners:
            self.recoveryApprovals[recovery_id][member] = False
        self.recoveryApprovalCount[recovery_id] = 0
        self.recoveryReadyAt[recovery_id] = 0
        self.recoveryExpiresAt[recovery_id] = 0
        log RecoveryExpired(recoveryId=recovery_id)
    assert not self.recoveryApprovals[recovery_id][msg.sender], "recovery already approved"
    approvals: uint256 = self.recoveryApprovalCount[recovery_id] + 1
    if approvals == 1:
        log RecoveryProposed(
            recoveryId=recovery_id,
            proposer=msg.sender,
            newOwners=new_owners,
            newThreshold=new_threshold,
            recoveryEpoch=epoch,
        )
    self.recoveryApprovals[recovery_id][msg.sender] = True
    self.recoveryApprovalCount[recovery_id] = approvals
    log RecoveryApproved(recoveryId=recovery_id, approver=msg.sender, approvals=approvals)
    if approvals == self.recoveryThreshold:
        ready_at: uint256 = block.timestamp + self.recoveryDelay
        self.recoveryReadyAt[recovery_id] = ready_at
        self.recoveryExpiresAt[recovery_id] = ready_at + RECOVERY_WINDOW
        log RecoveryQueued(
            recoveryId=recovery_id, readyAt=ready_at, expiresAt=ready_at + RECOVERY_WINDOW
        )
    return recovery_id


@external
def cancelRecovery():
    """
    @notice Cancel every pending recovery proposal (bumps the recovery epoch).
    @dev Only through execTransaction (self-call): the current owners' quorum proves it is
        reachable.
    """
    self_authorized._only_self()
    epoch: uint256 = self.recoveryEpoch
    self.recoveryEpoch = epoch + 1
    log RecoveryCancelled(cancelledEpoch=epoch)


@view
@external
def getRecoveryId(
    new_owners: DynArray[address, owner_manager.MAX_OWNERS], new_threshold: uint256
) -> bytes32:
    """
    @notice Id of a recovery proposal in the current recovery epoch.
    @param new_owners Proposed owners.
    @param new_threshold Proposed threshold.
    @return The id used by recoveryApprovalCount / recoveryReadyAt / recoveryExpiresAt.
    """
    return self._recovery_id(new_owners, new_threshold, self.recoveryEpoch)


@view
@external
def getRecoveryOwners() -> DynArray[address, owner_manager.MAX_OWNERS]:
    """
    @notice Members of the recovery quorum.
    @return The recovery owners.
    """
    return self.recoveryOwners

# INTERNAL #


@internal
def _set_recovery(
    recovery_owners: DynArray[address, owner_manager.MAX_OWNERS],
    recovery_threshold: uint256,
    recovery_delay: uint256,
) -> uint256:
    # Caller clears isRecoveryOwner of the previous members first. Returns the delay set.
    assert recovery_threshold <= len(recovery_owners), "recovery threshold above member count"
    assert (recovery_threshold == 0) == (len(recovery_owners) == 0), "recovery threshold zero"
    assert recovery_threshold == 0 or recovery_threshold >= MIN_RECOVERY_THRESHOLD, (
        "recovery threshold below 2"
    )
    delay: uint256 = recovery_delay
    if delay == 0:
        delay = DEFAULT_RECOVERY_DELAY
    assert delay >= MIN_RECOVERY_DELAY, "recovery delay below floor"
    for member: address in recovery_owners:
        assert member != empty(address) and member != self, "invalid recovery owner"
        assert not self.isRecoveryOwner[member], "duplicate recovery owner"
        self.isRecoveryOwner[member] = True
    self.recoveryOwners = recovery_owners
    self.recoveryThreshold = recovery_threshold
    self.recoveryDelay = delay
    return delay


@internal
def _consume(
    new_owners: DynArray[address, owner_manager.MAX_OWNERS], new_threshold: uint256
) -> bytes32:
    # executeRecovery's checks (caller, quorum, delay, window); bumps the epoch so no proposal
    # runs twice. The caller then rotates the owners. Returns the recovery id.
    assert self.isRecoveryOwner[msg.sender], "not a recovery owner"
    recovery_id: bytes32 = self._recovery_id(new_owners, new_threshold, self.recoveryEpoch)
    ready_at: uint256 = self.recoveryReadyAt[recovery_id]
    assert ready_at != 0, "recovery not quorate"
    assert block.timestamp >= ready_at, "recovery delay not passed"
    assert block.timestamp < self.recoveryExpiresAt[recovery_id], "recovery window expired"
    self.recoveryEpoch += 1
    log RecoveryExecuted(
        recoveryId=recovery_id,
        executor=msg.sender,
        newOwners=new_owners,
        newThreshold=new_threshold,
    )
    return recovery_id


@view
@internal
def _recovery_id(
    new_owners: DynArray[address, owner_manager.MAX_OWNERS], new_threshold: uint256, epoch: uint256
) -> bytes32:
    return keccak256(abi_encode(self, chain.id, epoch, new_owners, new_threshold))
