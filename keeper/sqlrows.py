"""Many rows written at once, without SQLAlchemy's per-row parameter processing (SQLite).

``conn.execute(insert(table), rows)`` compiles the statement and then runs every column of every
row through its bind processor: for a batch of thousands of rows that costs more than SQLite's
own work (~12% of an on-us transfer batch's API CPU, the DATETIME processor formatting the same
``now`` once per row). On SQLite, :func:`insert_rows` hands the driver one prepared
``INSERT ... VALUES (?, ...)`` and a list of tuples (``executemany``: the per-row cost is the
B-tree work itself), each column's value run through that column's *own* SQLAlchemy bind
processor once per distinct value of the batch: what is stored is what SQLAlchemy would store,
byte for byte, and reads back identically through the ORM. On PostgreSQL the same calls go
through SQLAlchemy (``insertmanyvalues``: one multi-row statement per page).

The model of this pattern is the ledger's ``keeper.ledger.bulk`` (its own tables, written straight
through the driver).
"""

# ruff: noqa: S608 - SQL is assembled from the table's own (quoted) names only; values are bound
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table, insert

_Processor = Callable[[Any], Any] | None
_SQL: dict[tuple[str, tuple[str, ...]], str] = {}  # INSERT statements by (table, columns)
_MEMO_TYPES = frozenset({datetime, bool, type(None)})  # equal values: the same bound value


def is_sqlite(conn: Connection) -> bool:
    """True when ``conn`` talks to SQLite (the driver path applies)."""
    return conn.dialect.name == "sqlite"


def _processor(conn: Connection, column: Column[Any]) -> _Processor:
    return column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)


def _bind_column(values: list[Any], process: _Processor) -> list[Any]:
    """``values`` of one column as SQLAlchemy binds them. Datetimes, booleans and nulls (the
    values a batch repeats: its ``now`` on every row) are processed once per distinct value;
    any other type once per value."""
    if process is None:
        return values
    types = set(map(type, values))
    if not types <= _MEMO_TYPES or (datetime in types and len(
            {v.tzinfo for v in values if type(v) is datetime}) > 1):
        # datetimes of one instant in different zones are equal, yet SQLAlchemy's SQLite
        # DATETIME stores each one's own wall time: no results shared between zones
        return list(map(process, values))
    memo = {v: process(v) for v in set(values)}
    return list(map(memo.__getitem__, values))


def bound(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as SQLAlchemy binds it for ``column`` on ``conn``'s database (for a statement
    run with ``exec_driver_sql``)."""
    process = _processor(conn, column)
    return value if process is None else process(value)


def _names(conn: Connection, table: Table, names: Sequence[str]) -> tuple[str, str]:
    quote = conn.dialect.identifier_preparer.quote
    return quote(table.name), ", ".join(quote(n) for n in names)


def _tuples(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
            names: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows as tuples of bound values, built column by column (C-level maps)."""
    columns = [_bind_column(list(map(itemgetter(n), rows)), _processor(conn, table.c[n]))
               for n in names]
    return list(zip(*columns, strict=True))


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (mappings of column name to value, every row the first row's columns)
    into ``table`` in ``conn``'s open transaction: SQLite through the driver's ``executemany``
    (see module), PostgreSQL through SQLAlchemy."""
    if not rows:
        return
    if not is_sqlite(conn):
        conn.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    key = (table.name, names)
    sql = _SQL.get(key)
    if sql is None:
        name, cols = _names(conn, table, names)
        sql = _SQL[key] = f"INSERT INTO {name} ({cols}) VALUES ({', '.join('?' * len(names))})"
    conn.exec_driver_sql(sql, _tuples(conn, table, rows, names))


def insert_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
               key: str) -> set[Any]:
    """Insert those of ``rows`` whose unique column ``key`` is not stored yet (``ON CONFLICT
    (key) DO NOTHING``: a duplicate never aborts the caller's transaction); returns the ``key``
    values inserted. SQLite: multi-row statements with ``RETURNING`` through the driver (the
    values bound as :func:`insert_rows` binds them); PostgreSQL: SQLAlchemy's."""
    if not rows:
        return set()
    names = tuple(rows[0])
    if not is_sqlite(conn):
        from sqlalchemy.dialects import postgresql
        ins = (postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
               .returning(table.c[key]))
        return set(conn.execute(ins, list(rows)).scalars())
    # rows per statement: as many as SQLAlchemy's own multi-row statements bind on this dialect
    per = max(1, min(len(rows), conn.dialect.insertmanyvalues_page_size,
                     conn.dialect.insertmanyvalues_max_parameters // len(names)))
    values = _tuples(conn, table, rows, names)
    name, cols = _names(conn, table, names)
    one = f"({', '.join('?' * len(names))})"
    k = conn.dialect.identifier_preparer.quote(key)
    made: set[Any] = set()
    for i in range(0, len(values), per):
        part = values[i:i + per]
        sql = (f"INSERT INTO {name} ({cols}) VALUES {', '.join([one] * len(part))} "
               f"ON CONFLICT ({k}) DO NOTHING RETURNING {k}")
        made.update(r[0] for r in conn.exec_driver_sql(sql, tuple(v for row in part for v in row)))
    return made


def in_keys(conn: Connection, column: str, keys: Sequence[Any]) -> tuple[str, Any]:
    """(SQL of ``column IN`` the key list, its one parameter) for ``exec_driver_sql`` on
    SQLite: ``IN (SELECT value FROM json_each(?))`` (one parameter however many keys)."""
    quoted = conn.dialect.identifier_preparer.quote(column)
    return f"{quoted} IN (SELECT value FROM json_each(?))", json.dumps(list(keys))
