"""The core of a group commit: apply many transfer requests in one database transaction.

All requests of a batch are validated against balances read once under the write lock, applied
in memory in submission order, then written with one multi-row INSERT of transfers and one UPDATE
per *touched account* (not per posting): a hot omnibus account costs one row update per batch
however many postings hit it. Nothing is written for a refused request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from keeper.ledger import bulk
from keeper.ledger import errors as err
from keeper.ledger.domain import Kind, TransferResult, TransferSpec, available
from keeper.ledger.types import (
    UINT256_MAX,
    amount_error,
    amount_to_sqlite,
    datetime_to_sqlite,
    is_amount,
)

__all__ = ["Hook", "Request", "apply_requests"]

Hook = Callable[[Connection], None]


@dataclass(slots=True)
class Request:
    """One caller's unit: transfers applied all-or-nothing, then ``hook`` runs in the txn."""

    transfers: Sequence[TransferSpec]
    hook: Hook | None = None
    results: list[TransferResult] | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class _Ref:
    kind: str
    debit: int
    credit: int
    asset: str
    amount: int
    expires_at: datetime | None


@dataclass(slots=True)
class _State:
    """Everything read under the lock plus what this batch has added so far."""

    now: datetime
    accounts: dict[int, list[Any]]  # id -> [asset, no_overdraft, dp, cp, dpend, cpend]
    existing: dict[str, tuple[str, int, datetime]]  # transfer_id -> (fingerprint, amount, at)
    refs: dict[str, _Ref]
    resolved: set[str]
    reversed: set[str]
    amt: Callable[[int], Any] = int
    ts: Callable[[datetime | None], Any] = lambda d: d  # noqa: E731
    now_db: Any = None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    dirty: set[int] = field(default_factory=set)


def _write(conn: Connection, st: _State, commit: bool) -> None:
    """The two hot statements: every new transfer row, then every touched account's totals
    (with the COMMIT when ``commit``, see :func:`keeper.ledger.bulk.write_batch`)."""
    amt, acc = st.amt, st.accounts
    bulk.write_batch(conn, st.rows, [
        (amt(v[2]), amt(v[3]), amt(v[4]), amt(v[5]), i)
        for i, v in ((i, acc[i]) for i in sorted(st.dirty))
    ], commit=commit)


def _load(conn: Connection, requests: Sequence[Request], now: datetime) -> _State:
    ids: set[str] = set()
    pend: set[str] = set()
    revs: set[str] = set()
    acc_ids: set[int] = set()
    for req in requests:
        for t in req.transfers:
            ids.add(t.transfer_id)
            if t.pending_id:
                pend.add(t.pending_id)
            if t.reverses_id:
                revs.add(t.reverses_id)
            acc_ids.add(t.debit_account)
            acc_ids.add(t.credit_account)
    r = bulk.read_batch(conn, ids, pend, revs, acc_ids)
    refs = {tid: _Ref(kind, d, cr, asset, amt, exp) for tid, kind, d, cr, asset, amt, exp in r.refs}
    existing = {tid: (fp, amt, at) for tid, fp, amt, at in r.existing}
    return _State(now, r.accounts, existing, refs, r.resolved, r.reversed)


class _Direct:
    """Overlay of a single-transfer request: writes straight into the batch state.

    ``_apply_one`` raises every refusal before it mutates anything, so a request of one transfer
    needs no copy-on-write to stay all-or-nothing (the common case: no per-request copies).
    """

    __slots__ = ("st", "acc", "created", "refs", "resolved", "reversed", "rows")

    def __init__(self, st: _State) -> None:
        self.st = st
        self.acc = st.accounts
        self.created = st.existing
        self.refs = st.refs
        self.resolved = st.resolved
        self.reversed = st.reversed
        self.rows = st.rows

    def account(self, acc_id: int) -> list[Any]:
        base = self.acc.get(acc_id)
        if base is None:
            raise err.UnknownAccount(f"account {acc_id} does not exist")
        self.st.dirty.add(acc_id)
        return base

    def existing(self, tid: str) -> tuple[str, int, datetime] | None:
        return self.created.get(tid)

    def ref(self, tid: str) -> _Ref | None:
        return self.refs.get(tid)

    def commit(self) -> None:
        """Nothing to do: every change went to the batch state directly."""


