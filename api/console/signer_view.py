"""What the signer queue shows, gathered from ``keeper.safetx`` (no rules of its own).

* :func:`decode_call`: the transfer a SafeTx makes (an ERC-20 ``transfer`` or plain ETH): token,
  amount (integer base units), destination, and whether the destination is active on the
  vault's whitelist (read on chain);
* :func:`typed_data`: the EIP-712 ``SafeTx`` in full (domain, types, message), the message a
  signer's wallet shows, whose hash is the safeTxHash.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from keeper.assets import ASSETS, Asset
from keeper.keys.eth import SafeTx
from keeper.safetx import SafeChain

log = logging.getLogger(__name__)
TRANSFER = keccak(text="transfer(address,uint256)")[:4]
WHITELIST = keccak(text="whitelist()")[:4]
IS_ACTIVE = keccak(text="isActive(address)")[:4]
SAFE_TX_TYPES = [
    {"name": "to", "type": "address"}, {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"}, {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"}, {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"}, {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"}, {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class DecodedCall:
    """What a SafeTx moves: ``kind`` ``erc20`` / ``eth`` / ``call`` (anything else)."""

    kind: str
    asset: Asset | None  # the registry's asset, when it is one
    token: str | None  # the token contract (erc20)
    amount: int  # base units (wei for eth)
    destination: str
    whitelisted: bool | None  # None: no vault deployed or the chain could not say


def _asset_at(address: str) -> Asset | None:
    for asset in ASSETS.values():
        if asset.address and asset.address.lower() == address.lower():
            return asset
    return None


def is_whitelisted(chain: SafeChain, vault: str | None, destination: str) -> bool | None:
    """Whether ``destination`` is active on the whitelist ``vault`` consults (``None``: no vault,
    or the chain could not be read)."""
    if not vault:
        return None
    try:
        eth = chain.w3.eth
        raw = eth.call({"to": to_checksum_address(vault), "data": "0x" + WHITELIST.hex()})
        (whitelist,) = abi_decode(["address"], bytes(raw))
        data = IS_ACTIVE + abi_encode(["address"], [to_checksum_address(destination)])
        (active,) = abi_decode(["bool"], bytes(eth.call({"to": to_checksum_address(whitelist),
                                                        "data": "0x" + data.hex()})))
        return bool(active)
    except Exception as exc:  # noqa: BLE001 - a display hint: unknown, never a failed page
        log.warning("whitelist of vault %s not read (%s)", vault, type(exc).__name__)
        return None


def decode_call(tx: SafeTx, chain: SafeChain, vault: str | None,
                seen: dict[str, bool | None] | None = None) -> DecodedCall:
    """The transfer ``tx`` makes (see :class:`DecodedCall`); ``seen`` remembers whitelist
    answers by destination across the calls of one page (one chain read per destination)."""
    seen = {} if seen is None else seen

    def listed(destination: str) -> bool | None:
        if destination not in seen:
            seen[destination] = is_whitelisted(chain, vault, destination)
        return seen[destination]

    if tx.operation == 0 and tx.data[:4] == TRANSFER and len(tx.data) == 68:
        to, amount = abi_decode(["address", "uint256"], tx.data[4:])
        to = to_checksum_address(to)
        return DecodedCall("erc20", _asset_at(tx.to), tx.to, int(amount), to, listed(to))
    if tx.operation == 0 and not tx.data:
        return DecodedCall("eth", ASSETS.get("ETH"), None, tx.value, tx.to, listed(tx.to))
    return DecodedCall("call", None, None, tx.value, tx.to, None)


def typed_data(chain_id: int, safe: str, tx: SafeTx) -> dict[str, Any]:
    """The EIP-712 typed data of ``tx`` for ``safe`` (what ``eth_signTypedData_v4`` signs)."""
    return {
        "types": {"EIP712Domain": [{"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "SafeTx": SAFE_TX_TYPES},
        "primaryType": "SafeTx",
        "domain": {"chainId": chain_id, "verifyingContract": safe},
        "message": {"to": tx.to, "value": str(tx.value), "data": "0x" + tx.data.hex(),
                    "operation": tx.operation, "safeTxGas": str(tx.safe_tx_gas),
                    "baseGas": str(tx.base_gas), "gasPrice": str(tx.gas_price),
                    "gasToken": tx.gas_token, "refundReceiver": tx.refund_receiver,
                    "nonce": str(tx.nonce)},
    }


def typed_data_json(chain_id: int, safe: str, tx: SafeTx) -> str:
    """:func:`typed_data` as indented JSON (shown in full, copyable to a wallet)."""
    return json.dumps(typed_data(chain_id, safe, tx), indent=2)
