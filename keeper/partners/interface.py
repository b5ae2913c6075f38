"""The custody partner's role (:class:`PartnerAPI`), its typed replies and its errors.

Replies are validated strictly (pydantic, extra fields forbidden, bounded sizes): anything else
is :class:`PartnerProtocolError`, never a crash and never data. Amounts are integer base units.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Protocol

from eth_utils import to_checksum_address
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

MAX_UNITS = 2**128  # far above any real holding; a bigger figure is a hostile reply
MAX_ITEMS = 1000


class PartnerError(Exception):
    """Any failure talking to the partner."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class PartnerUnavailable(PartnerError):  # noqa: N818 - domain names read better
    """Unreachable, timing out, 5xx or maintenance after every retry: try later (same key)."""


class PartnerRateLimited(PartnerUnavailable):
    """Still 429 after honouring ``Retry-After``: wait at least ``retry_after`` seconds."""


class PartnerRejected(PartnerError):  # noqa: N818 - domain names read better
    """The partner refused the request (4xx): nothing was accepted."""


class PartnerProtocolError(PartnerError):
    """The partner answered something that is not its documented shape (or is hostile)."""


def _units(value: Any) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,40}", value):
        raise ValueError("amount must be a decimal string of base units")
    units = int(value)
    if not -MAX_UNITS < units < MAX_UNITS:
        raise ValueError("amount out of range")
    return units


def _nonneg(value: Any) -> int:
    units = _units(value)
    if units < 0:
        raise ValueError("amount must not be negative")
    return units


def _address(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise ValueError("not an address")
    return to_checksum_address(value).lower()


def _tx_hash(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raise ValueError("not a transaction hash")
    return value.lower()


Units = Annotated[int, BeforeValidator(_nonneg)]
Signed = Annotated[int, BeforeValidator(_units)]
Address = Annotated[str, BeforeValidator(_address)]
TxHash = Annotated[str, BeforeValidator(_tx_hash)]
Ident = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Asset = Literal["ETH", "USDC", "USDT"]
Block = Annotated[StrictInt, Field(ge=0, le=2**63)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnerAccount(_Wire):
    """A client's segregated sub-account and its deposit address."""

    client_ref: Ident
    address: Address


class PartnerTx(_Wire):
    """A transaction as the partner reports it (deposit to, or withdrawal from, a sub-account)."""

    id: Ident
    seq: Block
    client_ref: Ident
    kind: Literal["deposit", "withdrawal"]
    asset: Asset
    amount: Units
    fee: Units
    sender: Address = Field(alias="from")
    to: Address
    tx_hash: TxHash | None
    log_index: Block | None
    block_number: Block | None
    status: Literal["pending", "sent", "confirmed", "failed"]


class PartnerBalance(_Wire):
    """One sub-account's reported balance of one asset (may be negative when the partner lies)."""

    client_ref: Ident
    asset: Asset
    amount: Signed


class AccountsPage(_Wire):
    """``GET /v1/accounts``."""

    accounts: Annotated[list[PartnerAccount], Field(max_length=100_000)]


class BalancesReport(_Wire):
    """``GET /v1/balances``: every sub-account's balances as of ``as_of_block``."""

    as_of_block: Block
    balances: Annotated[list[PartnerBalance], Field(max_length=300_000)]


class TransactionsPage(_Wire):
    """``GET /v1/transactions``: one page (at most :data:`MAX_ITEMS`) and the next cursor."""

    as_of_block: Block
    transactions: Annotated[list[PartnerTx], Field(max_length=MAX_ITEMS)]
    next_after: Block | None


class PartnerAPI(Protocol):
    """What the keeper needs from a custody partner (Warp Data's role)."""

    name: str

    def open_account(self, client_ref: str) -> PartnerAccount:
        """Open (idempotently) the client's segregated sub-account."""
        ...

    def accounts(self) -> list[PartnerAccount]:
        """Every sub-account the partner holds for us."""
        ...

    def balances(self) -> BalancesReport:
        """Reported balances per sub-account and asset."""
        ...

    def transactions(self, after: int = 0) -> TransactionsPage:
        """Reported transactions after sequence number ``after`` (one page)."""
        ...

    def withdraw(self, *, client_ref: str, asset: str, units: int, to: str,
                 idempotency_key: str) -> PartnerTx:
        """Ask for a withdrawal to ``to`` (whitelisted); safe to retry with the same key."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
