"""Our Multisig speaks Safe 1.4.1: same hashes, same preimage, signable and executable by safe-eth-py."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from msig_utils import (
    DOMAIN_TYPEHASH,
    SAFE_TX_TYPEHASH,
    ZERO,
    SafeTxParams,
    domain_separator,
    ecdsa,
    encode_tx_data,
    msig_nonce,
    pack,
    safe_tx_hash,
    safe_tx_hash_typed_data,
    transfer_data,
)
from safe_eth.eth import EthereumClient
from safe_eth.safe.safe_tx import SafeTx

# Field values chosen so every SafeTx member is non-trivial (hash-only inputs included).
ODD_TX = SafeTxParams(
    to="0x00000000000000000000000000000000DeaDBeef",
    value=123456789,
    data=bytes.fromhex("a9059cbb") + bytes(range(64)),
    operation=1,
    safe_tx_gas=50_000,
    base_gas=21_000,
    gas_price=7,
    gas_token="0x1111111111111111111111111111111111111111",
    refund_receiver="0x2222222222222222222222222222222222222222",
)


def test_typehashes_match_safe_constants():
    assert DOMAIN_TYPEHASH.hex() == "47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218"
    assert SAFE_TX_TYPEHASH.hex() == "bb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8"


@pytest.mark.parametrize("nonce", [0, 1, 2**64 + 3])
@pytest.mark.parametrize(
    "tx",
    [
        ODD_TX,
        SafeTxParams(to="0x000000000000000000000000000000000000dEaD", data=transfer_data(ZERO, 5)),
        SafeTxParams(to=ZERO),
    ],
)
def test_hash_equals_formula_and_real_safe(chain, cold, real_safe, tx, nonce):
    cid = chain.chain_id
    ours = bytes(cold.getTransactionHash(*tx.args(), nonce))
    assert ours == safe_tx_hash(cid, cold.address, tx, nonce)
    assert ours == safe_tx_hash_typed_data(cid, cold.address, tx, nonce)
    theirs = bytes(real_safe.getTransactionHash(*tx.args(), nonce))
    assert theirs == safe_tx_hash(cid, real_safe.address, tx, nonce)
    assert theirs == safe_tx_hash_typed_data(cid, real_safe.address, tx, nonce)
    # Same preimage structure: 0x1901 || domainSeparator || hashStruct, hashStruct identical.
    ours_pre = bytes(cold.encodeTransactionData(*tx.args(), nonce))
    theirs_pre = bytes(real_safe.encodeTransactionData(*tx.args(), nonce))
    assert ours_pre == encode_tx_data(cid, cold.address, tx, nonce)
    assert len(ours_pre) == len(theirs_pre) == 66
    assert ours_pre[:2] == theirs_pre[:2] == b"\x19\x01"
    assert ours_pre[34:] == theirs_pre[34:]
    assert ours_pre[2:34] == bytes(cold.domainSeparator()) == domain_separator(cid, cold.address)
    assert theirs_pre[2:34] == bytes(real_safe.domainSeparator())
    assert keccak(ours_pre) == ours


def test_views_match_safe_shape(cold, real_safe, owner_accounts):
    assert cold.VERSION() == real_safe.VERSION() == "1.4.1"
    assert cold.getThreshold() == real_safe.getThreshold() == 3
    assert msig_nonce(cold) == real_safe.call_view_method("nonce") == 0
    assert cold.getChainId() == real_safe.getChainId()
    # Safe's linked list: setup keeps the given order.
    assert list(cold.getOwners()) == list(real_safe.getOwners())
    assert list(cold.getOwners()) == [a.address for a in owner_accounts]
    for a in owner_accounts:
        assert cold.isOwner(a) and real_safe.isOwner(a)
    assert not cold.isOwner("0x0000000000000000000000000000000000000001")
    assert not cold.isOwner(ZERO)


def test_same_signatures_verify_on_both(chain, cold, real_safe, owner_accounts):
    """checkSignatures accepts the same packed signatures on both, for each one's own hash."""
    tx = SafeTxParams(to=owner_accounts[0].address, value=1)
    for contract in (cold, real_safe):
        data = bytes(contract.encodeTransactionData(*tx.args(), 0))
        h = keccak(data)
        sigs = pack([ecdsa(a.private_key, h) for a in owner_accounts[1:4]])
        contract.checkSignatures(h, data, sigs)  # does not revert


