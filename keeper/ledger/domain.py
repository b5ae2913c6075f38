"""Plain value types of the ledger API."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


def utc(value: datetime | str | None) -> datetime | None:
    """The one UTC normalisation: ``value`` as an aware UTC datetime.

    Naive values are UTC (SQLite hands back naive UTC); aware ones are converted; ISO text (a raw
    SQLite column value) is parsed first.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == _SQLITE_TEXT_LEN and value[19] == "." and value[20:].isdigit():
            # SQLAlchemy's SQLite DATETIME text ("YYYY-MM-DD HH:MM:SS.ffffff"): naive UTC, no room
            # for an offset; parsed with the offset appended (0.1 us, against 0.7 us to parse
            # and then ``replace`` the zone: a page of movements parses one per row)
            return datetime.fromisoformat(value + "+00:00")
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SQLITE_TEXT_LEN = len("2026-01-01 00:00:00.000000")


def available(credits_posted: int, debits_posted: int, debits_pending: int) -> int:
    """The one available-balance rule: posted credits minus posted and pending debits (what a
    credit-normal account may still spend; a no-overdraft account never goes below 0)."""
    return credits_posted - debits_posted - debits_pending


class Kind(StrEnum):
    """Transfer kinds."""

    SINGLE = "single"  # posted immediately
    PENDING = "pending"  # two-phase hold
    POST = "post"  # settles (all or part of) a hold
    VOID = "void"  # releases a hold


class AccountKind(StrEnum):
    """Account kinds; see ``GL_CODES`` for the GL account each rolls up into."""

    CLIENT = "client"
    OMNIBUS = "omnibus"
    FEE = "fee"
    SUSPENSE = "suspense"


# GL account codes (spec 004 §8.2 GL batch: 1100-CUSTOMER-USDC-WALLET, 2100-USDC-OMNIBUS-WALLET,
# 4500-FEE-REVENUE). The spec names no suspense account; 2900 (other liabilities) is our choice.
GL_CODES: dict[AccountKind, str] = {
    AccountKind.CLIENT: "1100-CUSTOMER-{asset}-WALLET",
    AccountKind.OMNIBUS: "2100-{asset}-OMNIBUS-WALLET",
    AccountKind.FEE: "4500-FEE-REVENUE",
    AccountKind.SUSPENSE: "2900-{asset}-SUSPENSE",
}


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """A transfer request.

    For ``POST``/``VOID`` give ``pending_id``; accounts may be 0 (taken from the hold) and the
    amount may be 0 (meaning the full held amount; a smaller ``POST`` amount releases the rest).
    ``expires_at`` applies to ``PENDING`` holds. ``reverses_id`` marks a reversing correction.
    """

    transfer_id: str
    debit_account: int
    credit_account: int
    amount: int
    kind: Kind = Kind.SINGLE
    pending_id: str | None = None
    reverses_id: str | None = None
    expires_at: datetime | None = None
    reference: str | None = None
    source: str | None = None
    source_pos: int | None = None

    def fingerprint(self) -> str:
        """Digest of the content, compared when a transfer id is reused."""
        exp = self.expires_at.isoformat() if self.expires_at else ""
        text = (
            f"{self.kind}|{self.debit_account}|{self.credit_account}|{self.amount}|"
            f"{self.pending_id or ''}|{self.reverses_id or ''}|{exp}|{self.reference or ''}|"
            f"{self.source or ''}|{self.source_pos if self.source_pos is not None else ''}"
        )
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class TransferResult:
    """Outcome of an accepted transfer; ``created`` is False for an idempotent retry."""

    transfer_id: str
    created: bool
    amount: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """Stored totals of one account."""

    account_id: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def credit_balance(self) -> int:
        """Posted credits minus posted debits (a client's holding)."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Credit balance minus pending debits (what a client may still spend)."""
        return available(self.credits_posted, self.debits_posted, self.debits_pending)
