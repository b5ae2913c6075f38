"""The Safe Transaction Service's off-chain EIP-712 messages and their time window.

Deleting a proposal (``DeleteRequest``) and adding or removing a delegate (``Delegate``) are
authorised by a signature over a message carrying a ``totp``: the Unix time divided by 3600.
As the Safe service, a message of the current or the previous hour is accepted.
"""

from __future__ import annotations

import time

from safe_eth.eth.eip712 import eip712_encode_hash

TOTP_SECONDS = 3600
NAME, VERSION = "Safe Transaction Service", "1.0"


def totp_window(now: float | None = None) -> tuple[int, int]:
    """The accepted ``totp`` values: this hour's and the previous hour's."""
    current = int(time.time() if now is None else now) // TOTP_SECONDS
    return current, current - 1


def delete_message_hash(chain_id: int, safe: str, safe_tx_hash_: bytes, totp: int) -> bytes:
    """EIP-712 hash of the Safe service's ``DeleteRequest`` (what the proposer signs)."""
    return bytes(eip712_encode_hash({
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}],
            "DeleteRequest": [{"name": "safeTxHash", "type": "bytes32"},
                              {"name": "totp", "type": "uint256"}],
        },
        "primaryType": "DeleteRequest",
        "domain": {"name": NAME, "version": VERSION, "chainId": chain_id,
                   "verifyingContract": safe},
        "message": {"safeTxHash": safe_tx_hash_, "totp": totp},
    }))


def delegate_message_hash(delegate: str, totp: int, chain_id: int | None) -> bytes:
    """EIP-712 hash of the Safe service's ``Delegate`` message (what safe-eth-py's
    ``create_delegate_message_hash`` builds when ``chain_id`` is given; the service also accepts
    the domain without a chain id)."""
    domain_types = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}]
    domain: dict[str, object] = {"name": NAME, "version": VERSION}
    if chain_id is not None:
        domain_types.append({"name": "chainId", "type": "uint256"})
        domain["chainId"] = chain_id
    return bytes(eip712_encode_hash({
        "types": {"EIP712Domain": domain_types,
                  "Delegate": [{"name": "delegateAddress", "type": "address"},
                               {"name": "totp", "type": "uint256"}]},
        "primaryType": "Delegate",
        "domain": domain,
        "message": {"delegateAddress": delegate, "totp": totp},
    }))
