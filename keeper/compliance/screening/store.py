"""Versioned, atomic list store.

An import parses the whole file first (:func:`~.formats.parse_list`): a malformed or truncated
download is refused before the database is touched. The new version is then written in ONE
transaction that also makes it current; if anything fails the transaction rolls back and the
current version stays. Earlier versions are kept. A file identical to the current version (same
SHA-256) adds no version. A new version with far fewer entries than the current one (default:
less than half) is refused unless ``allow_shrink`` is given: a well-formed but partial download
must not silently empty the list.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, func, insert, select, update

from keeper.compliance.models import AddressRow, EntryRow, ListVersionRow, NameRow
from keeper.compliance.screening.formats import parse_list
from keeper.compliance.screening.records import (
    ListedAddress,
    ListEntry,
    ListFormatError,
    ListVersion,
    ParsedList,
)
from keeper.ledger.db import WRITE
from keeper.ledger.domain import utc

LIST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_MAX_SHRINK = 0.5


class ListShrinkError(ListFormatError):
    """A new version would drop too many entries at once (likely a partial download)."""


def open_version(conn: Connection, table: Table, list_name: str, sha256: str, count: int, *,
                 now: datetime, max_shrink: float, allow_shrink: bool, unit: str = "entries",
                 **columns: Any) -> tuple[Row[Any] | None, int, int]:
    """The versioning rule of every imported list (sanctions lists, labelled address lists), in
    ``conn``'s write transaction: ``(current row, its version, 0)`` when ``sha256`` is already
    current (nothing written); else the shrink check (:class:`ListShrinkError` beyond
    ``max_shrink`` unless ``allow_shrink``) and ``(None, new version, new row id)`` of a new,
    not yet current version row. The caller writes its rows, then calls :func:`make_current`."""
    c = table.c
    current = conn.execute(select(table).where(c.list_name == list_name, c.is_current)).first()
    if current is not None and current.sha256 == sha256:
        return current, current.version, 0
    if current is not None and not allow_shrink and count < current.entry_count * (1 - max_shrink):
        raise ListShrinkError(
            f"{list_name}: {count} {unit} against {current.entry_count} in "
            f"v{current.version}; refusing a likely partial list (allow_shrink to force)")
    version = (conn.scalar(select(func.max(c.version)).where(c.list_name == list_name)) or 0) + 1
    vid = conn.execute(insert(table).values(
        list_name=list_name, version=version, sha256=sha256, entry_count=count, imported_at=now,
        is_current=False, **columns).returning(c.id)).scalar_one()
    return None, version, vid


def make_current(conn: Connection, table: Table, list_name: str, version_id: int) -> None:
    """Make version ``version_id`` of ``list_name`` the current one (after its rows are in)."""
    c = table.c
    conn.execute(update(table).where(c.list_name == list_name, c.is_current).values(is_current=False))
    conn.execute(update(table).where(c.id == version_id).values(is_current=True))


class ListStore:
    """Sanctions lists in the compliance tables (see the module docstring)."""

    def __init__(self, engine: Engine, max_shrink: float = DEFAULT_MAX_SHRINK) -> None:
        """``max_shrink``: the largest fraction of entries a new version may drop."""
        self._engine = engine
        self._max_shrink = max_shrink

    def import_list(self, list_name: str, source: bytes | Path, source_format: str, *,
                    allow_shrink: bool = False) -> ListVersion:
        """Parse ``source`` completely, then store it as the new current version of ``list_name``.

        Raises :class:`ListFormatError` (nothing changed) for a bad file or name."""
        if not LIST_NAME.fullmatch(list_name):
            raise ListFormatError(f"bad list name {list_name!r}")
        return self.store(list_name, parse_list(source, source_format), allow_shrink=allow_shrink)

    def store(self, list_name: str, parsed: ParsedList, *, allow_shrink: bool = False) -> ListVersion:
        """Write ``parsed`` as the new current version in one transaction (see module docstring)."""
        now = datetime.now(UTC)
        table = ListVersionRow.__table__
        with self._engine.execution_options(**WRITE).begin() as conn:
            current, version, version_id = open_version(
                conn, table, list_name, parsed.sha256, len(parsed.entries), now=now,
                max_shrink=self._max_shrink, allow_shrink=allow_shrink,
                source_format=parsed.source_format, address_count=parsed.address_count)
            if current is not None:
                return self._load(conn, current)
            _insert_entries(conn, version_id, parsed.entries)
            make_current(conn, table, list_name, version_id)
        return ListVersion(list_name, version, parsed.source_format, parsed.sha256, now, parsed.entries)

    def current(self, list_name: str) -> ListVersion | None:
        """The current version of ``list_name`` (None before its first import)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(ListVersionRow.__table__).where(
                ListVersionRow.list_name == list_name, ListVersionRow.is_current)).first()
            return self._load(conn, row) if row is not None else None

    def current_all(self) -> list[ListVersion]:
        """The current version of every list."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(ListVersionRow.__table__).where(ListVersionRow.is_current)
                                .order_by(ListVersionRow.list_name)).all()
            return [self._load(conn, row) for row in rows]

    def load(self, list_name: str, version: int) -> ListVersion:
        """One stored version (``KeyError`` when there is none)."""
        with self._engine.connect() as conn:
            row = conn.execute(select(ListVersionRow.__table__).where(
                ListVersionRow.list_name == list_name, ListVersionRow.version == version)).first()
            if row is None:
                raise KeyError(f"{list_name}@v{version}")
            return self._load(conn, row)

    def versions(self, list_name: str) -> list[tuple[int, bool, int, str]]:
        """(version, is current, entry count, sha256) of every stored version, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(ListVersionRow.version, ListVersionRow.is_current,
                                       ListVersionRow.entry_count, ListVersionRow.sha256)
                                .where(ListVersionRow.list_name == list_name)
                                .order_by(ListVersionRow.version)).all()
        return [(r.version, bool(r.is_current), r.entry_count, r.sha256) for r in rows]

    @staticmethod
    def _load(conn: Connection, row: object) -> ListVersion:
        vid = row.id  # type: ignore[attr-defined]
        names: dict[tuple[int, bool], list[str]] = defaultdict(list)
        for r in conn.execute(select(NameRow.entry_seq, NameRow.name, NameRow.weak)
                              .where(NameRow.version_id == vid)
                              .order_by(NameRow.entry_seq, NameRow.position)):
            names[(r.entry_seq, bool(r.weak))].append(r.name)
        addresses: dict[int, list[ListedAddress]] = defaultdict(list)
        for r in conn.execute(select(AddressRow.entry_seq, AddressRow.currency, AddressRow.address)
                              .where(AddressRow.version_id == vid)
                              .order_by(AddressRow.entry_seq, AddressRow.position)):
            addresses[r.entry_seq].append(ListedAddress(r.currency, r.address))
        entries = tuple(
            ListEntry(r.uid, r.kind, tuple(names[(r.seq, False)]), tuple(addresses[r.seq]),
                      tuple(json.loads(r.countries)), tuple(json.loads(r.birth_dates)),
                      tuple(names[(r.seq, True)]))
            for r in conn.execute(select(EntryRow.__table__).where(EntryRow.version_id == vid)
                                  .order_by(EntryRow.seq)))
        return ListVersion(row.list_name, row.version, row.source_format,  # type: ignore[attr-defined]
                           row.sha256, utc(row.imported_at), entries)  # type: ignore[attr-defined,arg-type]


def _insert_entries(conn: Connection, version_id: int, entries: tuple[ListEntry, ...]) -> None:
    conn.execute(insert(EntryRow), [
        {"version_id": version_id, "seq": seq, "uid": e.uid, "kind": e.kind,
         "countries": json.dumps(e.countries), "birth_dates": json.dumps(e.birth_dates)}
        for seq, e in enumerate(entries)])
    conn.execute(insert(NameRow), [
        {"version_id": version_id, "entry_seq": seq, "position": pos, "name": name,
         "weak": pos >= len(e.names)}
        for seq, e in enumerate(entries) for pos, name in enumerate(e.names + e.weak_names)])
    addresses = [{"version_id": version_id, "entry_seq": seq, "position": pos,
                  "currency": a.currency, "address": a.address}
                 for seq, e in enumerate(entries) for pos, a in enumerate(e.addresses)]
    if addresses:
        conn.execute(insert(AddressRow), addresses)
