"""Typed records of the issuer API (mints, burns, reserves) and the interface the keeper uses.

Amounts are integer USDC base units here; the wire's USD decimal strings are converted only in
:mod:`keeper.integrations.issuer.amounts`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from keeper.integrations.issuer.amounts import to_amount, to_units


class MintStatus(enum.StrEnum):
    """Lifecycle of a mint: pending -> complete | failed."""

    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class BurnStatus(enum.StrEnum):
    """Lifecycle of a redemption: pending -> complete | delayed (burned, fiat late) | failed."""

    PENDING = "pending"
    DELAYED = "delayed"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Mint:
    """A mint as the issuer reports it."""

    mint_id: str
    status: MintStatus
    units: int
    destination_address: str
    reference: str
    estimated_completion: str | None = None
    blockchain_tx_id: str | None = None
    confirmations: int = 0
    reason: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Mint:
        """Build from the issuer's JSON (raises ``KeyError``/``ValueError`` if malformed)."""
        return cls(mint_id=str(data["mint_id"]), status=MintStatus(data["status"]),
                   units=to_units(data["amount"]), destination_address=str(data["destination_address"]),
                   reference=str(data["reference"]), estimated_completion=data.get("estimated_completion"),
                   blockchain_tx_id=data.get("blockchain_tx_id"),
                   confirmations=int(data.get("confirmations") or 0), reason=data.get("reason"))


@dataclass(frozen=True)
class Burn:
    """A redemption as the issuer reports it (``payout_units`` owed in fiat to the bank)."""

    burn_id: str
    status: BurnStatus
    units: int
    source_address: str
    transfer_tx_id: str
    reference: str
    blockchain_tx_id: str | None = None
    confirmations: int = 0
    payout_status: str = "pending"
    reason: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Burn:
        """Build from the issuer's JSON (raises ``KeyError``/``ValueError`` if malformed)."""
        return cls(burn_id=str(data["burn_id"]), status=BurnStatus(data["status"]),
                   units=to_units(data["amount"]), source_address=str(data["source_address"]),
                   transfer_tx_id=str(data["transfer_tx_id"]), reference=str(data["reference"]),
                   blockchain_tx_id=data.get("blockchain_tx_id"),
                   confirmations=int(data.get("confirmations") or 0),
                   payout_status=str(data.get("payout_status", "pending")), reason=data.get("reason"))


@dataclass(frozen=True)
class Reserves:
    """The issuer's fiat reserves against the token's on-chain supply, in base units."""

    total_reserves_units: int
    payouts_owed_units: int
    total_supply_units: int
    block_number: int

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Reserves:
        """Build from the issuer's JSON."""
        return cls(total_reserves_units=to_units(data["total_reserves"], allow_zero=True),
                   payouts_owed_units=to_units(data["payouts_owed"], allow_zero=True),
                   total_supply_units=to_units(data["total_supply"], allow_zero=True),
                   block_number=int(data["block_number"]))

    @property
    def backing_units(self) -> int:
        """Reserves not owed to redeemers: what backs the supply (equals it when fully backed)."""
        return self.total_reserves_units - self.payouts_owed_units


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key (UUID4); store it with the request so a retry reuses it."""
    return str(uuid.uuid4())


def wire_amount(units: int) -> str:
    """The request's ``amount`` for ``units`` (positive)."""
    if units <= 0:
        raise ValueError("amount must be greater than zero")
    return to_amount(units)


class IssuerAPI(Protocol):
    """What the keeper needs from a stablecoin issuer (Circle for USDC)."""

    def create_mint(self, *, units: int, destination_address: str, reference: str,
                    idempotency_key: str) -> Mint:
        """Ask for ``units`` to be minted to ``destination_address``; safe to retry with the key."""
        ...

    def get_mint(self, mint_id: str) -> Mint:
        """The mint's current state."""
        ...

    def create_burn(self, *, units: int, source_address: str, transfer_tx_id: str, reference: str,
                    idempotency_key: str) -> Burn:
        """Redeem ``units`` the bank sent (tx ``transfer_tx_id``) to the redemption address."""
        ...

    def get_burn(self, burn_id: str) -> Burn:
        """The redemption's current state."""
        ...

    def reserves(self) -> Reserves:
        """The issuer's reserves against the token's total supply."""
        ...

    def redemption_address(self) -> str:
        """The address the bank sends USDC to before asking for its redemption."""
        ...