class _Group:
    """Copy-on-write overlay so a multi-transfer request is all-or-nothing."""

    def __init__(self, st: _State) -> None:
        self.st = st
        self.acc: dict[int, list[Any]] = {}
        self.created: dict[str, tuple[str, int, datetime]] = {}
        self.refs: dict[str, _Ref] = {}
        self.resolved: set[str] = set()
        self.reversed: set[str] = set()
        self.rows: list[tuple[Any, ...]] = []

    def account(self, acc_id: int) -> list[Any]:
        if acc_id not in self.acc:
            base = self.st.accounts.get(acc_id)
            if base is None:
                raise err.UnknownAccount(f"account {acc_id} does not exist")
            self.acc[acc_id] = list(base)
        return self.acc[acc_id]

    def existing(self, tid: str) -> tuple[str, int, datetime] | None:
        return self.created.get(tid) or self.st.existing.get(tid)

    def ref(self, tid: str) -> _Ref | None:
        return self.refs.get(tid) or self.st.refs.get(tid)

    def commit(self) -> None:
        st = self.st
        st.accounts.update(self.acc)
        st.dirty.update(self.acc)
        st.existing.update(self.created)
        st.refs.update(self.refs)
        st.resolved |= self.resolved
        st.reversed |= self.reversed
        st.rows.extend(self.rows)


