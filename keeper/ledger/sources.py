"""External sources feeding the ledger (the chain follower and later domains): cursors, leases,
alerts, holds and withdrawal holds, reached only through these :class:`~keeper.ledger.Ledger`
methods (the tables stay private to ``keeper.ledger``).

Exactly-once and single-writer rules, in one place:

* A cursor moves only by compare-and-set on (position, hash, generation), in the transaction of
  the postings it produces (:meth:`SourceBook.move_cursor`). A caller that read a stale cursor
  gets :class:`CursorMoved` and nothing is written.
* At most one process moves a cursor at a time: it must hold the cursor's lease
  (:meth:`SourceBook.acquire_lease`). The lease has a holder, an expiry and a fencing token that
  grows at every change of holder; ``move_cursor`` checks and renews it in the same transaction,
  so a holder that stalled past its expiry and was taken over cannot commit (:class:`LeaseLost`).
  Works the same on SQLite (``BEGIN IMMEDIATE``) and PostgreSQL (row lock of the UPDATE).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from keeper.ledger.db import WRITE
from keeper.ledger.domain import AccountKind, Balance, Kind, TransferResult, TransferSpec, utc
from keeper.ledger.engine import Request, apply_requests
from keeper.ledger.errors import LedgerError
from keeper.ledger.models import Account, Alert, Cursor, CursorBlock, Lease, Transfer

# The Vault's queue delay and grace (contracts/Vault.vy WITHDRAWAL_DELAY / WITHDRAWAL_GRACE) and
# how long the flows module may take to get its withdraw transaction mined.
WITHDRAWAL_DELAY = timedelta(days=1)
WITHDRAWAL_GRACE = timedelta(days=7)
WITHDRAWAL_SUBMIT_WINDOW = timedelta(days=1)
Alert3 = tuple[str, str, str]  # (kind, message, ref)


class CursorMoved(LedgerError):  # noqa: N818 - domain names read better
    """The cursor is not where the caller read it (another process moved it): nothing written."""


class LeaseLost(CursorMoved):
    """The caller does not hold the cursor's lease (expired or taken over): nothing written."""


