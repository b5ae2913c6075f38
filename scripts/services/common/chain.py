"""Chain helpers the services' signers share: EIP-1559 fee fields and idempotent broadcast."""

from __future__ import annotations

from web3 import Web3

TIP_WEI = 10**9


def fee_fields(w3: Web3) -> dict[str, int]:
    """``maxPriorityFeePerGas`` (1 gwei) and ``maxFeePerGas`` (twice the latest base fee plus
    the tip) for a transaction signed now."""
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    return {"maxPriorityFeePerGas": TIP_WEI, "maxFeePerGas": 2 * base + TIP_WEI}


def broadcast(w3: Web3, raw: bytes) -> None:
    """Send a signed transaction; a node that already has it (or mined it) is fine."""
    try:
        w3.eth.send_raw_transaction(raw)
    except ValueError as exc:  # "already known", "nonce too low": the receipt decides
        if "already" not in str(exc).lower() and "nonce" not in str(exc).lower():
            raise
