"""Vault and ERC-20 event topics and a fast raw-log decoder (no ABI machinery per log).

Coded against the Vault ABI: ``Deposit``, ``Withdrawal`` / ``Sweep`` (with ``amount`` = units that
left the vault and ``received`` = what the recipient got), ``WithdrawalCancelled``,
``WithdrawalExpired``, ``Migrated`` / ``MigrationReceived``; ERC-20 ``Transfer`` touching a
followed vault; USDT's ``DestroyedBlackFunds`` (no indexed fields, no ``Transfer``).

The vault's tier Multisigs (``tiers``: address -> tier number, read from the vault's
``tier_address``): an ERC-20 ``Transfer`` out of a tier to anything but a followed vault, and a
tier's ``SafeReceived`` whose sender is another tier (ETH between tiers), are ``tier_transfer``
events (``sender`` the paying tier, ``tier`` its number, ``to`` the payee); a tier's
``ExecutionSuccess`` is an ``execution`` event (``op_id`` the safeTxHash) whose ETH payments the
follower reads from the transaction. What arrives at a tier from anyone else is not an event:
only our own moves are mirrored, an outsider's send to a tier shows in type 1 reconciliation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from eth_utils import keccak

from keeper.assets import ZERO_ADDRESS


def topic(signature: str) -> str:
    """keccak topic0 of an event signature."""
    return "0x" + keccak(text=signature).hex()


DEPOSIT = topic("Deposit(address,address,bytes32,uint256)")
WITHDRAWAL = topic("Withdrawal(bytes32,address,address,uint256,uint256)")
SWEEP = topic("Sweep(address,address,uint256,uint8,uint256)")
CANCELLED = topic("WithdrawalCancelled(bytes32,address)")
EXPIRED = topic("WithdrawalExpired(bytes32)")
MIGRATED = topic("Migrated(address,address,uint256)")
MIGRATION_RECEIVED = topic("MigrationReceived(address,uint256)")
TRANSFER = topic("Transfer(address,address,uint256)")
DESTROYED = topic("DestroyedBlackFunds(address,uint256)")
SAFE_RECEIVED = topic("SafeReceived(address,uint256)")
EXECUTION_SUCCESS = topic("ExecutionSuccess(bytes32,uint256)")
TIER_TOPICS = [SAFE_RECEIVED, EXECUTION_SUCCESS]
VAULT_TOPICS = [DEPOSIT, WITHDRAWAL, SWEEP, CANCELLED, EXPIRED, MIGRATED, MIGRATION_RECEIVED]


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded log. ``kind``: deposit | withdrawal | sweep | cancelled | expired | migrated |
    migration_received | transfer_in | transfer_out | destroyed | tier_transfer | execution.
    ``vault`` is the followed vault the event concerns (its emitter, or the party of a token
    movement; empty for the tier events)."""

    kind: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    token: str
    amount: int
    vault: str = ""
    client_ref: str = ""
    op_id: str = ""
    to: str = ""
    sender: str = ""
    tier: int = 0
    received: int = 0

    @property
    def direction(self) -> str:
        """``in`` for units entering ``vault``, ``out`` for units leaving it, else ``""``."""
        if self.kind in ("deposit", "transfer_in", "migration_received"):
            return "in"
        if self.kind in ("withdrawal", "sweep", "migrated", "transfer_out", "destroyed"):
            return "out"
        return ""


def _addr(t: str) -> str:
    return "0x" + t[-40:].lower()


def _uint(data: str, word: int = 0) -> int:
    return int(data[2 + 64 * word : 2 + 64 * (word + 1)], 16)


