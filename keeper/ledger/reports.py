"""Read-only aggregate queries over the ledger's tables (what reconciliation and reports need).

:func:`ledger_totals` reads, in ONE snapshot, the posted balance of every omnibus, suspense and
fee account, the sum of all client holdings per asset, and every source cursor's position, so
the figures agree with each other and with the block the chain follower had reached.

Exact sums on both backends: PostgreSQL sums ``NUMERIC(78,0)`` exactly in SQL. On SQLite amounts
are stored as INTEGER when they fit 64 bits, else as decimal TEXT (:mod:`keeper.ledger.types`);
SQL ``SUM`` is used only over INTEGER-typed values, split at 10**9 so no 64-bit sum can overflow
(and if one did, SQLite raises "integer overflow", never wraps or rounds, and we then sum those
rows in Python); the wide TEXT
values (any holding above ~9.2 ETH in wei) come back comma-joined from the same single pass over
the client rows and are summed in Python. No REAL ever enters a figure.
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


_INT = "typeof({0}) = 'integer'"
_SPLIT = 10**9
# client holdings per asset in ONE pass over the client rows (the (kind, asset, owner) unique
# index serves kind = 'client'). INTEGER-stored amounts (< 2**63) are summed in SQL split at
# 10**9 (sum of the quotients, sum of the remainders: each below 2**63 for up to 10**9 rows, so
# exact where a plain SUM of wei would overflow past 9.2 ETH); the wide ones (decimal TEXT) come
# back comma-joined and are summed in Python
_CLIENTS_SQLITE = "SELECT asset, {}, COUNT(*) FROM ledger_accounts WHERE kind = 'client' " \
    "GROUP BY asset".format(", ".join(
        f"SUM(CASE WHEN {_INT.format(col)} THEN {col} {op} {_SPLIT} END)"
        for col in ("debits_posted", "credits_posted") for op in ("/", "%")) + ", " + ", ".join(
        f"group_concat(CASE WHEN {_INT.format(col)} THEN NULL ELSE {col} END)"
        for col in ("debits_posted", "credits_posted")))
_CLIENTS_EXACT_SQL = ("SELECT asset, SUM(debits_posted), SUM(credits_posted), COUNT(*) "
                      "FROM ledger_accounts WHERE kind = 'client' GROUP BY asset")
_CLIENT_ROWS = ("SELECT asset, debits_posted, credits_posted FROM ledger_accounts "
                "WHERE kind = 'client'")
_OTHERS = ("SELECT kind, asset, owner, debits_posted, credits_posted FROM ledger_accounts "
           "WHERE kind IN ({})".format(", ".join(f"'{k}'" for k in AccountKind
                                                  if k is not AccountKind.CLIENT)))


def _snapshot(engine: Engine) -> Connection:
    """A connection whose transaction reads one consistent snapshot (read-only on PostgreSQL)."""
    opts = ({"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if engine.dialect.name == "postgresql" else {})
    return engine.connect().execution_options(**opts)


def _joined(quotients: object, remainders: object, wide: str | None) -> int:
    """Exact total from the split SQL sums (None: no such rows) and the comma-joined wide ones."""
    total = int(quotients or 0) * _SPLIT + int(remainders or 0)
    return total + (sum(int(v) for v in wide.split(",")) if wide else 0)


def _client_sums(conn: Connection) -> dict[str, tuple[int, int, int]]:
    """asset -> (debits, credits, accounts) over every client account, exactly."""
    if conn.dialect.name != "sqlite":
        return {asset: (amount_from_db(d or 0), amount_from_db(c or 0), int(n))
                for asset, d, c, n in conn.exec_driver_sql(_CLIENTS_EXACT_SQL)}
    try:
        rows = conn.exec_driver_sql(_CLIENTS_SQLITE).all()
    except exc.OperationalError:  # an overflow (more than 10**9 rows): every row in Python
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for asset, d, c in conn.exec_driver_sql(_CLIENT_ROWS):
            acc = out[asset]
            acc[0] += amount_from_db(d)
            acc[1] += amount_from_db(c)
            acc[2] += 1
        return {a: (d, c, n) for a, (d, c, n) in out.items()}
    return {asset: (_joined(dq, dr, dw), _joined(cq, cr, cw), int(n))
            for asset, dq, dr, cq, cr, dw, cw, n in rows}


def ledger_totals(engine: Engine) -> LedgerTotals:
    """Every asset's posted totals (see :class:`AssetTotals`) and every cursor's position."""
    assets: dict[str, AssetTotals] = defaultdict(AssetTotals)
    with _snapshot(engine) as conn, conn.begin():
        for asset, (d, c, n) in _client_sums(conn).items():
            assets[asset].clients, assets[asset].client_accounts = c - d, n
        for kind, asset, owner, debits, credits in conn.exec_driver_sql(_OTHERS):
            d, c = amount_from_db(debits), amount_from_db(credits)
            t = assets[asset]
            if kind == AccountKind.OMNIBUS:
                t.omnibus[owner] = d - c
            elif kind == AccountKind.SUSPENSE:
                t.suspense += c - d
            else:
                t.fees += c - d
        cursors = {n: int(p) for n, p in conn.execute(select(Cursor.name, Cursor.position))}
    return LedgerTotals(dict(assets), cursors)


_LEGS_CHUNK = 900  # transfer ids per query (below SQLite's and psycopg's parameter limits)


def client_postings(engine: Engine, transfer_ids: Iterable[str]) -> dict[str, list[tuple[str, str, int]]]:
    """For each of ``transfer_ids`` that is a posted (single or post) transfer, its client legs
    as ``(client id, asset, signed amount)`` (+ credit to the client, - debit); others absent.

    Set-based: one query per chunk of ids, whatever the number of clients (type 2 reads every
    customer's trades at once)."""
    ids = sorted(set(transfer_ids))
    t, da, ca = Transfer.__table__, Account.__table__.alias("da"), Account.__table__.alias("ca")
    client = str(AccountKind.CLIENT)
    out: dict[str, list[tuple[str, str, int]]] = {}
    with _snapshot(engine) as conn, conn.begin():
        for i in range(0, len(ids), _LEGS_CHUNK):
            q = (select(t.c.transfer_id, t.c.amount, da.c.kind, da.c.owner, ca.c.kind, ca.c.owner,
                        t.c.asset)
                 .join(da, da.c.id == t.c.debit_account_id)
                 .join(ca, ca.c.id == t.c.credit_account_id)
                 .where(t.c.transfer_id.in_(ids[i:i + _LEGS_CHUNK]),
                        t.c.kind.in_([Kind.SINGLE, Kind.POST])))
            for tid, amount, dkind, downer, ckind, cowner, asset in conn.execute(q):
                legs = out.setdefault(tid, [])
                if ckind == client:
                    legs.append((cowner, asset, amount))
                if dkind == client:
                    legs.append((downer, asset, -amount))
    return out
