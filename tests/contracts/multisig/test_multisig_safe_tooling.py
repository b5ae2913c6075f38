"""Safe tooling against our Multisig (security review finding 2).

- safe-eth-py's `Safe(address, EthereumClient(rpc)).retrieve_all_info()` works and answers what
  we have: our owners/threshold/nonce/version, no modules, no guards, no fallback handler, and
  the contract itself as its singleton (storage slot 0, like a Safe proxy's `singleton`).
- EIP-1271 as Safe's CompatibilityFallbackHandler 1.4.1 answers it, but for this contract itself:
  `isValidSignature(bytes,bytes) -> 0x20c13b0b`, `isValidSignature(bytes32,bytes) -> 0x1626ba7e`,
  over the SafeMessage EIP-712 hash on our domain; an empty signature means a message approved
  on-chain by a self-call `signMessage`. Proven end to end: our Multisig owns a real Safe 1.4.1
  and another of our Multisigs and signs their transactions with v=0 contract signatures.
- Batching: DELEGATECALL only to the canonical MultiSendCallOnly 1.4.1 (address and code hash
  pinned); safe-eth-py's MultiSend encoder builds the batch; every other delegatecall reverts.
"""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import keccak
from msig_utils import (
    RECOVERY_DELAY,
    ZERO,
    SafeTxParams,
    approved,
    assert_reverts,
    contract_sig,
    deploy_safe_proxy,
    ecdsa,
    eth_sign,
    execute,
    msig_nonce,
    pack,
    self_call,
    sign_all,
    transfer_data,
)
from safe_eth.eth import EthereumClient
from safe_eth.eth.contracts.abis.multicall import multicall_v3_bytecode
from safe_eth.safe import Safe
from safe_eth.safe.multi_send import MultiSend, MultiSendOperation, MultiSendTx
from safe_eth.safe.safe_signature import SafeSignature
from web3.exceptions import ContractLogicError

LEGACY_MAGIC = bytes.fromhex("20c13b0b")
MAGIC = bytes.fromhex("1626ba7e")
MULTISEND_CALL_ONLY = "0x9641d764fc13c8B624c04430C7356C1C7C8102e2"
MULTISEND = "0x38869bf66a61cF6bDB996A6aE40D5853Fd43B526"
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
SAFE_MSG_TYPEHASH = keccak(text="SafeMessage(bytes message)")
ONLY_MULTISEND_CALL_ONLY = "operation must be CALL: delegatecall refused"


def _client(chain) -> EthereumClient:
    return EthereumClient(chain.provider.web3.provider.endpoint_uri, use_request_caching=False)


def _eip1271(w3, msig, selector: bytes, types: list[str], args: list, sender: str) -> bytes:
    """eth_call of an isValidSignature flavour by selector; its bytes4 answer (reverts raise)."""
    data = selector + encode(types, args)
    return decode(["bytes4"], bytes(w3.eth.call({"from": sender, "to": msig.address, "data": data})))[0]


def _legacy(w3, msig, message: bytes, signature: bytes, sender: str) -> bytes:
    """isValidSignature(bytes,bytes): Safe 1.4.1's ISignatureValidator."""
    return _eip1271(w3, msig, LEGACY_MAGIC, ["bytes", "bytes"], [message, signature], sender)


def _standard(w3, msig, digest: bytes, signature: bytes, sender: str) -> bytes:
    """isValidSignature(bytes32,bytes): EIP-1271 as dapps call it."""
    return _eip1271(w3, msig, MAGIC, ["bytes32", "bytes"], [digest, signature], sender)


def _message_hash(chain, msig, message: bytes) -> bytes:
    """SafeMessage hash of `message` for `msig`, computed as safe-eth-py computes it."""
    return bytes(Safe(msig.address, _client(chain)).get_message_hash(message))


def _contract_signature(chain, msig, message: bytes, signers) -> bytes:
    """Signatures of `signers` (owners of msig) over msig's SafeMessage hash of `message`."""
    h = _message_hash(chain, msig, message)
    return pack([ecdsa(a.private_key, h) for a in signers])


# --- safe-eth-py reads ------------------------------------------------------------------


