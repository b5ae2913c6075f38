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

    Safe tooling reads it as a Safe: storage slot 0 holds the singleton (this contract itself:
    it is not a proxy), the guard, module guard and fallback handler slots are empty,
    `getModulesPaginated` answers no modules, and EIP-1271 (`isValidSignature` in both the
    bytes32 and the legacy bytes flavour, `signMessage`, `getMessageHash`, `signedMessages`)
    is answered by the contract itself with CompatibilityFallbackHandler 1.4.1's semantics, so
    this multisig can own a Safe (or another multisig) and sign for it.

    One concern per module (contracts/multisig/, like Safe's OwnerManager.sol /
    SelfAuthorized.sol): `owner_manager` (owners, threshold, the owner-set rules),
    `signature_checker` (signatures, approved hashes, EIP-1271; it initializes the owner
    manager it checks against), `recovery` (the delayed recovery quorum), `self_authorized`.
    This file holds execution, the Safe-tooling views and the glue.

    Deliberate differences from Safe 1.4.1 (custody hardening):
    - `operation` 1 (DELEGATECALL) is refused except to Safe's canonical MultiSendCallOnly 1.4.1,
      pinned by address and runtime code hash (checked at execution). A delegatecall runs the
      target's code in this contract's storage context, so any other target could rewrite
      owners, threshold and nonce; MultiSendCallOnly's code only makes CALLs (it reverts on a
      nested delegatecall) and writes no storage, so Safe tooling's batches run unchanged.
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
    GS105 / GS106 invalid module page start / size, GS201 threshold above owner count,
    GS202 threshold zero, GS203 invalid owner address, GS204 already an owner,
    GS205 wrong prevOwner/owner pair.
    Strongroom-specific checks revert with plain-language reasons.
