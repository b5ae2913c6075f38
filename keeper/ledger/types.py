"""Column types for integer money amounts.

Token base units do not fit in 64 bits: 1,000 ETH is 10**21 wei, and a uint256 can reach 2**256-1.
Amounts are therefore never stored as BIGINT or as floating point:

* PostgreSQL: ``NUMERIC(78, 0)`` (78 digits hold any uint256). psycopg returns ``Decimal``; we turn
  it back into ``int`` exactly.
* SQLite: SQLite has no exact wide numeric type. A column with NUMERIC or INTEGER affinity silently
  converts an integer literal wider than 64 bits to REAL (a float): money would be lost. The column
  is declared ``BLOB`` (no affinity, values stored exactly as bound): values within signed 64 bits
  are stored as SQLite INTEGER (compact, fast), wider ones as their decimal TEXT. Both read back as
  Python ``int``. SQL arithmetic/aggregation on these columns is therefore not used on SQLite: all
  balance arithmetic happens in Python under the write lock, and the invariant checker sums in
  Python (on PostgreSQL it sums exactly in SQL).

On the Python side an amount is always ``int``, never ``float`` or ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric
from sqlalchemy.types import TypeDecorator, UserDefinedType

from keeper.ledger.domain import utc
from keeper.ledger.errors import InvalidTransfer

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
UINT256_MAX = 2**256 - 1


def is_amount(value: object) -> bool:
    """The one amount rule: an ``int`` (not a bool, float or Decimal) in 0..2**256-1, i.e. a
    value a uint256 can carry on chain. Every amount and account total obeys it."""
    return type(value) is int and 0 <= value <= UINT256_MAX


def amount_error(what: str, value: object) -> InvalidTransfer:
    """The refusal of a ``value`` failing :func:`is_amount` (``what`` names the transfer/column)."""
    if type(value) is int and value > UINT256_MAX:
        return InvalidTransfer(f"{what}: amount is above 2**256-1 ({value.bit_length()} bits); "
                               "not representable on chain")
    return InvalidTransfer(f"{what}: amount must be a non-negative int, got {type(value).__name__}")


def amount_to_sqlite(value: int) -> int | str:
    """SQLite storage form of an amount: INTEGER within signed 64 bits, decimal TEXT beyond."""
    return value if _I64_MIN <= value <= _I64_MAX else str(value)


def amount_from_db(value: Any) -> int:
    """A stored amount (int; Decimal from PostgreSQL; decimal text on SQLite) as an exact ``int``.

    Anything else (a float: a REAL that lost digits) is refused, never rounded into money.
    """
    if type(value) is int:
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError(f"non-integral amount in database: {value}")
        return int(value)
    if isinstance(value, bytes | str):
        return int(value)
    raise TypeError(f"unexpected stored amount {value!r}")


def datetime_to_sqlite(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME storage form (naive UTC text)."""
    if value is None:
        return None
    return utc(value).strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[union-attr]


class _SqliteExactInt(UserDefinedType):
    """SQLite storage type with no affinity (declared ``BLOB``)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


class Amount(TypeDecorator):
    """Exact integer amount: NUMERIC(78,0) on PostgreSQL, affinity-free column on SQLite.

    Binding a value outside 0..2**256-1 raises :class:`~keeper.ledger.errors.InvalidTransfer`
    (SQLAlchemy reports it as a ``StatementError`` whose ``orig`` is that error); nothing is written.
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteExactInt())
        return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not is_amount(value):
            raise amount_error("amount column", value)
        return amount_to_sqlite(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else amount_from_db(value)