@pytest.fixture
def multicall3(chain):
    """Multicall3 at its mainnet address, which safe-eth-py's batch calls use on chain id 1.

    The real mainnet has it; the local mainnet does not replay it yet, so place the runtime
    code of safe-eth-py's own Multicall3 artifact there (a no-op on a real mainnet fork).
    """
    w3 = chain.provider.web3
    if len(w3.eth.get_code(MULTICALL3)) == 0:
        runtime = w3.eth.call({"data": multicall_v3_bytecode})
        chain.provider.set_code(MULTICALL3, runtime)
    return MULTICALL3


def test_safe_eth_py_retrieve_all_info_control_real_safe(chain, real_safe, owner_accounts, multicall3):
    """Control: the same call against a real Safe 1.4.1 proxy."""
    info = Safe(real_safe.address, _client(chain)).retrieve_all_info()
    assert info.owners == [a.address for a in owner_accounts]
    assert info.threshold == 3 and info.version == "1.4.1" and info.modules == []
    assert info.master_copy != ZERO


def test_safe_eth_py_retrieve_all_info(chain, cold, owner_accounts, multicall3):
    info = Safe(cold.address, _client(chain)).retrieve_all_info()
    assert info.address == cold.address
    assert info.owners == [a.address for a in owner_accounts] == list(cold.getOwners())
    assert info.threshold == 3
    assert info.nonce == msig_nonce(cold) == 0
    assert info.version == "1.4.1"
    assert info.modules == []
    assert info.guard == ZERO and info.module_guard == ZERO
    assert info.fallback_handler == ZERO
    assert info.master_copy == cold.address  # not a proxy: the code runs at the address itself


def test_modules_views_answer_none(cold):
    modules, following = cold.getModulesPaginated("0x0000000000000000000000000000000000000001", 10)
    assert list(modules) == [] and following == "0x0000000000000000000000000000000000000001"
    assert not cold.isModuleEnabled(cold.address)
    me = type("Any", (), {"address": cold.address})()
    assert_reverts(cold, "getModulesPaginated", [cold.address, 10], me, "GS105", send=False)
    assert_reverts(cold, "getModulesPaginated", ["0x" + "00" * 19 + "01", 0], me, "GS106", send=False)


# --- EIP-1271 -----------------------------------------------------------------------------


def test_message_hash_matches_safe_formula(chain, cold):
    message = b"strongroom attests"
    h = bytes(cold.getMessageHash(message))
    struct = keccak(encode(["bytes32", "bytes32"], [SAFE_MSG_TYPEHASH, keccak(message)]))
    assert h == keccak(b"\x19\x01" + bytes(cold.domainSeparator()) + struct)
    assert h == _message_hash(chain, cold, message)


def test_is_valid_signature_both_flavours(chain, cold, owner_accounts, outsider):
    w3 = chain.provider.web3
    message = b"terms v3 accepted by Strongroom cold wallet"
    sigs = _contract_signature(chain, cold, message, owner_accounts[:3])
    assert _legacy(w3, cold, message, sigs, outsider.address) == LEGACY_MAGIC

    digest = keccak(text="an EIP-712 digest a dapp asks us to sign")
    sigs32 = _contract_signature(chain, cold, encode(["bytes32"], [digest]), owner_accounts[2:5])
    assert _standard(w3, cold, digest, sigs32, outsider.address) == MAGIC
    # Mixed kinds count as in checkSignatures (eth_sign here).
    h = _message_hash(chain, cold, encode(["bytes32"], [digest]))
    mixed = pack(
        [eth_sign(a.private_key, h) for a in owner_accounts[:2]] + [ecdsa(owner_accounts[4].private_key, h)]
    )
    assert _standard(w3, cold, digest, mixed, outsider.address) == MAGIC

    # Too few, wrong message, non-owner: refused (reverts, as Safe's handler does).
    for call, reason in (
        (lambda: _standard(w3, cold, digest, sigs32[:130], outsider.address), "GS020"),
        (lambda: _standard(w3, cold, keccak(digest), sigs32, outsider.address), "GS026"),
        (lambda: _legacy(w3, cold, message + b"!", sigs, outsider.address), "GS026"),
        (lambda: _legacy(w3, cold, message, sigs[:65], outsider.address), "GS020"),
    ):
        with pytest.raises(ContractLogicError, match=reason):
            call()


