"""The staking pool's on-chain interface (``contracts/staking/StakingPool.vy``) in one place:
role bits, calldata of the calls the keeper sends, its events and their decoder, and the
pool's two rounding rules (share value, queue payout) so the mirror values positions exactly
as the contract pays them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

DEPOSIT = function_signature_to_4byte_selector("deposit()")
REQUEST = function_signature_to_4byte_selector("requestWithdrawal(uint256,uint256)")
CLAIM = function_signature_to_4byte_selector("claim(uint256)")
ACCRUE = function_signature_to_4byte_selector("accrue()")


def deposit_call() -> bytes:
    """``deposit()`` (the ETH is the call's value)."""
    return DEPOSIT


def request_call(position: int, shares: int) -> bytes:
    """``requestWithdrawal(position, shares)``."""
    return REQUEST + abi_encode(["uint256", "uint256"], [position, shares])


def claim_call(request: int) -> bytes:
    """``claim(request)``."""
    return CLAIM + abi_encode(["uint256"], [request])


def accrue_call() -> bytes:
    """``accrue()``."""
    return ACCRUE


# Event name -> fields in declaration order: (name, abi type, indexed).
_U, _A = "uint256", "address"
EVENTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "Deposited": (("position", _U, True), ("owner", _A, True), ("amount", _U, False),
                  ("shares", _U, False), ("locked_until", _U, False), ("pooled", _U, False),
                  ("total_shares", _U, False)),
    "WithdrawalRequested": (("request", _U, True), ("position", _U, True), ("owner", _A, True),
                            ("shares", _U, False), ("amount", _U, False), ("units", _U, False),
                            ("claimable_at", _U, False), ("pooled", _U, False),
                            ("total_shares", _U, False), ("unbonding_assets", _U, False),
                            ("unbonding_units", _U, False)),
    "WithdrawalClaimed": (("request", _U, True), ("owner", _A, True), ("amount", _U, False),
                          ("requested", _U, False), ("unbonding_assets", _U, False),
                          ("unbonding_units", _U, False)),
    "RewardsFunded": (("by", _A, True), ("amount", _U, False), ("reserve", _U, False)),
    "RewardsAccrued": (("from_epoch", _U, False), ("to_epoch", _U, False), ("amount", _U, False),
                       ("pooled", _U, False), ("total_shares", _U, False)),
    "Slashed": (("by", _A, True), ("amount", _U, False), ("pool_amount", _U, False),
                ("unbonding_amount", _U, False), ("pooled", _U, False),
                ("total_shares", _U, False), ("unbonding_assets", _U, False),
                ("unbonding_units", _U, False)),
    "Paused": (("by", _A, True), ("until", _U, False)),
    "Unpaused": (("by", _A, True),),
}
TOPICS: dict[str, str] = {
    "0x" + keccak(text=f"{name}({','.join(t for _, t, _ in fields)})").hex(): name
    for name, fields in EVENTS.items()}


@dataclass(frozen=True)
class PoolEvent:
    """One decoded pool log, ordered by (block, log index); ``key`` is its idempotency key."""

    kind: str
    block: int
    tx_hash: str
    log_index: int
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        """``<tx hash>:<log index>``: what the mirror applies at most once."""
        return f"{self.tx_hash}:{self.log_index}"

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def decode_log(log: Any) -> PoolEvent | None:
    """The pool event of a raw log (``eth_getLogs`` entry), or None for another or a malformed
    log (a log's shape is trusted only after its topic0 matched)."""
    topics = [_hex(t).lower() for t in log["topics"]]
    name = TOPICS.get(topics[0]) if topics else None
    if name is None:
        return None
    fields = EVENTS[name]
    indexed = [(n, t) for n, t, i in fields if i]
    plain = [(n, t) for n, t, i in fields if not i]
    data = bytes.fromhex(_hex(log["data"])[2:])
    if len(topics) != 1 + len(indexed) or len(data) != 32 * len(plain):
        return None
    out: dict[str, Any] = {}
    for (n, t), raw in zip(indexed, topics[1:], strict=True):
        out[n] = abi_decode([t], bytes.fromhex(raw[2:]))[0]
    for (n, _), value in zip(plain, abi_decode([t for _, t in plain], data), strict=True):
        out[n] = value
    for n, t in indexed + plain:
        if t == _A:
            out[n] = to_checksum_address(out[n])
    return PoolEvent(name, int(log["blockNumber"]), _hex(log["transactionHash"]).lower(),
                     int(log["logIndex"]), out)


def share_value(shares: int, pooled: int, total_shares: int) -> int:
    """What ``shares`` withdraw from the pool: floor(shares * pooled / total_shares)."""
    return shares * pooled // total_shares if total_shares else 0


def queue_value(units: int, assets: int, total_units: int) -> int:
    """What a request of ``units`` is paid from the queue: floor(units * assets / total_units)."""
    return units * assets // total_units if total_units else 0


def allocate(amount: int, weights: dict[str, int]) -> tuple[dict[str, int], int]:
    """Split ``amount`` (>= 0) pro rata to ``weights`` rounding each part down: (parts, the
    remainder). Parts + remainder == amount exactly; the remainder is below len(weights)."""
    total = sum(w for w in weights.values() if w > 0)
    if amount <= 0 or total == 0:
        return {}, amount
    parts = {k: amount * w // total for k, w in sorted(weights.items()) if w > 0}
    parts = {k: v for k, v in parts.items() if v}
    return parts, amount - sum(parts.values())