def decode(log: dict, vaults: Collection[str],
           tiers: Mapping[str, int] | None = None) -> list[Event]:
    """Decode a raw JSON-RPC log of a followed vault, of a tier Multisig or of a token ([] if
    not one of ours).

    ``vaults`` and the keys of ``tiers`` (address -> tier number) are lower-case addresses. A
    token ``Transfer`` between two followed vaults gives two events (out of one, into the
    other). Malformed logs (too few topics or data words) give []: a log's shape is only trusted
    after its topic0 and emitter were matched.
    """
    tiers = tiers or {}
    try:
        t = [x.lower() for x in log["topics"]]
        base = (int(log["blockNumber"], 16), log["blockHash"].lower(),
                log["transactionHash"].lower(), int(log["logIndex"], 16))
        emitter, data = log["address"].lower(), log["data"]
        if not t:
            return []
        if emitter in vaults:
            e = _vault_event(t, data, base, emitter)
            return [e] if e else []
        if emitter in tiers:
            e = _tier_event(t, data, base, emitter, tiers)
            return [e] if e else []
        if t[0] == TRANSFER and len(t) == 3:
            src, dst = _addr(t[1]), _addr(t[2])
            amount = _uint(data)
            out = []
            if src in tiers and src not in vaults and dst not in vaults:
                out.append(Event("tier_transfer", *base, token=emitter, sender=src, to=dst,
                                 tier=tiers[src], amount=amount))
            if src in vaults:
                out.append(Event("transfer_out", *base, token=emitter, vault=src, sender=src,
                                 to=dst, amount=amount))
            if dst in vaults:
                out.append(Event("transfer_in", *base, token=emitter, vault=dst, sender=src,
                                 to=dst, amount=amount))
            return out
        if t[0] == DESTROYED and len(t) == 1 and _addr(data[2:66]) in vaults:
            return [Event("destroyed", *base, token=emitter, vault=_addr(data[2:66]),
                          amount=_uint(data, 1))]
    except (KeyError, IndexError, ValueError):
        return []
    return []


def _tier_event(t: list[str], data: str, base: tuple, tier: str,
                tiers: Mapping[str, int]) -> Event | None:
    if t[0] == SAFE_RECEIVED and len(t) == 2:
        src = _addr(t[1])
        if src in tiers and src != tier:  # ETH from another tier (anyone else: not ours)
            return Event("tier_transfer", *base, token=ZERO_ADDRESS, sender=src, to=tier,
                         tier=tiers[src], amount=_uint(data))
    if t[0] == EXECUTION_SUCCESS and len(t) == 2:
        return Event("execution", *base, token=ZERO_ADDRESS, sender=tier, tier=tiers[tier],
                     op_id=t[1], amount=0)
    return None


def _vault_event(t: list[str], data: str, base: tuple, vault: str) -> Event | None:
    t0 = t[0]
    if t0 == DEPOSIT and len(t) == 4:
        return Event("deposit", *base, vault=vault, token=_addr(t[1]), sender=_addr(t[2]),
                     client_ref=t[3], amount=_uint(data))
    if t0 == WITHDRAWAL and len(t) == 4:
        return Event("withdrawal", *base, vault=vault, op_id=t[1], token=_addr(t[2]),
                     to=_addr(t[3]), amount=_uint(data), received=_uint(data, 1))
    if t0 == SWEEP and len(t) == 3:
        return Event("sweep", *base, vault=vault, token=_addr(t[1]), to=_addr(t[2]),
                     amount=_uint(data), tier=_uint(data, 1), received=_uint(data, 2))
    if t0 in (CANCELLED, EXPIRED) and len(t) >= 2:
        kind = "cancelled" if t0 == CANCELLED else "expired"
        return Event(kind, *base, vault=vault, op_id=t[1], token="", amount=0)
    if t0 == MIGRATED and len(t) == 3:
        return Event("migrated", *base, vault=vault, to=_addr(t[1]), token=_addr(t[2]),
                     amount=_uint(data))
    if t0 == MIGRATION_RECEIVED and len(t) == 2:
        return Event("migration_received", *base, vault=vault, sender=_addr(t[1]), token=ZERO_ADDRESS,
                     amount=_uint(data))
    return None
