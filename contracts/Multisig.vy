# pragma version 0.4.3
"""
@title Strongroom Multisig
@license Apache-2.0
@author Strongroom
@notice
    m-of-n owner wallet for the cold (3-of-5), warm (2-of-3) and emergency (2-of-3) tiers.
    It holds ETH and ERC-20 tokens and moves them only with `threshold` owner signatures
    collected off-chain (hardware wallets / HSM) over a Safe 1.4.1 `SafeTx` EIP-712 hash.

    Signing interface: identical to Safe 1.4.1 (`execTransaction`, `getTransactionHash`,
    `encodeTransactionData`, `domainSeparator`, `checkSignatures`, `checkNSignatures`,
    `approveHash`, `approvedHashes`, owner management), so Safe tooling (safe-eth-py, Safe{Wallet}
    signing flows, hardware-wallet EIP-712 screens) signs for this contract unchanged.
    Same EIP-712 domain `EIP712Domain(uint256 chainId,address verifyingContract)`, same
    `SafeTx` type, same packed 65-byte signatures sorted by signer address ascending, same
    signature kinds (v=0 EIP-1271 contract owner, v=1 approved hash, v>30 eth_sign,
    v=27/28 ECDSA), same owner linked list (`prevOwner` arguments), same events.

    Deliberate differences from Safe 1.4.1 (custody hardening):
    - `operation` must be CALL (0). DELEGATECALL is refused: it runs the target's code in this
      contract's storage context, so the target could rewrite owners, threshold and nonce.
    - `gasPrice` must be 0: no gas refunds are paid out of custody funds (see `execTransaction`).
    - No modules, guards or fallback handler: nothing but `threshold` owner signatures (or the
      delayed recovery below) can move funds or change the configuration.
    - `execTransaction` is non-reentrant.
    - At most MAX_OWNERS (16) owners.
    - Quorum-unreachable recovery: a separate recovery quorum (at least 2 approvals) may rotate
      the owner set after a long delay (>= 30 days), within RECOVERY_WINDOW (7 days) after it,
      unless the owners cancel it first.

    Revert reasons keep Safe's error codes where the check is Safe's own (safe-eth-py maps them):
    GS001 threshold not set, GS010 not enough gas for safeTxGas, GS013 call failed with
    safeTxGas == 0 and gasPrice == 0, GS020 signatures too short, GS021/GS022/GS023 contract
    signature offset inside the static part / length out of bounds / data out of bounds,
    GS024 contract signature rejected, GS025 hash not approved, GS026 signer not an owner or not
    in ascending order (covers duplicates and invalid ECDSA), GS027 data does not hash to
    dataHash, GS030 only owners can approve a hash, GS031 only callable by the multisig itself,
    GS201 threshold above owner count, GS202 threshold zero, GS203 invalid owner address,
    GS204 already an owner, GS205 wrong prevOwner/owner pair.
    Strongroom-specific checks revert with plain-language reasons.
"""

# INTERFACES #

interface ISignatureValidator:
    # Legacy EIP-1271 as used by Safe 1.4.1 (ISignatureValidator): magic value 0x20c13b0b.
    def isValidSignature(_data: Bytes[MAX_SIGNED_DATA], _signature: Bytes[MAX_SIGNATURES]) -> bytes4: view

# EVENTS #

event MultisigSetup:
    initiator: indexed(address)
    owners: DynArray[address, MAX_OWNERS]
    threshold: uint256
    recoveryOwners: DynArray[address, MAX_OWNERS]
    recoveryThreshold: uint256
    recoveryDelay: uint256

event ExecutionSuccess:
    txHash: indexed(bytes32)
    payment: uint256

event ExecutionFailure:
    txHash: indexed(bytes32)
    payment: uint256

event ApproveHash:
    approvedHash: indexed(bytes32)
    owner: indexed(address)

event SafeReceived:
    sender: indexed(address)
    value: uint256

event AddedOwner:
    owner: indexed(address)

event RemovedOwner:
    owner: indexed(address)

event ChangedThreshold:
    threshold: uint256

