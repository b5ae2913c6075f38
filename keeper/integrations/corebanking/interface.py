"""What the keeper needs from core banking: a typed interface and its error classes.

:class:`CoreBankingService` extends reconciliation's read interface
(:class:`keeper.recon.CoreBanking`: fiat balances, a customer's history, issuer reserves) with
the calls the buy/sell flows and the EOD job make. Amounts are integer cents; every write is
idempotent (an ``idempotency_key`` UUID, or the GL ``batch_id``) so it is safe to retry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keeper.integrations.corebanking.wire import GLBatch
from keeper.recon import CoreBanking, FiatEntry


class CoreBankingError(Exception):
    """Any failure talking to core banking."""


class CoreBankingUnavailableError(CoreBankingError):
    """Core banking did not answer usably (timeout, connection refused, 5xx after every retry,
    503 maintenance). A write may or may not have applied: retry later with the same key."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after_s = status, retry_after_s


class CoreBankingRejectedError(CoreBankingError):
    """Core banking refused the request (4xx): nothing applied. ``code`` is its reason."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class InsufficientFundsError(CoreBankingRejectedError):
    """The customer's (or the reserves') fiat cannot cover the debit: nothing applied."""


@dataclass(frozen=True, slots=True)
class Customer:
    """A core-banking customer with its USD account and balance (cents)."""

    customer_id: str
    name: str
    account_id: str
    balance_cents: int


@dataclass(frozen=True, slots=True)
class Posting:
    """A posted fiat movement; ``balance_cents`` is the account's balance right after it."""

    posting_id: str
    kind: str
    customer_id: str | None
    amount_cents: int
    fee_cents: int
    balance_cents: int
    posted_at: datetime
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class GLPosted:
    """ATLAS's acceptance of an EOD GL batch (spec 004 §8.2)."""

    batch_id: str
    atlas_batch_id: str
    posted_at: datetime


class CoreBankingService(CoreBanking, Protocol):
    """Core banking as the keeper uses it (reads for reconciliation included)."""

    def customer(self, customer_id: str) -> Customer:
        """A customer and its balance."""
        ...

    def debit_for_buy(self, idempotency_key: str, customer_id: str, amount_cents: int, *,
                      fee_cents: int, reference: str, asset: str, asset_units: int,
                      ledger_transfer_id: str) -> Posting:
        """Take ``amount_cents + fee_cents`` from the customer for a buy of ``asset_units``."""
        ...

    def reverse_debit(self, idempotency_key: str, posting_id: str, *, reference: str) -> Posting:
        """Give back buy debit ``posting_id``'s amount and fee exactly, once (a refunded buy):
        rejected ``unknown_debit`` when no such debit, ``already_reversed`` when done before
        under another key."""
        ...

    def credit_for_sell(self, idempotency_key: str, customer_id: str, amount_cents: int, *,
                        fee_cents: int, reference: str, asset: str, asset_units: int,
                        ledger_transfer_id: str) -> Posting:
        """Pay ``amount_cents - fee_cents`` to the customer for a sale of ``asset_units``."""
        ...

    def fund_reserves(self, idempotency_key: str, asset: str, amount_cents: int,
                      reference: str) -> Posting:
        """Move settlement fiat into the reserves held for ``asset``'s issuer."""
        ...

    def release_reserves(self, idempotency_key: str, asset: str, amount_cents: int,
                         reference: str) -> Posting:
        """Move reserves held for ``asset``'s issuer back to settlement (a redemption)."""
        ...

    def post_gl_batch(self, batch: GLBatch) -> GLPosted:
        """Post the EOD GL batch (idempotent on ``batch.batch_id``)."""
        ...

    def fiat_balances(self) -> Mapping[str, int]:
        """Customer id -> fiat balance in cents."""
        ...

    def history(self, customer: str) -> Sequence[FiatEntry]:
        """The customer's fiat movements, oldest first."""
        ...

    def issuer_reserves(self, asset: str) -> int:
        """Fiat (cents) held for ``asset``'s issuer."""
        ...
