"""DriverQuery: a Core statement run straight through the driver binds what SQLAlchemy binds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, create_engine, insert, select
from sqlalchemy.dialects import postgresql

from keeper.ledger.db import DriverQuery
from keeper.ledger.models import Base, Transfer

T = Transfer.__table__


def test_driver_rows_equal_sqlalchemys_for_constants_datetimes_and_wide_amounts() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[T])
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(T), [
            {"transfer_id": f"t{i}", "kind": "single" if i % 2 else "pending",
             "debit_account_id": 1, "credit_account_id": 2, "asset": "ETH",
             "amount": 2**200 + i, "fingerprint": "f", "created_at": at + timedelta(seconds=i)}
            for i in range(10)])
    q = (select(T.c.id, T.c.amount, T.c.created_at)
         .where(T.c.kind == "single",
                T.c.created_at >= bindparam("since", type_=T.c.created_at.type),
                T.c.amount >= bindparam("least", type_=T.c.amount.type))
         .order_by(T.c.id).limit(bindparam("limit")))
    params = {"since": at + timedelta(seconds=3), "least": 2**200 + 4, "limit": 3}
    driver = DriverQuery(q, engine.dialect)
    with engine.connect() as conn:
        ours = conn.exec_driver_sql(driver.sql, driver.args(params)).all()
        theirs = conn.execute(q, params).all()
    assert [r[0] for r in ours] == [r[0] for r in theirs] == [6, 8, 10]
    assert [int(r[1]) for r in ours] == [r[1] for r in theirs]  # wide amounts stored as text
    assert [datetime.fromisoformat(r[2]) for r in ours] == [r[2] for r in theirs]
    with pytest.raises(KeyError):  # a parameter the statement needs and the caller left out
        driver.args({"since": at, "limit": 1})


def test_a_dialect_binding_by_name_is_refused() -> None:
    with pytest.raises(ValueError, match="by name"):
        DriverQuery(select(T.c.id).where(T.c.id == bindparam("x")), postgresql.dialect())
