# pragma version 0.4.3
"""
@title Strongroom Multisig: signature checking
@license Apache-2.0
@author Strongroom
@notice Safe 1.4.1's signature rules over the owner set this module initializes:
    - `checkSignatures` / `checkNSignatures`: packed 65-byte signatures sorted by signer
      address ascending; v=0 EIP-1271 contract owner, v=1 approved hash (approveHash, or the
      caller itself where Safe counts it), v>30 eth_sign, v=27/28 ECDSA.
    - EIP-1271 for the multisig itself, with the semantics of Safe's CompatibilityFallbackHandler
      1.4.1: a message is signed by `threshold` owners over its SafeMessage EIP-712 hash
      `keccak256(0x19 0x01 || domainSeparator || keccak256(abi.encode(SAFE_MSG_TYPEHASH,
      keccak256(message))))`; an empty signature means the message was approved on-chain with
      `signMessage` (a self-call, like Safe's SignMessageLib). So the multisig can own a Safe or
      another multisig and sign for it (v=0 there), and sign off-chain messages for dapps.
    Error codes as in Safe: GS001, GS020-GS027, GS030, GS031; "Hash not approved" as the handler.
"""

from . import owner_manager
from . import self_authorized

initializes: owner_manager

# INTERFACES #

interface ISignatureValidator:
    # Legacy EIP-1271 as used by Safe 1.4.1 (ISignatureValidator): magic value 0x20c13b0b.
    def isValidSignature(_data: Bytes[MAX_SIGNED_DATA], _signature: Bytes[MAX_SIGNATURES]) -> bytes4: view

# EVENTS #

event ApproveHash:
    approvedHash: indexed(bytes32)
    owner: indexed(address)

event SignMsg:
    msgHash: indexed(bytes32)

# CONSTANTS #

# Largest packed signature blob (16 static parts of 65 bytes + EIP-1271 dynamic parts).
MAX_SIGNATURES: constant(uint256) = 4096
# Largest signed `data` / message (a SafeTx preimage is 66 bytes).
MAX_SIGNED_DATA: constant(uint256) = 1024
ADDRESS_MASK: constant(uint256) = 2**160 - 1

# keccak256("EIP712Domain(uint256 chainId,address verifyingContract)")
DOMAIN_SEPARATOR_TYPEHASH: constant(bytes32) = 0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218
# keccak256("SafeMessage(bytes message)")
SAFE_MSG_TYPEHASH: constant(bytes32) = 0x60b3cbf8b4a223d68d641b3b6ddf9a298e7f33710cf3d3a9d1146b5a6150fbca
# bytes4(keccak256("isValidSignature(bytes,bytes)"))
EIP1271_MAGIC_VALUE: constant(bytes4) = 0x20c13b0b
# bytes4(keccak256("isValidSignature(bytes32,bytes)"))
EIP1271_UPDATED_MAGIC_VALUE: constant(bytes4) = 0x1626ba7e

# STORAGE #

# @notice owner => hash => 1 when the owner approved the hash on-chain (Safe's approveHash).
approvedHashes: public(HashMap[address, HashMap[bytes32, uint256]])
# @notice SafeMessage hash => 1 when the owners approved the message on-chain (signMessage).
signedMessages: public(HashMap[bytes32, uint256])

# EXTERNAL #


@external
def approveHash(hashToApprove: bytes32):
    """
    @notice Approve a hash on-chain as the calling owner (v=1 signatures then count it).
    @param hashToApprove SafeTx hash (or any hash checked with checkSignatures).
    """
    assert owner_manager._is_owner(msg.sender), "GS030"
    self.approvedHashes[msg.sender][hashToApprove] = 1
    log ApproveHash(approvedHash=hashToApprove, owner=msg.sender)


@external
def signMessage(_data: Bytes[MAX_SIGNED_DATA]):
    """
    @notice Approve a message on-chain: isValidSignature then accepts it with an empty signature.
    @dev Only through execTransaction (self-call); the calldata is that of Safe's
        SignMessageLib.signMessage(bytes), sent as a CALL to the multisig itself.
    @param _data The message (for the bytes32 flavour: abi.encode(dataHash)).
    """
    self_authorized._only_self()
    msg_hash: bytes32 = keccak256(self._message_data(_data))
    self.signedMessages[msg_hash] = 1
    log SignMsg(msgHash=msg_hash)


@view
@external
def isValidSignature(_data: Bytes[MAX_SIGNED_DATA], _signature: Bytes[MAX_SIGNATURES]) -> bytes4:
    """
    @notice Legacy EIP-1271 (what Safe 1.4.1 calls on contract owners): 0x20c13b0b when the
        owners signed `_data` as a SafeMessage; reverts otherwise, like Safe's
        CompatibilityFallbackHandler.
    @dev The standard isValidSignature(bytes32,bytes) -> 0x1626ba7e is answered by the
        multisig's fallback (Vyper has no overloads) by calling this with abi.encode(hash),
        exactly as the handler calls back the Safe.
    @param _data The signed message (for a Safe this multisig owns: its SafeTx preimage).
    @param _signature Owner signatures over getMessageHash(_data); empty for a message
        approved with signMessage.
    @return 0x20c13b0b
    """
    self._check_message(_data, _signature)
    return EIP1271_MAGIC_VALUE