def test_fallback_answers_only_a_well_formed_bytes32_call(chain, cold, owner_accounts, outsider):
    """isValidSignature(bytes32,bytes) is answered by the fallback; anything else there reverts."""
    w3 = chain.provider.web3
    digest = keccak(text="d")
    sigs = _contract_signature(chain, cold, encode(["bytes32"], [digest]), owner_accounts[:3])
    good = MAGIC + encode(["bytes32", "bytes"], [digest, sigs])
    base = {"from": outsider.address, "to": cold.address}
    assert decode(["bytes4"], bytes(w3.eth.call({**base, "data": good})))[0] == MAGIC
    cases = [
        ({"data": good, "value": 1}, "unknown function"),  # payable fallback, but not for this
        ({"data": good[:3]}, "unknown function"),
        ({"data": b"\x12\x34\x56\x78" + good[4:]}, "unknown function"),
        ({"data": good[:-32]}, None),  # truncated: abi_decode refuses
        ({"data": MAGIC + encode(["bytes32", "bytes"], [digest, bytes(4097)])}, "calldata too long"),
    ]
    for extra, reason in cases:
        with pytest.raises(ContractLogicError) as info:
            w3.eth.call({**base, **extra})
        if reason is not None:
            assert reason in str(info.value), (extra, info.value)


def test_is_valid_signature_does_not_count_the_caller_as_approver(chain, cold, owner_accounts):
    """v=1 for msg.sender counts in execTransaction, not here (Safe's handler is the caller there)."""
    digest = keccak(text="approve-by-caller")
    h = _message_hash(chain, cold, encode(["bytes32"], [digest]))
    caller = owner_accounts[0]
    sigs = pack([approved(caller.address)] + [ecdsa(a.private_key, h) for a in owner_accounts[1:3]])
    w3 = chain.provider.web3
    with pytest.raises(ContractLogicError, match="GS025"):
        _standard(w3, cold, digest, sigs, caller.address)
    with pytest.raises(ContractLogicError, match="GS025"):
        _legacy(w3, cold, encode(["bytes32"], [digest]), sigs, caller.address)
    # Approved on-chain (approveHash of the message hash), it counts.
    cold.approveHash(h, sender=caller)
    assert _standard(w3, cold, digest, sigs, caller.address) == MAGIC


def test_sign_message_on_chain_then_empty_signature(chain, cold, owner_accounts, keeper, outsider):
    w3 = chain.provider.web3
    message = b"on-chain approved statement"
    h = bytes(cold.getMessageHash(message))
    assert cold.signedMessages(h) == 0
    with pytest.raises(ContractLogicError, match="Hash not approved"):
        _legacy(w3, cold, message, b"", outsider.address)
    assert_reverts(cold, "signMessage", [message], outsider, "GS031")

    receipt = self_call(cold, owner_accounts[:3], keeper, bytes(cold.signMessage.encode_input(message)))
    assert [bytes(e.msgHash) for e in cold.SignMsg.from_receipt(receipt)] == [h]
    assert cold.signedMessages(h) == 1
    assert _legacy(w3, cold, message, b"", outsider.address) == LEGACY_MAGIC
    # bytes32 flavour: the message is abi.encode(digest).
    digest = keccak(text="digest approved on-chain")
    self_call(
        cold, owner_accounts[:3], keeper, bytes(cold.signMessage.encode_input(encode(["bytes32"], [digest])))
    )
    assert _standard(w3, cold, digest, b"", outsider.address) == MAGIC
    with pytest.raises(ContractLogicError, match="Hash not approved"):
        _standard(w3, cold, keccak(digest), b"", outsider.address)


