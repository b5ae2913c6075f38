"""Monthly statements of a client holding, with running balance.

A client account is credit-normal: credits (deposits) raise the balance, debits lower it. Only
posted movements (single transfers and settled holds) appear; open holds are listed separately
via the account's pending totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select

from keeper.ledger.domain import Kind, utc
from keeper.ledger.models import Transfer


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement: ``amount`` is signed (+ credit to the client, - debit)."""

    at: datetime
    transfer_id: str
    kind: str
    reference: str | None
    amount: int
    balance: int


@dataclass(frozen=True, slots=True)
class Statement:
    """A month of movements on one account, opening and closing balances included."""

    account_id: int
    year: int
    month: int
    opening_balance: int
    lines: list[StatementLine]
    closing_balance: int


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in UTC."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def monthly_statement(engine: Engine, account_id: int, year: int, month: int) -> Statement:
    """Build the statement of ``account_id`` for ``year``-``month`` from the journal."""
    start, end = month_bounds(year, month)
    t = Transfer.__table__.c
    q = (
        select(t.created_at, t.transfer_id, t.kind, t.reference, t.amount, t.debit_account_id)
        .where(
            or_(t.debit_account_id == account_id, t.credit_account_id == account_id),
            t.kind.in_([Kind.SINGLE, Kind.POST]),
            t.created_at < end,
        )
        .order_by(t.id)
    )
    opening = 0
    lines: list[StatementLine] = []
    with engine.connect() as conn:
        for at, tid, kind, ref, amt, debit in conn.execute(q):
            signed = -amt if debit == account_id else amt
            at = utc(at)
            if at < start:
                opening += signed
                continue
            bal = (lines[-1].balance if lines else opening) + signed
            lines.append(StatementLine(at, tid, kind, ref, signed, bal))
    closing = lines[-1].balance if lines else opening
    return Statement(account_id, year, month, opening, lines, closing)