@dataclass(frozen=True, slots=True)
class CursorState:
    """A source cursor: last applied position, its hash and generation (bumped by rewinds)."""

    name: str
    position: int
    position_hash: str
    generation: int
    position_time: int | None = None
    addresses: tuple[str, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A held lease: present it to :meth:`SourceBook.move_cursor`."""

    name: str
    holder: str
    token: int
    ttl: float


@dataclass(frozen=True, slots=True)
class HoldState:
    """A two-phase hold and whether it was already posted or voided."""

    transfer_id: str
    debit_account: int
    credit_account: int
    asset: str
    amount: int
    expires_at: datetime | None
    resolved: bool


def vault_location(address: str) -> str:
    """The omnibus location of the vault at ``address`` (``vault:0x..``): where its withdrawal
    holds run and where the chain follower books what the vault holds."""
    return f"vault:{address.lower()}"


def withdrawal_hold_id(op_id: str) -> str:
    """Id of the hold of Vault operation ``op_id`` (0x-prefixed lower-case bytes32)."""
    return f"withdrawal:{op_id.lower()}"


class SourceBook:
    """Mixin of :class:`~keeper.ledger.Ledger`: cursors, leases, alerts and holds of sources."""

    engine: Engine
    submit: Callable[..., object]
    post: Callable[[TransferSpec], TransferResult]
    post_all: Callable[..., list[TransferResult]]
    client_account: Callable[[str, str], int]
    omnibus_account: Callable[[str, str], int]

    # ----------------------------------------------------------------- cursors
    def cursor(self, name: str) -> CursorState | None:
        """The cursor ``name``, or None before its first commit (read-only)."""
        c = Cursor.__table__.c
        with self.engine.connect() as conn:
            row = conn.execute(select(c.position, c.position_hash, c.generation, c.position_time,
                                      c.addresses, c.updated_at).where(c.name == name)).one_or_none()
        if row is None:
            return None
        addrs = tuple(a for a in (row.addresses or "").split(",") if a)
        return CursorState(name, row.position, row.position_hash, row.generation,
                           row.position_time, addrs, utc(row.updated_at))

    def cursors(self) -> list[CursorState]:
        """Every cursor (read-only), by name."""
        with self.engine.connect() as conn:
            names = conn.scalars(select(Cursor.name).order_by(Cursor.name)).all()
        return [s for s in (self.cursor(n) for n in names) if s is not None]

    def cursor_blocks(self, name: str) -> list[tuple[int, str]]:
        """(number, hash) of the blocks recorded under cursor ``name``, newest first."""
        cb = CursorBlock.__table__.c
        with self.engine.connect() as conn:
            return [(n, h) for n, h in conn.execute(
                select(cb.number, cb.hash).where(cb.cursor == name).order_by(cb.number.desc()))]

    def move_cursor(self, transfers: Sequence[TransferSpec], *, expected: CursorState | None,
                    to: CursorState, blocks: dict[int, str] | None = None,
                    drop_blocks_above: int | None = None, alerts: Sequence[Alert3] = (),
                    lease: LeaseGrant | None = None,
                    also: Callable[[Connection], None] | None = None) -> list[TransferResult]:
        """Post ``transfers`` and move the cursor from ``expected`` to ``to`` atomically.

        The cursor moves only if it still equals ``expected`` (None: it must not exist yet) and,
        when ``lease`` is given, only if the lease is still held (it is renewed). Otherwise
        :class:`CursorMoved` / :class:`LeaseLost` is raised and nothing is written. ``blocks``
        are recorded; ``drop_blocks_above`` forgets recorded blocks above a rewind point.
        ``also(conn)`` runs last in the same transaction (e.g. the postings' audit records), so
        it commits with the postings and the cursor move or not at all.
        """
        now = datetime.now(UTC)

        def hook(conn: Connection) -> None:
            if lease is not None:
                _renew(conn, lease, now)
            _cas(conn, expected, to, now)
            cbt = CursorBlock.__table__
            if drop_blocks_above is not None:
                conn.execute(delete(cbt).where(cbt.c.cursor == to.name,
                                               cbt.c.number > drop_blocks_above))
            if blocks:
                known = set(conn.scalars(select(cbt.c.number).where(
                    cbt.c.cursor == to.name, cbt.c.number.in_(sorted(blocks)))))
                rows = [{"cursor": to.name, "number": n, "hash": h}
                        for n, h in blocks.items() if n not in known]
                if rows:
                    conn.execute(insert(cbt), rows)
            _insert_alerts(conn, alerts, now)
            if also is not None:
                also(conn)

        return self.post_all(transfers, hook=hook)

    # ----------------------------------------------------------------- leases
    def acquire_lease(self, name: str, holder: str, ttl: float,
                      now: datetime | None = None) -> LeaseGrant | None:
        """Take or renew the lease of cursor ``name`` for ``holder`` for ``ttl`` seconds.

        Returns the grant, or None while another holder's lease is unexpired. Taking over an
        expired lease (its holder died or stalled) bumps the fencing token.
        """
        now = now or datetime.now(UTC)
        exp = now + timedelta(seconds=ttl)
        ls = Lease.__table__
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                row = conn.execute(select(ls.c.holder, ls.c.token, ls.c.expires_at)
                                   .where(ls.c.name == name).with_for_update()).one_or_none()
                if row is None:
                    conn.execute(insert(ls).values(name=name, holder=holder, token=1,
                                                   expires_at=exp))
                    return LeaseGrant(name, holder, 1, ttl)
                if row.holder != holder and utc(row.expires_at) > now:  # type: ignore[operator]
                    return None
                token = row.token if row.holder == holder else row.token + 1
                conn.execute(update(ls).where(ls.c.name == name).values(
                    holder=holder, token=token, expires_at=exp))
                return LeaseGrant(name, holder, token, ttl)
        except IntegrityError:  # another process inserted the first lease concurrently
            return None

    def release_lease(self, grant: LeaseGrant) -> None:
        """Give the lease up (expire it now) if still held by ``grant``; others may take it."""
        ls = Lease.__table__
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(ls).where(ls.c.name == grant.name, ls.c.holder == grant.holder,
                                          ls.c.token == grant.token)
                         .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC)))

    # ----------------------------------------------------------------- alerts
    def raise_alert(self, kind: str, message: str, ref: str | None = None) -> bool:
        """Record an alert; with a ``ref`` at most once (returns False if already recorded)."""
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                return _insert_alerts(conn, [(kind, message, ref)], datetime.now(UTC)) > 0
        except IntegrityError:
            return False

    # ----------------------------------------------------------------- holds
    def hold(self, hold_id: str) -> HoldState | None:
        """The pending transfer ``hold_id`` and whether it is resolved, or None (read-only)."""
        t = Transfer.__table__.c
        with self.engine.connect() as conn:
            row = conn.execute(select(t.debit_account_id, t.credit_account_id, t.asset, t.amount,
                                      t.expires_at).where(t.transfer_id == hold_id,
                                                          t.kind == Kind.PENDING)).one_or_none()
            if row is None:
                return None
            resolved = conn.scalar(select(t.id).where(t.pending_id == hold_id)) is not None
        return HoldState(hold_id, row[0], row[1], row[2], row[3], utc(row[4]), resolved)

    def open_withdrawal_hold_id(self, op_id: str) -> str | None:
        """The unresolved hold of Vault operation ``op_id`` (its first hold, or the re-hold a
        reorg opened after orphaning its settlement), or None (read-only)."""
        base = withdrawal_hold_id(op_id)
        t = Transfer.__table__.c
        resolved = select(t.pending_id).where(t.pending_id.is_not(None))
        with self.engine.connect() as conn:
            return conn.scalar(select(t.transfer_id).where(
                t.kind == Kind.PENDING, or_(t.transfer_id == base, t.transfer_id.like(base + ":r%")),
                t.transfer_id.not_in(resolved)).order_by(t.id.desc()).limit(1))

    def open_withdrawal_hold(self, op_id: str, client_id: str, asset: str, amount: int,
                             vault: str, now: datetime | None = None) -> TransferResult:
        """Hold ``amount`` of the client's ``asset`` for Vault withdrawal ``op_id`` (idempotent).

        The hold (id ``withdrawal:{op_id}``) runs from the client to the vault's omnibus and
        expires only after the on-chain operation can no longer execute: submission window +
        the Vault's 24 h queue delay + its 7-day grace. The chain follower posts it on the
        ``Withdrawal`` event (by ``op_id``) and voids it on ``WithdrawalCancelled`` /
        ``WithdrawalExpired``.
        """
        now = now or datetime.now(UTC)
        expires = now + WITHDRAWAL_SUBMIT_WINDOW + WITHDRAWAL_DELAY + WITHDRAWAL_GRACE
        return self.post(TransferSpec(
            withdrawal_hold_id(op_id), self.client_account(client_id, asset),
            self.omnibus_account(asset, vault_location(vault)), amount, Kind.PENDING,
            expires_at=expires, reference=f"withdrawal {op_id}"))

    # ----------------------------------------------------------------- source postings
    def source_postings(self, source: str, above: int) -> list[tuple]:
        """Unreversed posted transfers of ``source`` at positions above ``above``, newest first:
        (transfer_id, debit, credit, amount, asset, pending_id)."""
        t = Transfer.__table__.c
        reversed_ids = select(t.reverses_id).where(t.reverses_id.is_not(None))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(t.transfer_id, t.debit_account_id, t.credit_account_id, t.amount, t.asset,
                       t.pending_id)
                .where(t.source == source, t.source_pos > above,
                       t.kind.in_([Kind.SINGLE, Kind.POST]), t.transfer_id.not_in(reversed_ids))
                .order_by(t.id.desc()))]

    def count_source_postings(self, source: str, kind: Kind = Kind.SINGLE) -> int:
        """How many ``kind`` transfers ``source`` posted, reversals excluded (read-only)."""
        t = Transfer.__table__.c
        with self.engine.connect() as conn:
            return len(conn.execute(select(t.id).where(
                t.source == source, t.kind == kind, t.reverses_id.is_(None))).all())

    def client_balances_of(self, account_ids: Sequence[int]) -> dict[int, Balance]:
        """Stored totals of those of ``account_ids`` that are client accounts (read-only)."""
        a = Account.__table__.c
        with self.engine.connect() as conn:
            return {i: Balance(i, *rest) for i, *rest in conn.execute(
                select(a.id, a.debits_posted, a.credits_posted, a.debits_pending,
                       a.credits_pending).where(a.id.in_(sorted(set(account_ids))),
                                                a.kind == str(AccountKind.CLIENT)))}

    def refusals(self, groups: Sequence[Sequence[TransferSpec]]) -> list[LedgerError | None]:
        """Dry run: the error each all-or-nothing group would get if posted in order (None when
        accepted). Nothing is written (the transaction is rolled back)."""
        reqs = [Request(list(g)) for g in groups]
        with self.engine.connect().execution_options(**WRITE) as conn:
            txn = conn.begin()
            try:
                apply_requests(conn, reqs)
            finally:
                txn.rollback()
        return [r.error if isinstance(r.error, LedgerError) else None for r in reqs]


def _renew(conn: Connection, lease: LeaseGrant, now: datetime) -> None:
    ls = Lease.__table__.c
    held = conn.execute(update(Lease.__table__).where(
        ls.name == lease.name, ls.holder == lease.holder, ls.token == lease.token,
        ls.expires_at > now).values(expires_at=now + timedelta(seconds=lease.ttl))).rowcount
    if held != 1:
        raise LeaseLost(f"{lease.holder} no longer holds the lease of {lease.name}")


def _cas(conn: Connection, expected: CursorState | None, to: CursorState, now: datetime) -> None:
    c = Cursor.__table__.c
    vals = {"position": to.position, "position_hash": to.position_hash,
            "generation": to.generation, "position_time": to.position_time,
            "addresses": ",".join(to.addresses), "updated_at": now}
    if expected is None:
        if conn.scalar(select(c.name).where(c.name == to.name)) is not None:
            raise CursorMoved(f"cursor {to.name} already exists")
        conn.execute(insert(Cursor.__table__).values(name=to.name, **vals))
        return
    moved = conn.execute(update(Cursor.__table__).where(
        c.name == to.name, c.position == expected.position,
        c.position_hash == expected.position_hash, c.generation == expected.generation)
        .values(**vals)).rowcount
    if moved != 1:
        raise CursorMoved(f"cursor {to.name} is no longer at {expected.position}")


def _insert_alerts(conn: Connection, alerts: Sequence[Alert3], now: datetime) -> int:
    """Insert alerts, skipping refs already recorded; returns how many were inserted."""
    refs = [r for _, _, r in alerts if r]
    a = Alert.__table__.c
    seen = set(conn.scalars(select(a.ref).where(a.ref.in_(refs)))) if refs else set()
    rows, batch = [], set()
    for kind, message, ref in alerts:
        if ref and (ref in seen or ref in batch):
            continue
        batch.add(ref)
        rows.append({"kind": kind, "message": message, "ref": ref, "created_at": now})
    if rows:
        conn.execute(insert(Alert.__table__), rows)
    return len(rows)