@view
@external
def getMessageHash(message: Bytes[MAX_SIGNED_DATA]) -> bytes32:
    """
    @notice SafeMessage EIP-712 hash of `message` for this multisig (what owners sign).
    @param message The message.
    @return keccak256(0x19 0x01 || domainSeparator || hashStruct(SafeMessage)).
    """
    return keccak256(self._message_data(message))


@view
@external
def checkSignatures(dataHash: bytes32, data: Bytes[MAX_SIGNED_DATA], signatures: Bytes[MAX_SIGNATURES]):
    """
    @notice Revert unless `signatures` hold `threshold` valid owner signatures of `dataHash`.
    @param dataHash Signed hash.
    @param data Preimage of dataHash (only needed for EIP-1271 contract signatures).
    @param signatures Packed signatures sorted by signer address.
    """
    self._check_signatures(dataHash, data, signatures, msg.sender)


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
    self._check_n_signatures(dataHash, data, signatures, requiredSignatures, msg.sender)


@view
@external
def domainSeparator() -> bytes32:
    """
    @notice EIP-712 domain separator: EIP712Domain(uint256 chainId,address verifyingContract).
    @return The domain separator for the current chain id and this address.
    """
    return self._domain_separator()

# INTERNAL #


@view
@internal
def _domain_separator() -> bytes32:
    return keccak256(abi_encode(DOMAIN_SEPARATOR_TYPEHASH, chain.id, self))


@view
@internal
def _message_data(message: Bytes[MAX_SIGNED_DATA]) -> Bytes[66]:
    # Safe's CompatibilityFallbackHandler.encodeMessageDataForSafe with this contract as the Safe.
    safe_message_hash: bytes32 = keccak256(abi_encode(SAFE_MSG_TYPEHASH, keccak256(message)))
    return concat(b"\x19\x01", self._domain_separator(), safe_message_hash)


@view
@internal
def _check_message(message: Bytes[MAX_SIGNED_DATA], signature: Bytes[MAX_SIGNATURES]):
    # CompatibilityFallbackHandler.isValidSignature(bytes,bytes): revert unless the owners signed
    # the SafeMessage (or approved it on-chain when `signature` is empty). No caller counts as
    # an implicit v=1 approver here: in Safe the handler is the caller of checkSignatures.
    message_data: Bytes[66] = self._message_data(message)
    message_hash: bytes32 = keccak256(message_data)
    if len(signature) == 0:
        assert self.signedMessages[message_hash] != 0, "Hash not approved"
    else:
        self._check_signatures(message_hash, message_data, signature, empty(address))


@view
@internal
def _check_signatures(
    dataHash: bytes32,
    data: Bytes[MAX_SIGNED_DATA],
    signatures: Bytes[MAX_SIGNATURES],
    implicit_approver: address,
):
    required: uint256 = owner_manager.threshold
    assert required > 0, "GS001"
    self._check_n_signatures(dataHash, data, signatures, required, implicit_approver)


@view
@internal
def _check_n_signatures(
    dataHash: bytes32,
    data: Bytes[MAX_SIGNED_DATA],
    signatures: Bytes[MAX_SIGNATURES],
    requiredSignatures: uint256,
    implicit_approver: address,
):
    # Safe 1.4.1 checkNSignatures, signature kinds by v:
    #   0: EIP-1271 contract owner, r = owner, s = offset of (length, signature) in `signatures`
    #   1: approved hash, r = owner; `implicit_approver` itself or approvedHashes[owner][dataHash]
    #   >30: eth_sign, ecrecover over "\x19Ethereum Signed Message:\n32" || dataHash with v - 4
    #   else: ECDSA over dataHash (27/28)
    # Signers must be owners in strictly ascending address order (no duplicates).
    assert len(signatures) >= requiredSignatures * 65, "GS020"
    # Starting above the sentinel makes "strictly ascending" also exclude 0x0 and 0x1, so
    # `current > last and listed` is Safe's `current > last && owners[current] != 0 &&
    # current != SENTINEL` (owner_manager._is_owner, inlined: it runs once per signature).
    last_owner: address = owner_manager.SENTINEL_OWNERS
    for i: uint256 in range(requiredSignatures, bound=owner_manager.MAX_OWNERS):
        pos: uint256 = i * 65
        r: uint256 = extract32(signatures, pos, output_type=uint256)
        s: uint256 = extract32(signatures, pos + 32, output_type=uint256)
        v: uint256 = extract32(signatures, pos + 33, output_type=uint256) & 255
        current_owner: address = empty(address)
        # Same kinds as Safe, tested most common first (the branches are disjoint).
        if v > 30:
            current_owner = ecrecover(
                keccak256(concat(b"\x19Ethereum Signed Message:\n32", dataHash)), v - 4, r, s
            )
        elif v > 1:
            current_owner = ecrecover(dataHash, v, r, s)
        elif v == 1:
            current_owner = convert(r & ADDRESS_MASK, address)
            assert (
                implicit_approver == current_owner
                or self.approvedHashes[current_owner][dataHash] != 0
            ), "GS025"
        else:
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
        assert (
            convert(current_owner, uint256) > convert(last_owner, uint256)
            and owner_manager.owners[current_owner] != empty(address)
        ), "GS026"
        last_owner = current_owner