"""

from .multisig import owner_manager
from .multisig import recovery
from .multisig import signature_checker

# EVENTS #

event MultisigSetup:
    initiator: indexed(address)
    owners: DynArray[address, owner_manager.MAX_OWNERS]
    threshold: uint256
    recoveryOwners: DynArray[address, owner_manager.MAX_OWNERS]
    recoveryThreshold: uint256
    recoveryDelay: uint256

event ExecutionSuccess:
    txHash: indexed(bytes32)
    payment: uint256

event ExecutionFailure:
    txHash: indexed(bytes32)
    payment: uint256

event SafeReceived:
    sender: indexed(address)
    value: uint256

# CONSTANTS #

# Version of the Safe signing interface this contract implements. Safe tooling reads VERSION to
# pick the EIP-712 domain (chainId is part of it from 1.3.0 on).
VERSION: public(constant(String[5])) = "1.4.1"

# Largest `data` payload of a transaction.
MAX_DATA: constant(uint256) = 4096
MAX_SIGNATURES: constant(uint256) = signature_checker.MAX_SIGNATURES

# keccak256("SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)")
SAFE_TX_TYPEHASH: constant(bytes32) = 0xbb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8

OPERATION_CALL: constant(uint8) = 0
OPERATION_DELEGATECALL: constant(uint8) = 1

# The only delegatecall target: Safe's canonical MultiSendCallOnly 1.4.1 (safe-deployments
# address and runtime code hash). Its code only CALLs (a nested delegatecall reverts).
MULTISEND_CALL_ONLY: public(constant(address)) = 0x9641d764fc13c8B624c04430C7356C1C7C8102e2
MULTISEND_CALL_ONLY_CODEHASH: public(constant(bytes32)) = 0xecd5bd14a08c5d2122379900b2f272bdf107a7e92423c10dd5fe3254386c9939

SENTINEL_MODULES: constant(address) = 0x0000000000000000000000000000000000000001
# isValidSignature(bytes32,bytes) calldata bound (selector, hash, offset, length, signature)
# and the identity precompile that copies it into memory.
MAX_BYTES32_CALLDATA: constant(uint256) = 4 + 3 * 32 + MAX_SIGNATURES
IDENTITY: constant(address) = 0x0000000000000000000000000000000000000004

# STORAGE #

# Storage slot 0, as in a Safe proxy: the singleton whose code runs here (this contract).
# safe-eth-py reads it with eth_getStorageAt to recognise a Safe. Written once.
singleton: address

initializes: signature_checker
initializes: recovery

# @notice Number of the next transaction; part of every SafeTx hash (replay protection).
nonce: public(uint256)

exports: (
    signature_checker.owner_manager.addOwnerWithThreshold,
    signature_checker.owner_manager.removeOwner,
    signature_checker.owner_manager.swapOwner,
    signature_checker.owner_manager.changeThreshold,
    signature_checker.owner_manager.getOwners,
    signature_checker.owner_manager.getThreshold,
    signature_checker.owner_manager.isOwner,
    signature_checker.approveHash,
    signature_checker.approvedHashes,
    signature_checker.signMessage,
    signature_checker.signedMessages,
    signature_checker.isValidSignature,
    signature_checker.getMessageHash,
    signature_checker.checkSignatures,
    signature_checker.checkNSignatures,
    signature_checker.domainSeparator,
    recovery.changeRecovery,
    recovery.proposeRecovery,
    recovery.cancelRecovery,
    recovery.getRecoveryId,
    recovery.getRecoveryOwners,
    recovery.isRecoveryOwner,
    recovery.recoveryThreshold,
    recovery.recoveryDelay,
    recovery.recoveryEpoch,
    recovery.recoveryApprovals,
    recovery.recoveryApprovalCount,
    recovery.recoveryReadyAt,
    recovery.recoveryExpiresAt,
    recovery.MIN_RECOVERY_DELAY,
    recovery.DEFAULT_RECOVERY_DELAY,
    recovery.RECOVERY_WINDOW,
    recovery.MIN_RECOVERY_THRESHOLD,
)

# CONSTRUCTOR #

@deploy
def __init__(
    owners: DynArray[address, owner_manager.MAX_OWNERS],
    threshold: uint256,
    recovery_owners: DynArray[address, owner_manager.MAX_OWNERS],
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
    self.singleton = self
    signature_checker.owner_manager._setup_owners(owners, threshold)
    delay: uint256 = recovery._set_recovery(recovery_owners, recovery_threshold, recovery_delay)
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
def __default__() -> bytes4:
    """
    @notice Receive ETH (plain transfers, emits SafeReceived) and answer the standard EIP-1271
        isValidSignature(bytes32 _dataHash, bytes _signature) -> 0x1626ba7e; any other unknown
        call reverts instead of being swallowed.
    @dev Like Safe's CompatibilityFallbackHandler, the bytes32 flavour calls this contract's
        legacy isValidSignature(abi.encode(_dataHash), _signature) and reverts unless it holds.
        Vyper has no overloads, hence the fallback; it calls no internal function, so a plain
        ETH receipt touches little memory and fits a 2300-gas stipend.
    @return 0x1626ba7e for a valid EIP-1271 call; nothing meaningful for a transfer.
    """
    if len(msg.data) == 0:
        log SafeReceived(sender=msg.sender, value=msg.value)
        return empty(bytes4)
    assert len(msg.data) >= 4 and msg.value == 0, "unknown function"
    selector: bytes4 = convert(slice(msg.data, 0, 4), bytes4)
    assert selector == signature_checker.EIP1271_UPDATED_MAGIC_VALUE, "unknown function"
    assert len(msg.data) <= MAX_BYTES32_CALLDATA, "calldata too long"
    # Vyper cannot slice msg.data with a run-time length: copy it through the identity precompile.
    call_data: Bytes[MAX_BYTES32_CALLDATA] = raw_call(
        IDENTITY, msg.data, max_outsize=MAX_BYTES32_CALLDATA, is_static_call=True
    )
    data_hash: bytes32 = empty(bytes32)
    signature: Bytes[MAX_SIGNATURES] = b""
    data_hash, signature = abi_decode(
        slice(call_data, 4, len(call_data) - 4), (bytes32, Bytes[MAX_SIGNATURES])
    )
    legacy: Bytes[32] = raw_call(
        self,
        abi_encode(
            abi_encode(data_hash),
            signature,
            method_id=method_id("isValidSignature(bytes,bytes)"),
        ),
        max_outsize=32,
        is_static_call=True,
    )
    assert convert(slice(legacy, 0, 4), bytes4) == signature_checker.EIP1271_MAGIC_VALUE, "GS024"
    return signature_checker.EIP1271_UPDATED_MAGIC_VALUE


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

        Batches: operation 1 (DELEGATECALL) is accepted only to MULTISEND_CALL_ONLY, Safe's
        canonical MultiSendCallOnly 1.4.1, whose runtime code hash must equal
        MULTISEND_CALL_ONLY_CODEHASH at execution, with value 0; `data` is its
        multiSend(bytes) calldata exactly as Safe tooling builds it (safe-eth-py MultiSend,
        Safe{Wallet} transaction builder). Each batched call is then a CALL from this contract
        (self-calls included, so owner changes can be batched). Any other delegatecall is
        refused: it would run foreign code in this contract's storage context, where it could
        rewrite owners, threshold, nonce and recovery settings. A CALL to a multisend contract
        does not batch: the calls would come from that contract, not from this wallet.

        Gas refunds are not implemented: gasPrice must be 0, and then baseGas, gasToken and
        refundReceiver are only hashed, exactly as Safe ignores them when gasPrice == 0. Our
        submitters are our own keepers that pay their own gas; paying relayers out of custody
        balances would let any signed transaction drain gas tokens to `refundReceiver`.
        Any ETH sent along with the call stays in the multisig (SafeReceived is emitted).
    @param to Call target (MULTISEND_CALL_ONLY for a batch).
    @param _value Wei sent with the call (0 for a batch).
    @param data Calldata of the call.
    @param operation 0 (CALL), or 1 (DELEGATECALL) to MULTISEND_CALL_ONLY only.
    @param safeTxGas Gas that must remain for the call; 0 means "revert if the call fails".
    @param baseGas Hashed only (refunds unsupported).
    @param gasPrice Must be 0 (refunds unsupported).
    @param gasToken Hashed only (refunds unsupported).
    @param refundReceiver Hashed only (refunds unsupported).
    @param signatures Packed signatures sorted by signer address, 65 bytes each plus
        EIP-1271 dynamic parts.
    @return success Whether the inner call succeeded.
    """
    if operation != OPERATION_CALL:
        assert operation == OPERATION_DELEGATECALL and to == MULTISEND_CALL_ONLY, (
            "operation must be CALL: delegatecall refused"
        )
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
    signature_checker._check_n_signatures(
        tx_hash, tx_hash_data, signatures, signature_checker.owner_manager.threshold, msg.sender
    )

    assert msg.gas >= max(safeTxGas * 64 // 63, safeTxGas + 2500) + 500, "GS010"
    success: bool = False
    if operation == OPERATION_CALL:
        success = raw_call(to, data, value=_value, revert_on_failure=False)
    else:
        assert _value == 0, "delegatecall carries no value"
        assert to.codehash == MULTISEND_CALL_ONLY_CODEHASH, "MultiSendCallOnly code hash mismatch"
        success = raw_call(to, data, is_delegate_call=True, revert_on_failure=False)
    assert success or safeTxGas != 0, "GS013"
    if success:
        log ExecutionSuccess(txHash=tx_hash, payment=0)
    else:
        log ExecutionFailure(txHash=tx_hash, payment=0)
    return success


@external
def executeRecovery(
    new_owners: DynArray[address, owner_manager.MAX_OWNERS], new_threshold: uint256
):
    """
    @notice Replace all owners and the threshold with a quorate recovery proposal whose
        delay has passed and whose execution window (RECOVERY_WINDOW) has not.
    @dev Recovery owners only. Bumps the recovery epoch (no proposal can run twice). The
        transaction nonce is kept; signatures of removed owners stop counting at once.
    @param new_owners Replacement owners, exactly as proposed.
    @param new_threshold Replacement threshold, exactly as proposed.
    """
    recovery._consume(new_owners, new_threshold)
    signature_checker.owner_manager._replace_owners(new_owners, new_threshold)


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
    @param operation 0 = CALL, 1 = DELEGATECALL (executable only to MULTISEND_CALL_ONLY).
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
def getModulesPaginated(start: address, pageSize: uint256) -> (DynArray[address, 1], address):
    """
    @notice Safe's module page: this multisig has no modules and cannot enable any.
    @dev Same checks as Safe 1.4.1 with an empty module list (GS105, GS106).
    @param start SENTINEL (0x1), the only valid start with no modules.
    @param pageSize Maximum number of modules to return (> 0).
    @return array The modules (always empty).
    @return next SENTINEL (end of the list).
    """
    assert start == SENTINEL_MODULES, "GS105"
    assert pageSize > 0, "GS106"
    return [], SENTINEL_MODULES


@view
@external
def isModuleEnabled(module: address) -> bool:
    """
    @notice Whether `module` is an enabled module: never (no modules here).
    @param module Address to check.
    @return False
    """
    return False


@view
@external
def getChainId() -> uint256:
    """
    @notice Chain id used in the domain separator.
    @return chain.id
    """
    return chain.id

# INTERNAL #

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
    return concat(b"\x19\x01", signature_checker._domain_separator(), safe_tx_hash)
