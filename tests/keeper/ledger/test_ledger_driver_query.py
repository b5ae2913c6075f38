"""Reads straight through the driver: DriverQuery binds what SQLAlchemy binds, and the raw
column text is read back as SQLAlchemy reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, create_engine, insert, select
from sqlalchemy.dialects import postgresql

from keeper.ledger.db import DriverQuery
from keeper.ledger.domain import utc
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


_INSTANTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
_ZONES = st.one_of(st.none(), st.builds(lambda m: timezone(timedelta(minutes=m)),
                                        st.integers(-23 * 60, 23 * 60)))


@settings(max_examples=150, deadline=None)
@given(_INSTANTS, _ZONES, st.sampled_from([" ", "T"]),
       st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]))
def test_utc_reads_any_iso_text_as_the_general_parse_does(at: datetime, zone: timezone | None,
                                                          sep: str, spec: str) -> None:
    # the fast path for SQLAlchemy's SQLite text must agree with parse-then-normalise on every
    # ISO shape, including 26-character texts that carry an offset instead of six digits
    text = at.replace(tzinfo=zone).isoformat(sep, spec)
    parsed = datetime.fromisoformat(text)
    want = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    got = utc(text)
    assert got == want and got.utcoffset() == timedelta(0)
    for short in ("+0100", "-0000", "Z"):  # compact offsets that fit in the same length
        trimmed = at.isoformat(sep, "milliseconds")[:-2] + short
        p = datetime.fromisoformat(trimmed)
        assert utc(trimmed) == p.astimezone(UTC)
