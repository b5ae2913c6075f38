"""Read-only aggregate queries over the ledger's tables (what reconciliation and reports need).

:func:`ledger_totals` reads, in ONE snapshot, the posted balance of every omnibus, suspense and
fee account, the sum of all client holdings per asset, and every source cursor's position, so
the figures agree with each other and with the block the chain follower had reached.

Exact sums on both backends: PostgreSQL sums ``NUMERIC(78,0)`` exactly in SQL. On SQLite amounts
are stored as INTEGER when they fit 64 bits, else as decimal TEXT (:mod:`keeper.ledger.types`);
SQL ``SUM`` is used only over INTEGER-typed values (exact 64-bit arithmetic; an overflow raises
"integer overflow", never wraps or rounds, and we then sum those rows in Python), and the rare
wide TEXT values are summed in Python. No REAL ever enters a figure.
"""

# ruff: noqa: S608 - SQL is assembled from constant text only; values are always bound
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, exc, select

from keeper.ledger.domain import AccountKind, Kind
from keeper.ledger.models import Account, Cursor, Transfer
from keeper.ledger.types import amount_from_db


@dataclass
class AssetTotals:
    """Posted balances of one asset. Omnibus balances are debit-normal (debits - credits: what
    the location holds); client, suspense and fee balances credit-normal (credits - debits)."""

    omnibus: dict[str, int] = field(default_factory=dict)  # location -> balance
    clients: int = 0
    client_accounts: int = 0
    suspense: int = 0
    fees: int = 0

    @property
    def liabilities(self) -> int:
        """Client holdings + suspense + fees: what the omnibus accounts must add up to."""
        return self.clients + self.suspense + self.fees

    @property
    def omnibus_total(self) -> int:
        """Sum of the omnibus balances over every location."""
        return sum(self.omnibus.values())


@dataclass
class LedgerTotals:
    """Per-asset totals and the source cursors' positions, read in one snapshot."""

    assets: dict[str, AssetTotals]
    cursors: dict[str, int]


_GROUPED = ("SELECT kind, asset, CASE WHEN kind = 'client' THEN '' ELSE owner END, "
            "SUM(debits_posted), SUM(credits_posted), COUNT(*) FROM ledger_accounts {where} "
            "GROUP BY 1, 2, 3")
_SQLITE_INT = "typeof(debits_posted) = 'integer' AND typeof(credits_posted) = 'integer'"


def _snapshot(engine: Engine) -> Connection:
    """A connection whose transaction reads one consistent snapshot (read-only on PostgreSQL)."""
    opts = ({"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if engine.dialect.name == "postgresql" else {})
    return engine.connect().execution_options(**opts)


def _grouped_rows(conn: Connection) -> Iterable[tuple]:
    """(kind, asset, owner-or-'', debits, credits, count) groups with exact integer sums."""
    if conn.dialect.name != "sqlite":
        return [tuple(r) for r in conn.exec_driver_sql(_GROUPED.format(where=""))]
    try:
        rows = [tuple(r) for r in conn.exec_driver_sql(_GROUPED.format(where="WHERE " + _SQLITE_INT))]
        rest = f"WHERE NOT ({_SQLITE_INT})"
    except exc.OperationalError:  # a 64-bit overflow inside SUM: sum every row in Python
        rows, rest = [], ""
    sql = ("SELECT kind, asset, CASE WHEN kind = 'client' THEN '' ELSE owner END, debits_posted, "
           f"credits_posted, 1 FROM ledger_accounts {rest}")
    return rows + [tuple(r) for r in conn.exec_driver_sql(sql)]


def ledger_totals(engine: Engine) -> LedgerTotals:
    """Every asset's posted totals (see :class:`AssetTotals`) and every cursor's position."""
    assets: dict[str, AssetTotals] = defaultdict(AssetTotals)
    with _snapshot(engine) as conn, conn.begin():
        for kind, asset, owner, debits, credits, count in _grouped_rows(conn):
            d, c = amount_from_db(debits), amount_from_db(credits)
            t = assets[asset]
            if kind == AccountKind.OMNIBUS:
                t.omnibus[owner] = t.omnibus.get(owner, 0) + d - c
            elif kind == AccountKind.CLIENT:
                t.clients += c - d
                t.client_accounts += int(count)
            elif kind == AccountKind.SUSPENSE:
                t.suspense += c - d
            elif kind == AccountKind.FEE:
                t.fees += c - d
        cursors = {n: int(p) for n, p in conn.execute(select(Cursor.name, Cursor.position))}
    return LedgerTotals(dict(assets), cursors)


def client_postings(engine: Engine, client_id: str, asset: str,
                    transfer_ids: Iterable[str]) -> dict[str, int]:
    """Signed posted amount (+ credit to the client, - debit) of each of ``transfer_ids`` that
    is a posted (single or post) transfer on ``client_id``'s ``asset`` account; others absent."""
    ids = sorted(set(transfer_ids))
    a, t = Account.__table__.c, Transfer.__table__.c
    out: dict[str, int] = {}
    with engine.connect() as conn:
        acc = conn.scalar(select(a.id).where(a.kind == str(AccountKind.CLIENT),
                                             a.asset == asset.upper(), a.owner == client_id))
        if acc is None:
            return out
        for i in range(0, len(ids), 500):
            q = select(t.transfer_id, t.amount, t.debit_account_id, t.credit_account_id).where(
                t.transfer_id.in_(ids[i:i + 500]), t.kind.in_([Kind.SINGLE, Kind.POST]))
            for tid, amount, debit, credit in conn.execute(q):
                if acc in (debit, credit):
                    out[tid] = amount if credit == acc else -amount
    return out
