"""Ethereum signing with any ``DigestSigner``: EIP-1559 transactions and Safe EIP-712 hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account._utils.legacy_transactions import encode_transaction
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address

from keeper.keys.ecdsa import DigestSigner, eth_address, sign_recoverable

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_TX_TYPEHASH = keccak(
    text=(
        "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
        "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
    )
)


def signer_address(signer: DigestSigner) -> str:
    """Checksummed Ethereum address of the signer's key."""
    return eth_address(signer.public_key())


def sign_eip1559(signer: DigestSigner, tx: dict[str, Any]) -> bytes:
    """Sign an EIP-1559 (type 2) transaction dict and return the raw signed bytes.

    ``tx`` carries ``chainId, nonce, maxFeePerGas, maxPriorityFeePerGas, gas, to, value,
    data`` (all amounts integer wei); ``type`` is forced to 2.
    """
    fields = {**tx, "type": 2}
    fields.setdefault("accessList", [])
    fields.setdefault("data", b"")
    unsigned = TypedTransaction.from_dict(fields)
    v, r, s = sign_recoverable(signer, unsigned.hash())
    return encode_transaction(unsigned, (v, r, s))


@dataclass(frozen=True)
class SafeTx:
    """A Safe (1.3 / 1.4.1) transaction; amounts are integer wei."""

    to: str
    value: int
    data: bytes
    operation: int
    safe_tx_gas: int
    base_gas: int
    gas_price: int
    gas_token: str
    refund_receiver: str
    nonce: int


def safe_domain_separator(chain_id: int, safe_address: str) -> bytes:
    """EIP-712 domain separator of a Safe >= 1.3 (chainId + verifyingContract)."""
    return keccak(
        abi_encode(
            ["bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, chain_id, to_checksum_address(safe_address)],
        )
    )


def safe_tx_hash(chain_id: int, safe_address: str, tx: SafeTx) -> bytes:
    """The EIP-712 SafeTx hash that owners sign (``Safe.getTransactionHash``)."""
    struct = keccak(
        abi_encode(
            [
                "bytes32", "address", "uint256", "bytes32", "uint8", "uint256", "uint256",
                "uint256", "address", "address", "uint256",
            ],
            [
                SAFE_TX_TYPEHASH,
                to_checksum_address(tx.to),
                tx.value,
                keccak(tx.data),
                tx.operation,
                tx.safe_tx_gas,
                tx.base_gas,
                tx.gas_price,
                to_checksum_address(tx.gas_token),
                to_checksum_address(tx.refund_receiver),
                tx.nonce,
            ],
        )
    )
    return keccak(b"\x19\x01" + safe_domain_separator(chain_id, safe_address) + struct)


def sign_hash(signer: DigestSigner, digest: bytes) -> bytes:
    """65-byte ``r || s || v`` (``v`` in {27, 28}) over a 32-byte hash (EIP-712, Safe)."""
    v, r, s = sign_recoverable(signer, digest)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + v])


def sign_safe_tx(signer: DigestSigner, chain_id: int, safe_address: str, tx: SafeTx) -> bytes:
    """Owner signature for ``execTransaction``: ``r || s || v`` with ``v`` in {27, 28}."""
    return sign_hash(signer, safe_tx_hash(chain_id, safe_address, tx))
