"""Ledger errors. Every refusal leaves the ledger unchanged."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of ledger refusals."""


class InvalidTransfer(LedgerError):  # noqa: N818 - domain names read better
    """The transfer is malformed (amount <= 0, same account twice, bad kind, ...)."""


class UnknownAccount(LedgerError):  # noqa: N818 - domain names read better
    """An account id does not exist."""


class UnknownAsset(LedgerError, ValueError):  # noqa: N818 - domain names read better
    """The asset symbol is not one Strongroom custodies (see :mod:`keeper.assets`)."""


class AssetMismatch(LedgerError):  # noqa: N818 - domain names read better
    """Debit and credit accounts hold different assets."""


class InsufficientFunds(LedgerError):  # noqa: N818 - domain names read better
    """The transfer would overdraw a no-overdraft (client) account."""

    def __init__(self, account_id: int, available: int, amount: int) -> None:
        super().__init__(
            f"insufficient funds: account {account_id} has {available} available, "
            f"transfer needs {amount}"
        )
        self.account_id = account_id
        self.available = available
        self.amount = amount


class IdempotencyConflict(LedgerError):  # noqa: N818 - domain names read better
    """The transfer id was already used for a transfer with different content."""


class HoldNotFound(LedgerError):  # noqa: N818 - domain names read better
    """A post/void names a pending transfer that does not exist."""


class HoldResolved(LedgerError):  # noqa: N818 - domain names read better
    """The pending transfer was already posted, voided or expired."""


class HoldExpired(LedgerError):  # noqa: N818 - domain names read better
    """The pending transfer expired before it was posted."""


class AlreadyReversed(LedgerError):  # noqa: N818 - domain names read better
    """The transfer was already reversed (a transfer is reversed at most once)."""


class InvariantViolation(LedgerError):  # noqa: N818 - domain names read better
    """``verify_invariants`` found a violation."""


class LedgerUnavailable(LedgerError):  # noqa: N818 - domain names read better
    """The database could not take the write (locked by another process, I/O error, connection
    lost): nothing was written; the request may be retried as is (transfer ids are idempotent)."""


class LedgerTimeout(LedgerError, TimeoutError):  # noqa: N818 - domain names read better
    """The request was not committed within the caller's timeout.

    ``in_flight`` False: it was withdrawn before the writer took it and will never commit.
    ``in_flight`` True: the writer had taken it; it may still commit. Either way retrying with the
    same transfer ids is safe (an already committed transfer is returned, not posted twice).
    """

    def __init__(self, message: str, in_flight: bool) -> None:
        super().__init__(message)
        self.in_flight = in_flight
