"""Running totals of each client's screened movements (``compliance_movement_totals``).

One row per client and distinct movement time ``at`` holds the totals of the client's
non-blocked movements up to and including ``at``: how many, their US cents, how many lie in each
value band the rules read, and the times of the latest buy and of the latest CTR filing. The rows
are written by :func:`record` in the transaction that stores the movements (under the client's
screening lock), so the totals of the movements strictly between two times are the difference of
two rows found by the primary key (:func:`gap_summaries`): a batch's screening reads a few rows
however long the client's month has been, where a ``SUM`` over the month grew with it.

A band a row does not carry (rows filled by the migration, or a band added to the rules later)
is counted into every row of that client from its movements once, when a screen next stores
movements of the client; a read that meets such a row falls back to the database's sums (same
answer, slower).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, literal, select, union_all, update

from keeper import sqlrows
from keeper.compliance.models import MovementRow, MovementTotalRow
from keeper.compliance.rules_engine import Summary
from keeper.ledger import utc

_MOV, _TOT = MovementRow.__table__, MovementTotalRow.__table__
Band = tuple[int, int]
#: how a stored movement's ``detail`` (``json.dumps(..., sort_keys=True)``) says it filed a CTR; a
#: string value cannot contain it (its quotes are escaped), so no parse is needed to find it
CTR_FILED = '"ctr_filed": true'


def _key(band: Band) -> str:
    return f"{band[0]}:{band[1]}"


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Totals:
    """Totals of a client's non-blocked movements up to some time (see module)."""

    count: int = 0
    cents: int = 0
    bands: dict[str, int] = field(default_factory=dict)  # "low:high" -> movements in the band
    last_buy: datetime | None = None
    last_ctr: datetime | None = None

    @classmethod
    def zero(cls, bands: Iterable[Band]) -> Totals:
        """No movement yet (every band counted: zero)."""
        return cls(bands={_key(b): 0 for b in bands})

    @classmethod
    def decode(cls, text: str) -> Totals:
        """A stored row's totals."""
        d = json.loads(text)
        return cls(int(d["n"]), int(d["c"]), {k: int(v) for k, v in d["b"].items()},
                   utc(d["buy"]), utc(d["ctr"]))

    def encode(self) -> str:
        """The stored form (JSON: integers of any size)."""
        return json.dumps({"n": self.count, "c": self.cents, "b": self.bands,
                           "buy": self.last_buy.isoformat() if self.last_buy else None,
                           "ctr": self.last_ctr.isoformat() if self.last_ctr else None},
                          sort_keys=True, separators=(",", ":"))

    def take(self, row: dict[str, Any], bands: Sequence[Band]) -> None:
        """Count one movement row (``compliance_movements`` values)."""
        cents = row["usd_cents"]
        self.count += 1
        self.cents += cents
        for b in bands:
            if b[0] <= cents <= b[1]:
                self.bands[_key(b)] += 1
        if row["kind"] == "buy":
            self.last_buy = _later(self.last_buy, row["at"])
        if CTR_FILED in row["detail"]:
            self.last_ctr = _later(self.last_ctr, row["at"])

    def plus(self, other: Totals, bands: Sequence[Band]) -> Totals:
        """These totals and ``other``'s (``bands``: which band counts the result carries)."""
        return Totals(self.count + other.count, self.cents + other.cents,
                      {_key(b): self.bands[_key(b)] + other.bands[_key(b)] for b in bands},
                      _later(self.last_buy, other.last_buy), _later(self.last_ctr, other.last_ctr))


#: a totals row rewritten (client ``c``, time ``a``, totals text ``t``)
_REWRITE = (update(_TOT).where(_TOT.c.client_id == bindparam("c"), _TOT.c.at == bindparam("a"))
            .values(totals=bindparam("t")))


def _fill_bands(conn: Connection, client_id: str, bands: Sequence[Band]) -> None:
    """Give every totals row of ``client_id`` the counts of ``bands``, from one pass over the
    client's stored movements (once per client after the migration or a new band)."""
    rows = [(utc(a), Totals.decode(t)) for a, t in conn.execute(
        select(_TOT.c.at, _TOT.c.totals).where(_TOT.c.client_id == client_id).order_by(_TOT.c.at))]
    counts = dict.fromkeys(bands, 0)
    movs = conn.execute(select(_MOV.c.at, _MOV.c.usd_cents).where(
        _MOV.c.client_id == client_id, _MOV.c.verdict != "block").order_by(_MOV.c.at)).all()
    k = 0
    for at, t in rows:
        while k < len(movs) and utc(movs[k][0]) <= at:  # type: ignore[operator]
            for b in bands:
                counts[b] += b[0] <= movs[k][1] <= b[1]
            k += 1
        t.bands = {_key(b): counts[b] for b in bands}
    if rows:
        conn.execute(_REWRITE, [{"c": client_id, "a": at, "t": t.encode()} for at, t in rows])


def _has(t: Totals, bands: Sequence[Band]) -> bool:
    return all(_key(b) in t.bands for b in bands)


def _around(conn: Connection, client_id: str, t0: datetime, bands: Sequence[Band]
            ) -> tuple[Totals, list[tuple[datetime, Totals]]]:
    """The client's totals just before ``t0`` (zero when none) and its totals rows from ``t0`` on."""
    prev = conn.execute(select(_TOT.c.totals).where(
        _TOT.c.client_id == client_id, _TOT.c.at < t0).order_by(_TOT.c.at.desc()).limit(1)).first()
    old = [(utc(r.at), Totals.decode(r.totals)) for r in conn.execute(
        select(_TOT.c.at, _TOT.c.totals).where(_TOT.c.client_id == client_id, _TOT.c.at >= t0)
        .order_by(_TOT.c.at))]
    return (Totals.zero(bands) if prev is None else Totals.decode(prev.totals)), old  # type: ignore[return-value]


