"""ATLAS's own database: customers, a double-entry fiat ledger, idempotency records, the GL
batches it accepted and the outbox of deposit notifications (SQLAlchemy Core, SQLite).

Ledger: every posting is a set of entries whose signed ``amount`` (cents; + debit, - credit)
sums to zero per currency; an account's balance is the sum of its entries (kept as a running
sum in ``atlas_balances``, bounded by ``MAX_CENTS``), read on its normal
side (``debit``-normal: nostro; ``credit``-normal: customer deposits, the stablecoin settlement
account, issuer reserves, fee income, GL accounts). Writes are serialised by one lock (the
service is the database's only writer) and each runs in one transaction: a refused operation
writes nothing; a replayed idempotency key returns the first answer and posts nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)

from keeper.integrations.corebanking.wire import GL_ACCOUNTS, MAX_CENTS, RESERVE_ASSETS

metadata = MetaData()

accounts = Table(
    "atlas_accounts", metadata,
    Column("code", String(80), primary_key=True),
    Column("normal", String(6), nullable=False),  # debit | credit
    Column("customer_id", String(64), unique=True),
)
customers = Table(
    "atlas_customers", metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("name", String(140), nullable=False),
    Column("account_id", String(80), ForeignKey("atlas_accounts.code"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
postings = Table(
    "atlas_postings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("customer_id", String(64)),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Column("meta", JSON, nullable=False),
)
entries = Table(
    "atlas_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("posting_id", Integer, ForeignKey("atlas_postings.id"), nullable=False),
    Column("account", String(80), ForeignKey("atlas_accounts.code"), nullable=False),
    Column("currency", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),  # cents, + debit / - credit
    Index("ix_atlas_entries_account", "account"),
)
balances = Table(  # the running sum of each account's entries per currency (+ debit / - credit)
    "atlas_balances", metadata,
    Column("account", String(80), ForeignKey("atlas_accounts.code"), primary_key=True),
    Column("currency", String(20), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)
reversals = Table(  # one reversal per reversed posting: the primary key refuses a second
    "atlas_reversals", metadata,
    Column("posting_id", Integer, ForeignKey("atlas_postings.id"), primary_key=True),
    Column("reversal_id", Integer, ForeignKey("atlas_postings.id"), nullable=False, unique=True),
)
idempotency = Table(
    "atlas_idempotency", metadata,
    Column("key", String(80), primary_key=True),  # "<scope>:<key>"
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("answer", JSON, nullable=False),
)
notifications = Table(
    "atlas_notifications", metadata,
    Column("transaction_id", String(64), primary_key=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),  # pending | accepted | rejected | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("http_status", Integer),
    Column("answer", JSON),
)

NOSTRO = "1000-NOSTRO"  # the bank's cash at its correspondent / central bank (debit-normal)
SETTLEMENT = "2200-STABLECOIN-SETTLEMENT"  # buys' fiat awaiting the issuer; sells' fiat paid out
FEE_INCOME = "4510-FEE-INCOME"


def reserve_account(asset: str) -> str:
    """The account holding fiat reserves for ``asset``'s issuer."""
    return f"2300-RESERVES-{asset}"


SYSTEM_ACCOUNTS = {NOSTRO: "debit", SETTLEMENT: "credit", FEE_INCOME: "credit",
                   **{reserve_account(a): "credit" for a in RESERVE_ASSETS},
                   **dict.fromkeys(GL_ACCOUNTS, "credit")}


class Refused(Exception):  # noqa: N818 - an answer, not a fault
    """A request ATLAS refuses: ``status`` (HTTP), ``code`` and ``message``; nothing written."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Store:
    """ATLAS's database and its one writer lock."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False}
                                            if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        metadata.create_all(self.engine)
        self.lock = threading.Lock()
        with self.engine.begin() as conn:
            have = {r[0] for r in conn.execute(select(accounts.c.code))}
            rows = [{"code": c, "normal": n, "customer_id": None}
                    for c, n in SYSTEM_ACCOUNTS.items() if c not in have]
            if rows:
                conn.execute(insert(accounts), rows)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One serialised write transaction (rolled back on any exception): this process's
        lock, and on SQLite ``BEGIN IMMEDIATE`` (the database's write lock before the first
        read), so a check-then-post (no overdraft) holds at the database level too."""
        with self.lock, self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
            yield conn

    def read(self) -> Connection:
        """A read connection (use as a context manager)."""
        return self.engine.connect()

    def close(self) -> None:
        """Release the database."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (pysqlite defers it past reads)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """Reads run in one snapshot (``BEGIN``); writes take the write lock first."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")