event RecoveryConfigChanged:
    recoveryOwners: DynArray[address, MAX_OWNERS]
    recoveryThreshold: uint256
    recoveryDelay: uint256
    recoveryEpoch: uint256

event RecoveryProposed:
    recoveryId: indexed(bytes32)
    proposer: indexed(address)
    newOwners: DynArray[address, MAX_OWNERS]
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
    newOwners: DynArray[address, MAX_OWNERS]
    newThreshold: uint256

# CONSTANTS #

# Version of the Safe signing interface this contract implements. Safe tooling reads VERSION to
# pick the EIP-712 domain (chainId is part of it from 1.3.0 on).
VERSION: public(constant(String[5])) = "1.4.1"

MAX_OWNERS: constant(uint256) = 16
# Largest `data` payload of a transaction.
MAX_DATA: constant(uint256) = 4096
# Largest packed signature blob (16 static parts of 65 bytes + EIP-1271 dynamic parts).
MAX_SIGNATURES: constant(uint256) = 4096
# Largest `data` accepted by checkSignatures / checkNSignatures (a SafeTx preimage is 66 bytes).
MAX_SIGNED_DATA: constant(uint256) = 1024

SENTINEL_OWNERS: constant(address) = 0x0000000000000000000000000000000000000001
ADDRESS_MASK: constant(uint256) = 2**160 - 1

# keccak256("EIP712Domain(uint256 chainId,address verifyingContract)")
DOMAIN_SEPARATOR_TYPEHASH: constant(bytes32) = 0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218
# keccak256("SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)")
SAFE_TX_TYPEHASH: constant(bytes32) = 0xbb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8
# bytes4(keccak256("isValidSignature(bytes,bytes)"))
EIP1271_MAGIC_VALUE: constant(bytes4) = 0x20c13b0b

OPERATION_CALL: constant(uint8) = 0

# Recovery delay floor (cannot be configured lower) and the value used when 0 is passed.
MIN_RECOVERY_DELAY: public(constant(uint256)) = 30 * 86400
DEFAULT_RECOVERY_DELAY: public(constant(uint256)) = 30 * 86400
# A quorate recovery executes only in [readyAt, readyAt + RECOVERY_WINDOW); afterwards it is dead
# and must be proposed and approved again (new quorum, new full delay).
RECOVERY_WINDOW: public(constant(uint256)) = 7 * 86400
# Smallest recovery quorum when recovery is enabled: no single key may rotate the owners.
MIN_RECOVERY_THRESHOLD: public(constant(uint256)) = 2

# STORAGE #

# Owners as Safe's singly linked list: SENTINEL -> owner_1 -> ... -> owner_n -> SENTINEL.
owners: HashMap[address, address]
ownerCount: uint256
threshold: uint256

# @notice Number of the next transaction; part of every SafeTx hash (replay protection).
nonce: public(uint256)

# @notice owner => hash => 1 when the owner approved the hash on-chain (Safe's approveHash).
approvedHashes: public(HashMap[address, HashMap[bytes32, uint256]])

# Recovery quorum.
recoveryOwners: DynArray[address, MAX_OWNERS]
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

# CONSTRUCTOR #

@deploy
def __init__(
    owners: DynArray[address, MAX_OWNERS],
    threshold: uint256,
    recovery_owners: DynArray[address, MAX_OWNERS],
    recovery_threshold: uint256,
    recovery_delay: uint256,
):
    """
    @notice Set up the owners, the signing threshold and the recovery quorum.
    @param owners Initial owners (1..16, unique, not 0x0, 0x1 or this contract).
    @param threshold Signatures required (1..len(owners)).
    @param recovery_owners Recovery quorum (0..16 unique addresses); empty disables recovery.
    @param recovery_threshold Approvals required (2..len(recovery_owners); 0 iff empty).
    @param recovery_delay Seconds a quorate recovery waits; 0 means DEFAULT_RECOVERY_DELAY,
        otherwise at least MIN_RECOVERY_DELAY.
    """
    self._setup_owners(owners, threshold)
    delay: uint256 = self._set_recovery(recovery_owners, recovery_threshold, recovery_delay)
    log MultisigSetup(
        initiator=msg.sender,
        owners=owners,
        threshold=threshold,
        recoveryOwners=recovery_owners,
        recoveryThreshold=recovery_threshold,
        recoveryDelay=delay,
    )

