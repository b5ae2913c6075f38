"""keeper.sqlrows writes rows through the driver on SQLite: what it stores is what SQLAlchemy's
insert stores (byte for byte in the database, the same values through the ORM), on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    insert,
    select,
)

from keeper import sqlrows
from keeper.ledger import make_engine


def _table(meta: MetaData, name: str) -> Table:
    return Table(name, meta, Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("key", String(40), unique=True), Column("open", Boolean),
                 Column("n", BigInteger), Column("text", Text),
                 Column("at", DateTime(timezone=True)),
                 Column("done", DateTime(timezone=True), nullable=True))


_NOW = datetime(2026, 11, 24, 10, 30, 1, 123456, tzinfo=UTC)
_ROWS = [
    {"id": i, "key": f"k{i}", "open": i % 2 == 0, "n": (-1) ** i * (2**62 + i),
     "text": text, "at": at, "done": done}
    for i, (text, at, done) in enumerate([
        ("plain", _NOW, None),
        ("é\u2028\U0001f600\x01'\"", _NOW, _NOW),  # the same instant again: formatted once
        ("", _NOW + timedelta(microseconds=1), datetime(2026, 1, 2, 3, 4, 5)),  # naive
        ("zone", _NOW.astimezone(timezone(timedelta(hours=5, minutes=30))), _NOW),
        ("whole second", _NOW.replace(microsecond=0), None),
    ])
]


@pytest.fixture
def engine(database):
    eng = make_engine(database("sqlrows"))
    yield eng
    eng.dispose()


def test_insert_rows_stores_what_sqlalchemy_stores(engine) -> None:
    meta = MetaData()
    ours, theirs = _table(meta, "rows_driver"), _table(meta, "rows_sqlalchemy")
    meta.create_all(engine)
    with engine.begin() as conn:
        sqlrows.insert_rows(conn, ours, _ROWS)
        conn.execute(insert(theirs), _ROWS)
        sqlrows.insert_rows(conn, ours, [])  # nothing: no statement
    with engine.connect() as conn:
        def stored(t: Table) -> list[tuple[object, ...]]:  # the database's own text of each value
            return conn.execute(select(*[cast(c, Text) for c in t.c]).order_by(t.c.id)).all()

        def read(t: Table) -> list[tuple[object, ...]]:
            return conn.execute(select(t).order_by(t.c.id)).all()

        assert stored(ours) == stored(theirs)
        assert read(ours) == read(theirs)
        assert [r.text for r in read(ours)] == [r["text"] for r in _ROWS]
        assert [r.n for r in read(ours)] == [r["n"] for r in _ROWS]


def test_insert_new_skips_stored_keys_and_says_which_it_inserted(engine) -> None:
    meta = MetaData()
    t = _table(meta, "rows_new")
    meta.create_all(engine)
    with engine.begin() as conn:
        assert sqlrows.insert_new(conn, t, _ROWS[:3], "key") == {"k0", "k1", "k2"}
    again = [{**_ROWS[1], "id": 11, "text": "other"}, *_ROWS[3:]]
    with engine.begin() as conn:
        assert sqlrows.insert_new(conn, t, again, "key") == {"k3", "k4"}
        assert sqlrows.insert_new(conn, t, [], "key") == set()
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id)).all()
    assert [r.key for r in rows] == [r["key"] for r in _ROWS]
    assert rows[1].text == _ROWS[1]["text"]  # the stored row was left as it was