def test_multisig_owns_a_real_safe_and_signs_with_v0(
    chain, warm, owner_accounts, keeper, outsider, safe_singleton_and_factory
):
    singleton, factory, _ = safe_singleton_and_factory
    co_owner = owner_accounts[4]
    safe = deploy_safe_proxy(chain, keeper, singleton, factory, [warm.address, co_owner.address], 2, 4242)
    keeper.transfer(safe.address, 10**18)
    tx = SafeTxParams(to=outsider.address, value=12345)
    nonce = safe.call_view_method("nonce")
    tx_data = bytes(safe.encodeTransactionData(*tx.args(), nonce))
    h = keccak(tx_data)

    # warm (2-of-3) signs Safe's SafeTx preimage as a SafeMessage with two of its owners.
    inner = _contract_signature(chain, warm, tx_data, owner_accounts[:2])
    sigs = pack([contract_sig(warm.address, inner), ecdsa(co_owner.private_key, h)])
    safe.checkSignatures(h, tx_data, sigs)  # real Safe accepts it
    # safe-eth-py's own EIP-1271 check (the entrypoint a 1.4.1 Safe calls) agrees.
    parsed = SafeSignature.parse_signature(sigs, h, safe_hash_preimage=tx_data)
    assert {p.owner for p in parsed} == {warm.address, co_owner.address}
    assert all(p.is_valid(_client(chain), safe.address, safe_version="1.4.1") for p in parsed)

    # One warm owner is not enough: the Safe refuses (our revert bubbles up).
    weak = pack([contract_sig(warm.address, inner[:65]), ecdsa(co_owner.private_key, h)])
    assert_reverts(safe, "execTransaction", [*tx.args(), weak], keeper, "GS020")
    weak_part = next(
        p
        for p in SafeSignature.parse_signature(weak, h, safe_hash_preimage=tx_data)
        if p.owner == warm.address
    )
    assert not weak_part.is_valid(_client(chain), safe.address, safe_version="1.4.1")

    before = outsider.balance
    safe.execTransaction(*tx.args(), sigs, sender=keeper)
    assert outsider.balance == before + 12345
    assert safe.call_view_method("nonce") == nonce + 1


def test_multisig_owns_another_multisig(
    chain, multisig_container, warm, owner_accounts, keeper, outsider, recovery_accounts
):
    parent = keeper.deploy(
        multisig_container,
        [warm.address, owner_accounts[4].address],
        2,
        [a.address for a in recovery_accounts],
        2,
        RECOVERY_DELAY,
    )
    keeper.transfer(parent, 1000)
    tx = SafeTxParams(to=outsider.address, value=700)
    tx_data = bytes(parent.encodeTransactionData(*tx.args(), 0))
    h = keccak(tx_data)
    inner = _contract_signature(chain, warm, tx_data, owner_accounts[1:3])
    sigs = pack([contract_sig(warm.address, inner), ecdsa(owner_accounts[4].private_key, h)])
    before = outsider.balance
    execute(parent, tx, sigs, keeper)
    assert outsider.balance == before + 700 and msig_nonce(parent) == 1


# --- batching -------------------------------------------------------------------------------


def _batch(chain, token, outsider, keeper) -> bytes:
    multi_send = MultiSend(_client(chain), call_only=True)
    assert multi_send.address == MULTISEND_CALL_ONLY
    txs = [
        MultiSendTx(MultiSendOperation.CALL, token.address, 0, transfer_data(outsider.address, 111)),
        MultiSendTx(MultiSendOperation.CALL, token.address, 0, transfer_data(keeper.address, 222)),
    ]
    return bytes(multi_send.build_tx_data(txs))


def test_multisend_call_only_batch_executes(chain, warm, token, owner_accounts, keeper, outsider):
    data = _batch(chain, token, outsider, keeper)
    tx = SafeTxParams(to=MULTISEND_CALL_ONLY, data=data, operation=1)
    before = (token.balanceOf(outsider), token.balanceOf(keeper), token.balanceOf(warm))
    receipt = execute(warm, tx, sign_all(warm, tx, owner_accounts[:2]), keeper)
    assert len(warm.ExecutionSuccess.from_receipt(receipt)) == 1
    assert token.balanceOf(outsider) == before[0] + 111
    assert token.balanceOf(keeper) == before[1] + 222
    assert token.balanceOf(warm) == before[2] - 333
    assert msig_nonce(warm) == 1
    assert list(warm.getOwners()) == [a.address for a in owner_accounts[:3]]