def _ethereum_client(chain) -> EthereumClient:
    uri = chain.provider.web3.provider.endpoint_uri
    return EthereumClient(uri, use_request_caching=False)


def test_safe_eth_py_signs_and_executes_on_multisig(chain, cold, token, owner_accounts, keeper, outsider):
    client = _ethereum_client(chain)
    data = transfer_data(outsider.address, 1_500_000)
    safe_tx = SafeTx(
        client,
        cold.address,
        token.address,
        0,
        data,
        0,
        0,
        0,
        0,
        None,
        None,
    )
    # safe-eth-py read nonce() and VERSION() from our contract and built the EIP-712 payload.
    assert safe_tx.safe_tx_hash == bytes(
        cold.getTransactionHash(token.address, 0, data, 0, 0, 0, 0, ZERO, ZERO, 0)
    )
    for a in owner_accounts[2:5]:
        safe_tx.sign(a.private_key)
    assert sorted(safe_tx.signers, key=lambda x: int(x, 16)) == safe_tx.sorted_signers
    assert safe_tx.call(tx_sender_address=keeper.address) == 1
    before = token.balanceOf(cold)
    tx_hash, _ = safe_tx.execute(keeper.private_key)
    receipt = client.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert token.balanceOf(outsider) == 1_500_000
    assert token.balanceOf(cold) == before - 1_500_000
    assert msig_nonce(cold) == 1
    logs = cold.ExecutionSuccess.from_receipt(chain.get_receipt(tx_hash.hex()))
    assert [bytes(log.txHash) for log in logs] == [bytes(safe_tx.safe_tx_hash)]


def test_safe_eth_py_signatures_execute_on_real_safe_too(chain, real_safe, owner_accounts, keeper, outsider):
    """Control: the same tooling against the real Safe, so the comparison above is meaningful."""
    client = _ethereum_client(chain)
    safe_tx = SafeTx(client, real_safe.address, outsider.address, 12345, b"", 0, 0, 0, 0, None, None)
    for a in owner_accounts[:3]:
        safe_tx.sign(a.private_key)
    before = outsider.balance
    tx_hash, _ = safe_tx.execute(keeper.private_key)
    assert client.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    assert outsider.balance == before + 12345


def test_hash_changes_with_every_field(cold):
    base = SafeTxParams(to=ODD_TX.to)
    h0 = bytes(cold.getTransactionHash(*base.args(), 0))
    variants = [
        SafeTxParams(to=ODD_TX.gas_token),
        SafeTxParams(to=base.to, value=1),
        SafeTxParams(to=base.to, data=b"\x00"),
        SafeTxParams(to=base.to, operation=1),
        SafeTxParams(to=base.to, safe_tx_gas=1),
        SafeTxParams(to=base.to, base_gas=1),
        SafeTxParams(to=base.to, gas_price=1),
        SafeTxParams(to=base.to, gas_token=ODD_TX.gas_token),
        SafeTxParams(to=base.to, refund_receiver=ODD_TX.gas_token),
    ]
    hashes = {bytes(cold.getTransactionHash(*v.args(), 0)) for v in variants}
    hashes.add(bytes(cold.getTransactionHash(*base.args(), 1)))
    assert h0 not in hashes and len(hashes) == len(variants) + 1


def test_domain_separator_follows_the_chain_id(chain, cold):
    """Computed live, as in Safe: after a chain split the other chain has another separator."""
    w3 = chain.provider.web3
    original = int(w3.provider.make_request("eth_chainId", [])["result"], 16)
    current = bytes(cold.domainSeparator())
    assert current == domain_separator(original, cold.address)
    call = {"to": cold.address, "data": "0x" + keccak(text="domainSeparator()")[:4].hex()}
    w3.provider.make_request("anvil_setChainId", [original + 1336])
    try:
        forked = bytes.fromhex(w3.provider.make_request("eth_call", [call, "latest"])["result"][2:])
    finally:
        w3.provider.make_request("anvil_setChainId", [original])
    assert forked == domain_separator(original + 1336, cold.address) != current
    assert bytes(cold.domainSeparator()) == current