def _apply_one(g: _Group | _Direct, t: TransferSpec) -> TransferResult:
    st = g.st
    if not is_amount(t.amount):
        raise amount_error(t.transfer_id, t.amount)
    if not t.transfer_id or len(t.transfer_id) > 160:
        raise err.InvalidTransfer("transfer_id must be 1..160 characters")
    fp = t.fingerprint()
    prior = g.existing(t.transfer_id)
    if prior is not None:
        if prior[0] != fp:
            raise err.IdempotencyConflict(
                f"transfer id {t.transfer_id!r} already used with different content"
            )
        return TransferResult(t.transfer_id, False, prior[1], prior[2])
    kind = t.kind
    debit, credit, amount = t.debit_account, t.credit_account, t.amount
    hold: _Ref | None = None
    if kind in (Kind.SINGLE, Kind.PENDING):
        if t.pending_id:
            raise err.InvalidTransfer(f"{t.transfer_id}: pending_id only for post/void")
        if amount == 0:
            raise err.InvalidTransfer(f"{t.transfer_id}: amount must be > 0")
        if debit == credit:
            raise err.InvalidTransfer(f"{t.transfer_id}: debit and credit account are the same")
        if t.reverses_id:
            if kind is not Kind.SINGLE:
                raise err.InvalidTransfer("a reversal must be a single-phase transfer")
            orig = g.ref(t.reverses_id)
            if orig is None or orig.kind not in (Kind.SINGLE, Kind.POST):
                raise err.InvalidTransfer(f"nothing posted to reverse under {t.reverses_id!r}")
            if t.reverses_id in st.reversed or t.reverses_id in g.reversed:
                raise err.AlreadyReversed(f"{t.reverses_id!r} was already reversed")
            if (orig.debit, orig.credit, orig.amount) != (credit, debit, amount):
                raise err.InvalidTransfer("a reversal must swap the accounts and match the amount")
    elif kind in (Kind.POST, Kind.VOID):
        if not t.pending_id:
            raise err.InvalidTransfer(f"{t.transfer_id}: post/void needs pending_id")
        hold = g.ref(t.pending_id)
        if hold is None or hold.kind != Kind.PENDING:
            raise err.HoldNotFound(f"no pending transfer {t.pending_id!r}")
        if t.pending_id in st.resolved or t.pending_id in g.resolved:
            raise err.HoldResolved(f"pending transfer {t.pending_id!r} is already resolved")
        if kind is Kind.POST and hold.expires_at is not None and st.now >= hold.expires_at:
            raise err.HoldExpired(f"pending transfer {t.pending_id!r} expired")
        if (debit or hold.debit) != hold.debit or (credit or hold.credit) != hold.credit:
            raise err.InvalidTransfer(f"{t.transfer_id}: accounts differ from the hold's")
        debit, credit = hold.debit, hold.credit
        amount = amount or hold.amount
        if amount > hold.amount or (kind is Kind.VOID and amount != hold.amount):
            raise err.InvalidTransfer(f"{t.transfer_id}: amount exceeds the held amount")
    else:
        raise err.InvalidTransfer(f"unknown transfer kind {kind!r}")
    da, ca = g.account(debit), g.account(credit)
    if da[0] != ca[0]:
        raise err.AssetMismatch(f"account {debit} holds {da[0]}, account {credit} holds {ca[0]}")
    if kind in (Kind.SINGLE, Kind.PENDING) and da[1]:
        have = available(da[3], da[2], da[4])
        if amount > have:
            raise err.InsufficientFunds(debit, have, amount)
    if kind is not Kind.VOID:  # the totals it adds to stay uint256 (checked before any change)
        i = 4 if kind is Kind.PENDING else 2
        if da[i] + amount > UINT256_MAX or ca[i + 1] + amount > UINT256_MAX:
            raise err.InvalidTransfer(
                f"{t.transfer_id}: account totals would be above 2**256-1; not representable")
    if kind is Kind.SINGLE:
        da[2] += amount
        ca[3] += amount
    elif kind is Kind.PENDING:
        da[4] += amount
        ca[5] += amount
    else:
        assert hold is not None
        da[4] -= hold.amount
        ca[5] -= hold.amount
        if kind is Kind.POST:
            da[2] += amount
            ca[3] += amount
        g.resolved.add(t.pending_id)  # type: ignore[arg-type]
    if t.reverses_id:
        g.reversed.add(t.reverses_id)
    g.refs[t.transfer_id] = _Ref(kind, debit, credit, da[0], amount, t.expires_at)
    g.created[t.transfer_id] = (fp, amount, st.now)
    g.rows.append(
        (
            t.transfer_id, kind.value, debit, credit, da[0], st.amt(amount), t.pending_id,
            t.reverses_id, st.ts(t.expires_at), t.reference, t.source, t.source_pos, fp,
            st.now_db,
        )
    )
    return TransferResult(t.transfer_id, True, amount, st.now)


def apply_requests(
    conn: Connection, requests: Sequence[Request], now: datetime | None = None, *,
    commit: bool = False,
) -> None:
    """Apply ``requests`` inside the caller's open transaction on ``conn``.

    Each request gets ``results`` or ``error`` set. Refused requests write nothing. Hooks of
    accepted requests run last, inside the same transaction; a hook exception propagates (the
    caller must roll back).

    ``commit=True`` (the group committer): when no accepted request has a hook, PostgreSQL
    commits the transaction together with the writes (one round trip; durable on return, the
    caller's commit then has nothing left to do). Otherwise, and on SQLite, the caller commits.
    """
    st = _load(conn, requests, now or datetime.now(UTC))
    if conn.dialect.name == "sqlite":  # bind exactly what the Amount/DateTime types would
        st.amt, st.ts = amount_to_sqlite, datetime_to_sqlite
    st.now_db = st.ts(st.now)
    direct = _Direct(st)  # stateless beyond ``st``: one for the whole batch
    for req in requests:
        g = direct if len(req.transfers) == 1 else _Group(st)
        try:
            req.results = [_apply_one(g, t) for t in req.transfers]
        except err.LedgerError as exc:
            req.error = exc
            req.results = None
            continue
        g.commit()
    hooks = [req.hook for req in requests if req.error is None and req.hook is not None]
    _write(conn, st, commit and not hooks)
    for hook in hooks:
        hook(conn)