def record(conn: Connection, rows: Sequence[dict[str, Any]], bands: Iterable[Band]) -> None:
    """Fold new ``compliance_movements`` rows into their clients' totals, in ``conn``'s open
    transaction, BEFORE the rows themselves are inserted, under the clients' screening locks.
    Rows later than every stored time (the usual case) add one totals row per new time; an
    earlier one also adds itself to every stored totals row after it."""
    want = sorted(bands)
    by_client: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["verdict"] != "block":
            by_client.setdefault(r["client_id"], []).append(r)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for client_id, new in by_client.items():
        new.sort(key=lambda r: r["at"])
        t0 = new[0]["at"]
        base, old = _around(conn, client_id, t0, want)
        if not (_has(base, want) and all(_has(t, want) for _, t in old)):
            _fill_bands(conn, client_id, want)
            base, old = _around(conn, client_id, t0, want)
        stored = {a for a, _ in old}
        added, current, i, j = Totals.zero(want), base, 0, 0
        for at in sorted(stored | {r["at"] for r in new}):
            while j < len(old) and old[j][0] <= at:
                current, j = old[j][1], j + 1
            while i < len(new) and new[i]["at"] <= at:
                added.take(new[i], want)
                i += 1
            row = {"c": client_id, "a": at, "t": current.plus(added, want).encode()}
            (updates if at in stored else inserts).append(row)
    sqlrows.insert_rows(conn, _TOT, [{"client_id": r["c"], "at": r["a"], "totals": r["t"]}
                                     for r in inserts])
    if updates:
        conn.execute(_REWRITE, updates)


def store(conn: Connection, rows: Sequence[dict[str, Any]], bands: Iterable[Band]) -> None:
    """Insert ``compliance_movements`` rows with their clients' totals (the one way movements
    are stored), in ``conn``'s open transaction under the clients' screening locks."""
    record(conn, rows, bands)
    sqlrows.insert_rows(conn, _MOV, rows)


def _bounds(conn: Connection, client_id: str,
            points: Sequence[tuple[datetime, bool]]) -> list[tuple[datetime, Totals] | None]:
    """The totals row at or before each (time, inclusive) point: the latest with ``at <= time``
    (inclusive) or ``at < time``; None where the client has none. One query."""
    parts = []
    for k, (t, inclusive) in enumerate(points):
        cond = _TOT.c.at <= t if inclusive else _TOT.c.at < t
        sub = (select(_TOT.c.at, _TOT.c.totals).where(_TOT.c.client_id == client_id, cond)
               .order_by(_TOT.c.at.desc()).limit(1).subquery())
        parts.append(select(literal(k).label("k"), sub.c.at, sub.c.totals))
    found: list[tuple[datetime, Totals] | None] = [None] * len(points)
    for k, at, text in conn.execute(union_all(*parts)):
        found[k] = (utc(at), Totals.decode(text))  # type: ignore[assignment]
    return found


def gap_summaries(conn: Connection, client_id: str, gaps: Sequence[tuple[datetime, datetime]],
                  bands: Iterable[Band], ctr_since: datetime
                  ) -> list[tuple[Summary, datetime | None]] | None:
    """(summary, latest CTR filing after ``ctr_since``) of the client's non-blocked movements
    strictly inside each gap ``(low, high)`` that holds any, from two totals rows per gap; None
    when a row lacks one of ``bands`` (the caller sums the movements instead)."""
    want = sorted(bands)
    if not gaps:
        return []
    found = _bounds(conn, client_id, [p for lo, hi in gaps for p in ((lo, True), (hi, False))])
    out: list[tuple[Summary, datetime | None]] = []
    for n, (lo, _) in enumerate(gaps):
        before, last = found[2 * n], found[2 * n + 1]
        if last is None or (before is not None and before[0] == last[0]):
            continue  # nothing strictly inside
        a = before[1] if before is not None else Totals.zero(want)
        at, b = last
        if not (_has(a, want) and _has(b, want)):
            return None
        buy = b.last_buy if b.last_buy is not None and b.last_buy > lo else None
        ctr = b.last_ctr if b.last_ctr is not None and b.last_ctr > max(lo, ctr_since) else None
        out.append((Summary(at, b.count - a.count, b.cents - a.cents,
                            {x: b.bands[_key(x)] - a.bands[_key(x)] for x in want}, buy), ctr))
    return out


def backfill(conn: Connection) -> None:
    """Write the totals of every client's stored movements (the migration's, on a table with
    none): per client and time, in time order; band counts left to :func:`record`."""
    rows = conn.execute(select(_MOV.c.client_id, _MOV.c.kind, _MOV.c.usd_cents, _MOV.c.at,
                               _MOV.c.detail).where(_MOV.c.verdict != "block")
                        .order_by(_MOV.c.client_id, _MOV.c.at))
    out: list[dict[str, Any]] = []
    client, current = None, Totals()
    for r in rows:
        at = utc(r.at)
        if r.client_id != client:
            client, current = r.client_id, Totals()
        current.take({"usd_cents": int(r.usd_cents), "kind": r.kind, "at": at,
                      "detail": r.detail}, ())
        row = {"client_id": client, "at": at, "totals": current.encode()}
        if out and out[-1]["client_id"] == client and out[-1]["at"] == at:
            out[-1] = row
        else:
            out.append(row)
    for i in range(0, len(out), 1000):
        conn.execute(insert(_TOT), out[i:i + 1000])
