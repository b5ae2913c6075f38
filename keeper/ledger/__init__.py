"""Double-entry sub-ledger: client holdings inside the omnibus wallets (spec 004 §6.4).

Public surface: :class:`Ledger`, :class:`TransferSpec` / :class:`TransferResult`, :class:`Kind`,
:class:`AccountKind`, the errors, :func:`upgrade` (Alembic migrations) and :func:`make_engine`.
"""

from keeper.ledger.db import make_engine
from keeper.ledger.domain import (
    GL_CODES,
    AccountKind,
    Balance,
    Kind,
    TransferResult,
    TransferSpec,
    utc,
)
from keeper.ledger.errors import (
    AlreadyReversed,
    AssetMismatch,
    HoldExpired,
    HoldNotFound,
    HoldResolved,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransfer,
    InvariantViolation,
    LedgerError,
    LedgerTimeout,
    LedgerUnavailable,
    UnknownAccount,
    UnknownAsset,
)
from keeper.ledger.ledger import Ledger, normalise_asset, normalise_ref
from keeper.ledger.migrate import upgrade
from keeper.ledger.reports import AssetTotals, LedgerTotals, client_postings, ledger_totals
from keeper.ledger.sources import (
    CursorMoved,
    CursorState,
    HoldState,
    LeaseGrant,
    LeaseLost,
    vault_location,
)
from keeper.ledger.statements import (
    CATEGORIES,
    ClientPosting,
    Statement,
    StatementLine,
    client_credits_after,
    client_open_credits,
    client_posting,
    client_postings_page,
    client_sourced_deposits,
)

__all__ = [
    "GL_CODES", "AccountKind", "AlreadyReversed", "AssetMismatch", "Balance", "HoldExpired",
    "HoldNotFound", "HoldResolved", "IdempotencyConflict", "InsufficientFunds", "InvalidTransfer",
    "InvariantViolation", "Kind", "Ledger", "LedgerError", "LedgerTimeout", "LedgerUnavailable",
    "Statement", "StatementLine",
    "TransferResult", "TransferSpec", "UnknownAccount", "UnknownAsset", "make_engine",
    "normalise_asset", "normalise_ref", "upgrade",
    "CursorMoved", "CursorState", "HoldState", "LeaseGrant", "LeaseLost",
    "AssetTotals", "LedgerTotals", "client_postings", "ledger_totals",
    "CATEGORIES", "ClientPosting", "client_credits_after", "client_open_credits", "client_posting",
    "client_postings_page", "client_sourced_deposits", "utc", "vault_location",
]
