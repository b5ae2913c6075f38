"""Reads of the safetx tables as plain records (the routes and the keeper render them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select

from keeper.keys.eth import SafeTx
from keeper.safetx.models import Confirmation, SafeTransaction, Status

T = SafeTransaction.__table__
C = Confirmation.__table__
ORDERINGS = {"nonce": T.c.nonce, "created": T.c.submission_date, "modified": T.c.modified}


@dataclass(frozen=True)
class ConfirmationRecord:
    """One stored owner signature."""

    owner: str
    signature: bytes
    signature_type: str
    submission_date: datetime


@dataclass(frozen=True)
class TxRecord:
    """One stored SafeTx with its confirmations (ordered by submission)."""

    safe: str
    safe_tx_hash: str
    tx: SafeTx
    proposer: str | None
    confirmations_required: int
    origin: str
    status: str
    submission_date: datetime
    modified: datetime
    execution_date: datetime | None
    transaction_hash: str | None
    block_number: int | None
    executor: str | None
    is_successful: bool | None
    signatures: bytes | None
    note: str | None
    confirmations: tuple[ConfirmationRecord, ...]
    proposed_by_delegate: str | None = None  # the sender when a delegate proposed

    @property
    def executed(self) -> bool:
        """Mined (successfully or not)."""
        return self.status == Status.EXECUTED


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite (the database's write lock, waited for
    with the busy timeout, so a read-then-write never fails on a lock upgrade); an ordinary one on
    PostgreSQL (rows are locked ``FOR UPDATE`` where it matters)."""
    with engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
        yield conn


def safe_tx_of(r: Any) -> SafeTx:
    """The ``SafeTx`` of a ``safetx_transactions`` row."""
    return SafeTx(r.to, int(r.value), bytes(r.data), r.operation, int(r.safe_tx_gas),
                  int(r.base_gas), int(r.gas_price), r.gas_token, r.refund_receiver, r.nonce)


def confirmations(conn: Connection, safe_tx_hash: str) -> tuple[ConfirmationRecord, ...]:
    """The confirmations of one transaction, oldest first."""
    rows = conn.execute(select(C.c.owner, C.c.signature, C.c.signature_type, C.c.submission_date)
                        .where(C.c.safe_tx_hash == safe_tx_hash)
                        .order_by(C.c.submission_date, C.c.id)).all()
    return tuple(ConfirmationRecord(r.owner, bytes(r.signature), r.signature_type,
                                    r.submission_date) for r in rows)


def _record(conn: Connection, row: Any) -> TxRecord:
    return TxRecord(
        row.safe, row.safe_tx_hash, safe_tx_of(row), row.proposer, row.confirmations_required,
        row.origin,
        row.status, row.submission_date, row.modified, row.execution_date,
        row.transaction_hash, row.block_number, row.executor, row.is_successful,
        bytes(row.signatures) if row.signatures is not None else None, row.note,
        confirmations(conn, row.safe_tx_hash), row.proposed_by_delegate)


def get(conn: Connection, safe_tx_hash: str) -> TxRecord | None:
    """The transaction ``safe_tx_hash`` (0x lower-case hex), or None."""
    row = conn.execute(select(T).where(T.c.safe_tx_hash == safe_tx_hash)).one_or_none()
    return None if row is None else _record(conn, row)


def where(conn: Connection, query: Select[Any]) -> list[TxRecord]:
    """Records of the rows ``query`` (a select of the table) returns."""
    return [_record(conn, row) for row in conn.execute(query).all()]


def listing(conn: Connection, safe: str, *, executed: bool | None, nonce_gte: int | None,
            ordering: str | None, limit: int, offset: int) -> tuple[int, list[TxRecord], int]:
    """(count, one page, number of distinct nonces) of ``safe``'s transactions, filtered as the
    Safe service filters (``executed``, ``nonce__gte``) and ordered by ``ordering``
    (``nonce``, ``created``, ``modified``, ``-`` for descending; default newest nonce first)."""
    cond = [T.c.safe == safe]
    if executed is not None:
        cond.append(T.c.status == Status.EXECUTED if executed else T.c.status != Status.EXECUTED)
    if nonce_gte is not None:
        cond.append(T.c.nonce >= nonce_gte)
    order = [T.c.nonce.desc(), T.c.submission_date.desc()]
    if ordering:
        column = ORDERINGS[ordering.lstrip("-")]
        order = [column.desc() if ordering.startswith("-") else column.asc()]
    order.append(T.c.safe_tx_hash)
    count = conn.execute(select(func.count()).select_from(T).where(*cond)).scalar_one()
    unique = conn.execute(select(func.count(func.distinct(T.c.nonce))).where(*cond)).scalar_one()
    page = where(conn, select(T).where(*cond).order_by(*order).limit(limit).offset(offset))
    return int(count), page, int(unique)