def request_hash(payload: Any) -> str:
    """A stable digest of a request body, to tell a replay from a different request."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def replayed(conn: Connection, key: str, digest: str) -> tuple[int, Any] | None:
    """The stored answer for idempotency ``key``; a different request under it is refused."""
    row = conn.execute(select(idempotency).where(idempotency.c.key == key)).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise Refused(409, "idempotency_conflict",
                      "this idempotency key was used for a different request")
    return row.status, row.answer


def remember(conn: Connection, key: str, digest: str, status: int, answer: Any) -> None:
    """Store the answer given under idempotency ``key`` (same transaction as its effect)."""
    conn.execute(insert(idempotency).values(key=key, request_hash=digest, status=status,
                                            answer=answer))


def balance(conn: Connection, account: str, currency: str = "USD") -> int:
    """``account``'s balance in cents on its normal side."""
    normal = conn.execute(select(accounts.c.normal).where(accounts.c.code == account)).scalar_one()
    raw = conn.execute(select(balances.c.amount).where(balances.c.account == account,
                                                       balances.c.currency == currency)).scalar() or 0
    return int(raw) if normal == "debit" else -int(raw)


def post(conn: Connection, kind: str, legs: Sequence[tuple[str, int]], *, customer_id: str | None,
         meta: dict[str, Any], currency: str = "USD", at: datetime | None = None) -> int:
    """Write one balanced posting: ``legs`` of (account, signed cents: + debit, - credit).

    Every account's balance stays within ``MAX_CENTS`` either way (refused with 422 otherwise):
    balances are kept as running sums, so no read ever has to add more than 64 bits."""
    if sum(a for _, a in legs) != 0 or not legs:
        raise AssertionError(f"unbalanced posting {kind}: {legs}")  # a programming error
    moves: dict[str, int] = {}
    for acc, amount in legs:
        moves[acc] = moves.get(acc, 0) + amount
    for acc, amount in moves.items():
        old = conn.execute(select(balances.c.amount).where(balances.c.account == acc,
                                                           balances.c.currency == currency)).scalar()
        new = (old or 0) + amount
        if abs(new) > MAX_CENTS:
            raise Refused(422, "limit_exceeded", f"account {acc} would exceed {MAX_CENTS} cents")
        if old is None:
            conn.execute(insert(balances).values(account=acc, currency=currency, amount=new))
        else:
            conn.execute(update(balances).where(balances.c.account == acc,
                                                balances.c.currency == currency).values(amount=new))
    pid = conn.execute(insert(postings).values(kind=kind, customer_id=customer_id,
                                               posted_at=at or utcnow(), meta=meta)).inserted_primary_key[0]
    conn.execute(insert(entries), [{"posting_id": pid, "account": acc, "currency": currency,
                                    "amount": amount} for acc, amount in legs if amount])
    return int(pid)


def customer_account(conn: Connection, customer_id: str) -> str:
    """The customer's account; an unknown customer is refused with 404."""
    acc = conn.execute(select(customers.c.account_id)
                       .where(customers.c.customer_id == customer_id)).scalar()
    if acc is None:
        raise Refused(404, "unknown_customer", f"customer {customer_id!r} not found")
    return str(acc)


def trial_balance(conn: Connection) -> dict[str, Any]:
    """Debit and credit balances per currency (added in Python: no 64-bit overflow), any
    account whose running balance differs from the sum of its entries, and any posting that
    does not net to zero -- both always empty unless the database was tampered with."""
    per: dict[str, list[int]] = {}
    for currency, amount in conn.execute(select(balances.c.currency, balances.c.amount)):
        side = per.setdefault(currency, [0, 0])
        side[0 if amount > 0 else 1] += abs(int(amount))
    sums: dict[tuple[str, str], int] = {}
    for acc, currency, amount in conn.execute(select(entries.c.account, entries.c.currency,
                                                     entries.c.amount)):
        sums[(acc, currency)] = sums.get((acc, currency), 0) + int(amount)
    kept = {(a, c): int(v) for a, c, v in conn.execute(select(balances))}
    drift = sorted(f"{a}/{c}" for a, c in set(sums) | set(kept) if sums.get((a, c), 0) != kept.get((a, c), 0))
    bad = conn.execute(select(entries.c.posting_id).group_by(entries.c.posting_id, entries.c.currency)
                       .having(func.sum(entries.c.amount) != 0)).scalars().all()
    return {"currencies": {c: {"debits": str(d), "credits": str(k)} for c, (d, k) in per.items()},
            "balance_drift": drift, "unbalanced_postings": [str(p) for p in bad]}