def test_multisend_batch_is_all_or_nothing(chain, warm, token, owner_accounts, keeper, outsider):
    """A failing inner call fails the whole batch (safeTxGas 0: GS013, nothing moves)."""
    multi_send = MultiSend(_client(chain), call_only=True)
    txs = [
        MultiSendTx(MultiSendOperation.CALL, token.address, 0, transfer_data(outsider.address, 1)),
        MultiSendTx(MultiSendOperation.CALL, token.address, 0, transfer_data(outsider.address, 10**30)),
    ]
    tx = SafeTxParams(to=MULTISEND_CALL_ONLY, data=bytes(multi_send.build_tx_data(txs)), operation=1)
    before = token.balanceOf(outsider)
    assert_reverts(
        warm, "execTransaction", [*tx.args(), sign_all(warm, tx, owner_accounts[:2])], keeper, "GS013"
    )
    assert token.balanceOf(outsider) == before and msig_nonce(warm) == 0


def _assert_refused(msig, tx: SafeTxParams, signers, sender, reason: str) -> None:
    """execTransaction of `tx`, validly signed, reverts with `reason` and keeps the nonce."""
    nonce = msig_nonce(msig)
    assert_reverts(msig, "execTransaction", [*tx.args(), sign_all(msig, tx, signers)], sender, reason)
    assert msig_nonce(msig) == nonce


@pytest.mark.parametrize("target", ["token", MULTISEND, "self", "outsider"])
def test_delegatecall_anywhere_else_reverts(chain, warm, token, owner_accounts, keeper, outsider, target):
    to = {"token": token.address, "self": warm.address, "outsider": outsider.address}.get(target, target)
    tx = SafeTxParams(to=to, data=_batch(chain, token, outsider, keeper), operation=1)
    _assert_refused(warm, tx, owner_accounts[:2], keeper, ONLY_MULTISEND_CALL_ONLY)


def test_delegatecall_with_value_or_other_operation_reverts(
    chain, warm, token, owner_accounts, keeper, outsider
):
    data = _batch(chain, token, outsider, keeper)
    with_value = SafeTxParams(to=MULTISEND_CALL_ONLY, data=data, operation=1, value=1)
    _assert_refused(warm, with_value, owner_accounts[:2], keeper, "delegatecall carries no value")
    other_operation = SafeTxParams(to=MULTISEND_CALL_ONLY, data=data, operation=2)
    _assert_refused(warm, other_operation, owner_accounts[:2], keeper, ONLY_MULTISEND_CALL_ONLY)


def test_delegatecall_refused_when_multisend_code_differs(
    chain, warm, token, owner_accounts, keeper, outsider
):
    """The code hash is checked at execution: other code at the pinned address is refused."""
    w3 = chain.provider.web3
    chain.provider.set_code(MULTISEND_CALL_ONLY, w3.eth.get_code(MULTISEND))
    tx = SafeTxParams(to=MULTISEND_CALL_ONLY, data=_batch(chain, token, outsider, keeper), operation=1)
    _assert_refused(warm, tx, owner_accounts[:2], keeper, "MultiSendCallOnly code hash mismatch")


def test_natspec_no_longer_claims_batching_through_call(multisig_container):
    devdoc = multisig_container.contract_type.devdoc or {}
    text = str(devdoc)
    assert "Batches go through a CALL" not in text
    assert "MultiSendCallOnly" in str(
        devdoc["methods"][
            "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
        ]
    )


def test_plain_eth_receipt_fits_a_transfer_stipend(chain, cold, keeper):
    """The fallback also answers EIP-1271 now; receiving ETH must still fit 2300 gas
    (contracts paying with Solidity's transfer()/send())."""
    w3 = chain.provider.web3
    tx = w3.eth.send_transaction({"from": keeper.address, "to": cold.address, "value": 1, "gas": 100_000})
    used = w3.eth.wait_for_transaction_receipt(tx)["gasUsed"] - 21_000
    assert 0 < used <= 2300, used
