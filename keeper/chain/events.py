"""Vault and ERC-20 event topics and a fast raw-log decoder (no ABI machinery per log)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

ZERO = "0x" + "00" * 20


def topic(signature: str) -> str:
    """keccak topic0 of an event signature."""
    return "0x" + keccak(text=signature).hex()


DEPOSIT = topic("Deposit(address,address,bytes32,uint256)")
WITHDRAWAL = topic("Withdrawal(bytes32,address,address,uint256)")
SWEEP = topic("Sweep(address,address,uint256,uint8)")
TRANSFER = topic("Transfer(address,address,uint256)")
VAULT_TOPICS = [DEPOSIT, WITHDRAWAL, SWEEP]


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded log. ``kind``: deposit | withdrawal | sweep | transfer_in | transfer_out."""

    kind: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    token: str
    amount: int
    client_ref: str = ""
    op_id: str = ""
    to: str = ""
    sender: str = ""
    tier: int = 0


def _addr(t: str) -> str:
    return "0x" + t[-40:].lower()


def _uint(data: str, word: int = 0) -> int:
    return int(data[2 + 64 * word : 2 + 64 * (word + 1)], 16)


def decode(log: dict, vault: str) -> Event | None:
    """Decode a raw JSON-RPC log of the vault or of a token; None if not one of ours."""
    t = log["topics"]
    base = (int(log["blockNumber"], 16), log["blockHash"].lower(), log["transactionHash"].lower(),
            int(log["logIndex"], 16))
    t0 = t[0].lower()
    if t0 == DEPOSIT:
        return Event("deposit", *base, token=_addr(t[1]), sender=_addr(t[2]),
                     client_ref=t[3].lower(), amount=_uint(log["data"]))
    if t0 == WITHDRAWAL:
        return Event("withdrawal", *base, op_id=t[1].lower(), token=_addr(t[2]), to=_addr(t[3]),
                     amount=_uint(log["data"]))
    if t0 == SWEEP:
        return Event("sweep", *base, token=_addr(t[1]), to=_addr(t[2]),
                     amount=_uint(log["data"]), tier=_uint(log["data"], 1))
    if t0 == TRANSFER and len(t) == 3:
        src, dst = _addr(t[1]), _addr(t[2])
        kind = "transfer_in" if dst == vault else "transfer_out" if src == vault else None
        if kind:
            return Event(kind, *base, token=log["address"].lower(), sender=src, to=dst,
                         amount=_uint(log["data"]))
    return None