# EXTERNAL #

@payable
@external
def __default__():
    """
    @notice Receive ETH (plain transfers only). Emits SafeReceived.
    @dev Calls with calldata that match no function revert instead of being swallowed.
    """
    assert len(msg.data) == 0, "unknown function"
    log SafeReceived(sender=msg.sender, value=msg.value)


@payable
@external
@nonreentrant
def execTransaction(
    to: address,
    _value: uint256,
    data: Bytes[MAX_DATA],
    operation: uint8,
    safeTxGas: uint256,
    baseGas: uint256,
    gasPrice: uint256,
    gasToken: address,
    refundReceiver: address,
    signatures: Bytes[MAX_SIGNATURES],
) -> bool:
    """
    @notice Execute a call signed by `threshold` owners (Safe 1.4.1 argument list and hash).
    @dev
        The nonce is consumed whenever the signatures verify, whether or not the inner call
        succeeds (as in Safe): a failed call with safeTxGas > 0 emits ExecutionFailure and
        changes nothing else; with safeTxGas == 0 a failed call reverts the whole transaction
        (GS013). As in Safe with gasPrice == 0, all remaining gas is forwarded to the call and
        safeTxGas only sets the minimum gas that must be left for it (GS010).

        DELEGATECALL (operation 1) is refused: a delegatecall runs the target's code in this
        contract's own storage context, so the target could rewrite owners, threshold, nonce
        and recovery settings or self-destruct logic; a custody wallet must never run foreign
        code in its own context. Batches go through a CALL to a multisend-style contract.

        Gas refunds are not implemented: gasPrice must be 0, and then baseGas, gasToken and
        refundReceiver are only hashed, exactly as Safe ignores them when gasPrice == 0. Our
        submitters are our own keepers that pay their own gas; paying relayers out of custody
        balances would let any signed transaction drain gas tokens to `refundReceiver`.
        Any ETH sent along with the call stays in the multisig (SafeReceived is emitted).
    @param to Call target.
    @param _value Wei sent with the call.
    @param data Calldata of the call.
    @param operation Must be 0 (CALL).
    @param safeTxGas Gas that must remain for the call; 0 means "revert if the call fails".
    @param baseGas Hashed only (refunds unsupported).
    @param gasPrice Must be 0 (refunds unsupported).
    @param gasToken Hashed only (refunds unsupported).
    @param refundReceiver Hashed only (refunds unsupported).
    @param signatures Packed signatures sorted by signer address, 65 bytes each plus
        EIP-1271 dynamic parts.
    @return success Whether the inner call succeeded.
    """
    assert operation == OPERATION_CALL, "operation must be CALL: delegatecall refused"
    assert gasPrice == 0, "gas refunds unsupported: gasPrice must be 0"
    if msg.value > 0:
        log SafeReceived(sender=msg.sender, value=msg.value)

    current_nonce: uint256 = self.nonce
    tx_hash_data: Bytes[66] = self._encode_transaction_data(
        to,
        _value,
        keccak256(data),
        operation,
        safeTxGas,
        baseGas,
        gasPrice,
        gasToken,
        refundReceiver,
        current_nonce,
    )
    self.nonce = current_nonce + 1
    tx_hash: bytes32 = keccak256(tx_hash_data)
    self._check_n_signatures(tx_hash, tx_hash_data, signatures, self.threshold)

    assert msg.gas >= max(safeTxGas * 64 // 63, safeTxGas + 2500) + 500, "GS010"
    success: bool = raw_call(to, data, value=_value, revert_on_failure=False)
    assert success or safeTxGas != 0, "GS013"
    if success:
        log ExecutionSuccess(txHash=tx_hash, payment=0)
    else:
        log ExecutionFailure(txHash=tx_hash, payment=0)
    return success


@external
def approveHash(hashToApprove: bytes32):
    """
    @notice Approve a hash on-chain as the calling owner (v=1 signatures then count it).
    @param hashToApprove SafeTx hash (or any hash checked with checkSignatures).
    """
    assert self.owners[msg.sender] != empty(address), "GS030"
    self.approvedHashes[msg.sender][hashToApprove] = 1
    log ApproveHash(approvedHash=hashToApprove, owner=msg.sender)


@external
def addOwnerWithThreshold(owner: address, _threshold: uint256):
    """
    @notice Add an owner (inserted at the head of the list) and set the threshold.
    @dev Only through execTransaction (self-call).
    @param owner New owner.
    @param _threshold New threshold.
    """
    self._only_self()
    assert owner != empty(address) and owner != SENTINEL_OWNERS and owner != self, "GS203"
    assert self.owners[owner] == empty(address), "GS204"
    count: uint256 = self.ownerCount
    assert count < MAX_OWNERS, "too many owners"
    self.owners[owner] = self.owners[SENTINEL_OWNERS]
    self.owners[SENTINEL_OWNERS] = owner
    self.ownerCount = count + 1
    log AddedOwner(owner=owner)
    if self.threshold != _threshold:
        self._change_threshold(_threshold)


@external
def removeOwner(prevOwner: address, owner: address, _threshold: uint256):
    """
    @notice Remove an owner and set the threshold.
    @dev Only through execTransaction (self-call).
    @param prevOwner Owner pointing to `owner` in the linked list (SENTINEL 0x1 for the head).
    @param owner Owner to remove.
    @param _threshold New threshold.
    """
    self._only_self()
    assert self.ownerCount - 1 >= _threshold, "GS201"
    assert owner != empty(address) and owner != SENTINEL_OWNERS, "GS203"
    assert self.owners[prevOwner] == owner, "GS205"
    self.owners[prevOwner] = self.owners[owner]
    self.owners[owner] = empty(address)
    self.ownerCount -= 1
    log RemovedOwner(owner=owner)
    if self.threshold != _threshold:
        self._change_threshold(_threshold)


@external
def swapOwner(prevOwner: address, oldOwner: address, newOwner: address):
    """
    @notice Replace `oldOwner` by `newOwner` at the same list position.
    @dev Only through execTransaction (self-call).
    @param prevOwner Owner pointing to `oldOwner` (SENTINEL 0x1 for the head).
    @param oldOwner Owner to replace.
    @param newOwner Replacement owner.
    """
    self._only_self()
    assert newOwner != empty(address) and newOwner != SENTINEL_OWNERS and newOwner != self, "GS203"
    assert self.owners[newOwner] == empty(address), "GS204"
    assert oldOwner != empty(address) and oldOwner != SENTINEL_OWNERS, "GS203"
    assert self.owners[prevOwner] == oldOwner, "GS205"
    self.owners[newOwner] = self.owners[oldOwner]
    self.owners[prevOwner] = newOwner
    self.owners[oldOwner] = empty(address)
    log RemovedOwner(owner=oldOwner)
    log AddedOwner(owner=newOwner)


@external
def changeThreshold(_threshold: uint256):
    """
    @notice Set the number of owner signatures required.
    @dev Only through execTransaction (self-call).
    @param _threshold New threshold (1..owner count).
    """
    self._only_self()
    self._change_threshold(_threshold)


@external
def changeRecovery(
    recovery_owners: DynArray[address, MAX_OWNERS],
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
    self._only_self()
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
def proposeRecovery(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256) -> bytes32:
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
    self._validate_owner_set(new_owners, new_threshold)
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
def executeRecovery(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    """
    @notice Replace all owners and the threshold with a quorate recovery proposal whose
        delay has passed and whose execution window (RECOVERY_WINDOW) has not.
    @dev Recovery owners only. Bumps the recovery epoch (no proposal can run twice). The
        transaction nonce is kept; signatures of removed owners stop counting at once.
    @param new_owners Replacement owners, exactly as proposed.
    @param new_threshold Replacement threshold, exactly as proposed.
    """
    assert self.isRecoveryOwner[msg.sender], "not a recovery owner"
    recovery_id: bytes32 = self._recovery_id(new_owners, new_threshold, self.recoveryEpoch)
    ready_at: uint256 = self.recoveryReadyAt[recovery_id]
    assert ready_at != 0, "recovery not quorate"
    assert block.timestamp >= ready_at, "recovery delay not passed"
    assert block.timestamp < self.recoveryExpiresAt[recovery_id], "recovery window expired"

    # Clear the current list, then set the new one up exactly like the constructor does.
    current: address = self.owners[SENTINEL_OWNERS]
    for _: uint256 in range(MAX_OWNERS):
        if current == SENTINEL_OWNERS:
            break
        following: address = self.owners[current]
        self.owners[current] = empty(address)
        log RemovedOwner(owner=current)
        current = following
    self.owners[SENTINEL_OWNERS] = empty(address)
    self.ownerCount = 0
    self.threshold = 0
    self._setup_owners(new_owners, new_threshold)
    for owner: address in new_owners:
        log AddedOwner(owner=owner)
    log ChangedThreshold(threshold=new_threshold)
    self.recoveryEpoch += 1
    log RecoveryExecuted(
        recoveryId=recovery_id,
        executor=msg.sender,
        newOwners=new_owners,
        newThreshold=new_threshold,
    )


@external
def cancelRecovery():
    """
    @notice Cancel every pending recovery proposal (bumps the recovery epoch).
    @dev Only through execTransaction (self-call): the current owners' quorum proves it is
        reachable.
    """
    self._only_self()
    epoch: uint256 = self.recoveryEpoch
    self.recoveryEpoch = epoch + 1
    log RecoveryCancelled(cancelledEpoch=epoch)


@view
@external
def getRecoveryId(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256) -> bytes32:
    """
    @notice Id of a recovery proposal in the current recovery epoch.
    @param new_owners Proposed owners.
    @param new_threshold Proposed threshold.
    @return The id used by recoveryApprovalCount / recoveryReadyAt.
    """
    return self._recovery_id(new_owners, new_threshold, self.recoveryEpoch)


@view
@external
def getRecoveryOwners() -> DynArray[address, MAX_OWNERS]:
    """
    @notice Members of the recovery quorum.
    @return The recovery owners.
    """
    return self.recoveryOwners


@view
@external
def checkSignatures(dataHash: bytes32, data: Bytes[MAX_SIGNED_DATA], signatures: Bytes[MAX_SIGNATURES]):
    """
    @notice Revert unless `signatures` hold `threshold` valid owner signatures of `dataHash`.
    @param dataHash Signed hash.
    @param data Preimage of dataHash (only needed for EIP-1271 contract signatures).
    @param signatures Packed signatures sorted by signer address.
    """
    required: uint256 = self.threshold
    assert required > 0, "GS001"
    self._check_n_signatures(dataHash, data, signatures, required)


@view
@external
def checkNSignatures(
    dataHash: bytes32,
    data: Bytes[MAX_SIGNED_DATA],
    signatures: Bytes[MAX_SIGNATURES],
    requiredSignatures: uint256,
):
    """
    @notice Revert unless `signatures` hold `requiredSignatures` valid owner signatures.
    @dev v=1 (approved hash) counts for msg.sender itself, as in Safe.
    @param dataHash Signed hash.
    @param data Preimage of dataHash (only needed for EIP-1271 contract signatures).
    @param signatures Packed signatures sorted by signer address.
    @param requiredSignatures Number of signatures to check (at most 16).
    """
    self._check_n_signatures(dataHash, data, signatures, requiredSignatures)


@view
@external
def getTransactionHash(
    to: address,
    _value: uint256,
    data: Bytes[MAX_DATA],
    operation: uint8,
    safeTxGas: uint256,
    baseGas: uint256,
    gasPrice: uint256,
    gasToken: address,
    refundReceiver: address,
    _nonce: uint256,
) -> bytes32:
    """
    @notice EIP-712 hash of a SafeTx for this contract (what owners sign).
    @param to Call target.
    @param _value Wei sent.
    @param data Calldata.
    @param operation 0 = CALL, 1 = DELEGATECALL (hashable, never executable here).
    @param safeTxGas Minimum gas for the call.
    @param baseGas Refund parameter (hashed only).
    @param gasPrice Refund parameter (must be 0 to execute).
    @param gasToken Refund parameter (hashed only).
    @param refundReceiver Refund parameter (hashed only).
    @param _nonce Transaction nonce.
    @return keccak256 of encodeTransactionData(...).
    """
    return keccak256(
        self._encode_transaction_data(
            to,
            _value,
            keccak256(data),
            operation,
            safeTxGas,
            baseGas,
            gasPrice,
            gasToken,
            refundReceiver,
            _nonce,
        )
    )


@view
@external
def encodeTransactionData(
    to: address,
    _value: uint256,
    data: Bytes[MAX_DATA],
    operation: uint8,
    safeTxGas: uint256,
    baseGas: uint256,
    gasPrice: uint256,
    gasToken: address,
    refundReceiver: address,
    _nonce: uint256,
) -> Bytes[66]:
    """
    @notice EIP-712 preimage 0x19 0x01 || domainSeparator || hashStruct(SafeTx).
    @param to Call target.
    @param _value Wei sent.
    @param data Calldata.
    @param operation 0 = CALL, 1 = DELEGATECALL.
    @param safeTxGas Minimum gas for the call.
    @param baseGas Refund parameter.
    @param gasPrice Refund parameter.
    @param gasToken Refund parameter.
    @param refundReceiver Refund parameter.
    @param _nonce Transaction nonce.
    @return The 66-byte preimage.
    """
    return self._encode_transaction_data(
        to,
        _value,
        keccak256(data),
        operation,
        safeTxGas,
        baseGas,
        gasPrice,
        gasToken,
        refundReceiver,
        _nonce,
    )


@view
@external
def domainSeparator() -> bytes32:
    """
    @notice EIP-712 domain separator: EIP712Domain(uint256 chainId,address verifyingContract).
    @return The domain separator for the current chain id and this address.
    """
    return self._domain_separator()


@view
@external
def getChainId() -> uint256:
    """
    @notice Chain id used in the domain separator.
    @return chain.id
    """
    return chain.id


@view
@external
def getOwners() -> DynArray[address, MAX_OWNERS]:
    """
    @notice Owners in linked-list order (Safe order: most recently added first).
    @return The owners.
    """
    result: DynArray[address, MAX_OWNERS] = []
    current: address = self.owners[SENTINEL_OWNERS]
    for _: uint256 in range(MAX_OWNERS):
        if current == SENTINEL_OWNERS or current == empty(address):
            break
        result.append(current)
        current = self.owners[current]
    return result


@view
@external
def getThreshold() -> uint256:
    """
    @notice Number of owner signatures required.
    @return The threshold.
    """
    return self.threshold


@view
@external
def isOwner(owner: address) -> bool:
    """
    @notice Whether `owner` is an owner.
    @param owner Address to check.
    @return True for owners.
    """
    return owner != SENTINEL_OWNERS and self.owners[owner] != empty(address)

# INTERNAL #

@internal
def _only_self():
    assert msg.sender == self, "GS031"


@internal
def _setup_owners(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    # Safe's setupOwners on an empty list (checks GS201, GS202, GS203, GS204).
    count: uint256 = len(new_owners)
    assert new_threshold <= count, "GS201"
    assert new_threshold >= 1, "GS202"
    current: address = SENTINEL_OWNERS
    for owner: address in new_owners:
        assert (
            owner != empty(address)
            and owner != SENTINEL_OWNERS
            and owner != self
            and owner != current
        ), "GS203"
        assert self.owners[owner] == empty(address), "GS204"
        self.owners[current] = owner
        current = owner
    self.owners[current] = SENTINEL_OWNERS
    self.ownerCount = count
    self.threshold = new_threshold


@internal
def _change_threshold(_threshold: uint256):
    assert _threshold <= self.ownerCount, "GS201"
    assert _threshold >= 1, "GS202"
    self.threshold = _threshold
    log ChangedThreshold(threshold=_threshold)


@internal
def _set_recovery(
    recovery_owners: DynArray[address, MAX_OWNERS],
    recovery_threshold: uint256,
    recovery_delay: uint256,
) -> uint256:
    # Caller clears isRecoveryOwner of the previous members first.
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


@view
@internal
def _validate_owner_set(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    # Same rules as _setup_owners, checked without storage (used when a recovery is proposed).
    assert new_threshold <= len(new_owners), "GS201"
    assert new_threshold >= 1, "GS202"
    i: uint256 = 0
    for owner: address in new_owners:
        assert owner != empty(address) and owner != SENTINEL_OWNERS and owner != self, "GS203"
        for j: uint256 in range(i, bound=MAX_OWNERS):
            assert new_owners[j] != owner, "GS204"
        i += 1


@view
@internal
def _recovery_id(
    new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256, epoch: uint256
) -> bytes32:
    return keccak256(abi_encode(self, chain.id, epoch, new_owners, new_threshold))


@view
@internal
def _domain_separator() -> bytes32:
    return keccak256(abi_encode(DOMAIN_SEPARATOR_TYPEHASH, chain.id, self))


@view
@internal
def _encode_transaction_data(
    to: address,
    _value: uint256,
    data_hash: bytes32,
    operation: uint8,
    safeTxGas: uint256,
    baseGas: uint256,
    gasPrice: uint256,
    gasToken: address,
    refundReceiver: address,
    _nonce: uint256,
) -> Bytes[66]:
    safe_tx_hash: bytes32 = keccak256(
        abi_encode(
            SAFE_TX_TYPEHASH,
            to,
            _value,
            data_hash,
            operation,
            safeTxGas,
            baseGas,
            gasPrice,
            gasToken,
            refundReceiver,
            _nonce,
        )
    )
    return concat(b"\x19\x01", self._domain_separator(), safe_tx_hash)


@view
@internal
def _check_n_signatures(
    dataHash: bytes32,
    data: Bytes[MAX_SIGNED_DATA],
    signatures: Bytes[MAX_SIGNATURES],
    requiredSignatures: uint256,
):
    # Safe 1.4.1 checkNSignatures, signature kinds by v:
    #   0: EIP-1271 contract owner, r = owner, s = offset of (length, signature) in `signatures`
    #   1: approved hash, r = owner; msg.sender itself or approvedHashes[owner][dataHash] != 0
    #   >30: eth_sign, ecrecover over "\x19Ethereum Signed Message:\n32" || dataHash with v - 4
    #   else: ECDSA over dataHash (27/28)
    # Signers must be owners in strictly ascending address order (no duplicates).
    assert len(signatures) >= requiredSignatures * 65, "GS020"
    last_owner: address = empty(address)
    for i: uint256 in range(requiredSignatures, bound=MAX_OWNERS):
        pos: uint256 = i * 65
        r: uint256 = extract32(signatures, pos, output_type=uint256)
        s: uint256 = extract32(signatures, pos + 32, output_type=uint256)
        v: uint256 = extract32(signatures, pos + 33, output_type=uint256) & 255
        current_owner: address = empty(address)
        if v == 0:
            assert keccak256(data) == dataHash, "GS027"
            current_owner = convert(r & ADDRESS_MASK, address)
            assert s >= requiredSignatures * 65, "GS021"
            assert s + 32 <= len(signatures), "GS022"
            signature_length: uint256 = extract32(signatures, s, output_type=uint256)
            assert s + 32 + signature_length <= len(signatures), "GS023"
            contract_signature: Bytes[MAX_SIGNATURES] = slice(signatures, s + 32, signature_length)
            assert (
                staticcall ISignatureValidator(current_owner).isValidSignature(data, contract_signature)
                == EIP1271_MAGIC_VALUE
            ), "GS024"
        elif v == 1:
            current_owner = convert(r & ADDRESS_MASK, address)
            assert (
                msg.sender == current_owner or self.approvedHashes[current_owner][dataHash] != 0
            ), "GS025"
        elif v > 30:
            current_owner = ecrecover(
                keccak256(concat(b"\x19Ethereum Signed Message:\n32", dataHash)), v - 4, r, s
            )
        else:
            current_owner = ecrecover(dataHash, v, r, s)
        assert (
            convert(current_owner, uint256) > convert(last_owner, uint256)
            and self.owners[current_owner] != empty(address)
            and current_owner != SENTINEL_OWNERS
        ), "GS026"
        last_owner = current_owner
