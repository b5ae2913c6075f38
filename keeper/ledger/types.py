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

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric
from sqlalchemy.types import TypeDecorator, UserDefinedType

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
UINT256_MAX = 2**256 - 1


class _SqliteExactInt(UserDefinedType):
    """SQLite storage type with no affinity (declared ``BLOB``)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


class Amount(TypeDecorator):
    """Exact integer amount: NUMERIC(78,0) on PostgreSQL, affinity-free column on SQLite."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteExactInt())
        return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if type(value) is not int:
            raise TypeError(f"amounts must be int, got {type(value).__name__}")
        if dialect.name == "sqlite":
            return value if _I64_MIN <= value <= _I64_MAX else str(value)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal):
            if value != value.to_integral_value():
                raise ValueError(f"non-integral amount in database: {value}")
            return int(value)
        if isinstance(value, bytes | str):
            return int(value)
        raise TypeError(f"unexpected stored amount {value!r}")
