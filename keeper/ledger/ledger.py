"""The ``Ledger`` facade: accounts, postings (direct or group-committed), holds, corrections."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from keeper.assets import ASSETS, by_symbol
from keeper.ledger import errors as err
from keeper.ledger.batcher import GroupCommitter, Ticket, commit_requests
from keeper.ledger.db import WRITE, make_engine, read_through_driver
from keeper.ledger.domain import (
    GL_CODES,
    AccountKind,
    Balance,
    Kind,
    TransferResult,
    TransferSpec,
    utc,
)
from keeper.ledger.engine import Request
from keeper.ledger.models import Account, Alert, ClientRef, Transfer
from keeper.ledger.sources import SourceBook
from keeper.ledger.statements import Statement, monthly_statement
from keeper.ledger.types import amount_from_db

AlertSink = Callable[[str, str], None]
_ACC = Account.__table__.c
#: every account of one client (the ``owner`` parameter), by asset: built once (building and
#: keying a statement costs about as much as this read on SQLite)
_CLIENT_BALANCES = (select(_ACC.asset, _ACC.id, _ACC.debits_posted, _ACC.credits_posted,
                           _ACC.debits_pending, _ACC.credits_pending)
                    .where(_ACC.kind == str(AccountKind.CLIENT), _ACC.owner == bindparam("owner"))
                    .order_by(_ACC.asset))


class Ledger(SourceBook):
    """Double-entry sub-ledger on SQLAlchemy.

    Sources feeding it (the chain follower, later domains) reach cursors, leases, alerts and
    holds through the :class:`~keeper.ledger.sources.SourceBook` methods, never the tables.

    ``group_commit=True`` starts a writer thread; every posting then goes through it and shares
    commits with concurrent callers. With ``group_commit=False`` each call commits on its own.
    The schema must exist (see :func:`keeper.ledger.migrate.upgrade`).

    ``busy_timeout``: seconds a write waits for a lock held elsewhere before failing with
    ``LedgerUnavailable``; ``result_timeout``: seconds a group-committed posting is waited for
    before ``LedgerTimeout``. ``None`` takes the committer's defaults (the embedded defaults of
    :class:`keeper.config.Settings`); code building a ledger from settings passes
    ``settings.ledger_writer_busy_s`` and ``settings.ledger_result_timeout_s``.
    """

    def __init__(
        self,
        url_or_engine: str | Engine,
        *,
        group_commit: bool = True,
        max_batch: int = 4096,
        on_alert: AlertSink | None = None,
        busy_timeout: float | None = None,
        result_timeout: float | None = None,
    ) -> None:
        self.engine = (
            make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._committer = GroupCommitter(
            self.engine, max_batch, busy_timeout=busy_timeout, result_timeout=result_timeout,
        ) if group_commit else None
        # direct commits (no committer) wait for a lock as long as the committer's would
        self._direct_options: dict[str, object] | None = (
            None if busy_timeout is None else {**WRITE, "ledger_busy_ms": round(busy_timeout * 1000)})
        self._accounts: dict[tuple[str, str, str], int] = {}
        self.on_alert = on_alert
        self._direct_cond = threading.Condition()

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Flush and stop the group committer, dispose of the engine's pool."""
        if self._committer is not None:
            self._committer.close()
            self._committer = None
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- accounts
    def _find(self, kind: AccountKind, asset: str, owner: str) -> tuple[tuple[str, str, str], int | None]:
        """(cache key, id or None) of the (kind, asset, owner) account; never writes."""
        asset = normalise_asset(asset)
        key = (str(kind), asset, owner)
        if key in self._accounts:
            return key, self._accounts[key]
        c = Account.__table__.c
        q = select(c.id).where(c.kind == key[0], c.asset == asset, c.owner == owner)
        with self.engine.connect() as conn:
            acc_id = conn.scalar(q)
        if acc_id is not None:
            self._accounts[key] = int(acc_id)
        return key, acc_id

    def open_account(self, kind: AccountKind, asset: str, owner: str = "") -> int:
        """Return the id of the (kind, asset, owner) account, creating it if needed.

        ``asset`` is a custodied asset symbol (any case; stored upper-case, e.g. ``USDC``);
        an unknown symbol raises :class:`~keeper.ledger.errors.UnknownAsset`.
        """
        key, acc_id = self._find(kind, asset, owner)
        if acc_id is not None:
            return acc_id
        asset = key[1]
        c = Account.__table__.c
        q = select(c.id).where(c.kind == key[0], c.asset == asset, c.owner == owner)
        if acc_id is None:
            row = {
                "kind": key[0], "asset": asset, "owner": owner,
                "gl_code": GL_CODES[AccountKind(kind)].format(asset=asset.upper()),
                "no_overdraft": AccountKind(kind) is AccountKind.CLIENT,
                "debits_posted": 0, "credits_posted": 0, "debits_pending": 0,
                "credits_pending": 0, "created_at": datetime.now(UTC),
            }
            try:
                with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                    conn.execute(insert(Account.__table__).values(row))
            except IntegrityError:
                pass  # created concurrently
            with self.engine.connect() as conn:
                acc_id = conn.scalar(q)
        self._accounts[key] = int(acc_id)
        return int(acc_id)

    def client_account(self, client_id: str, asset: str) -> int:
        """Client holding account (GL 1100), never negative; created on first use."""
        return self.open_account(AccountKind.CLIENT, asset, client_id)

    def find_client_account(self, client_id: str, asset: str) -> int | None:
        """Id of the client's ``asset`` account, or None if it has none (read-only)."""
        return self._find(AccountKind.CLIENT, asset, client_id)[1]

    def client_balances(self, client_id: str) -> dict[str, Balance]:
        """Stored totals of every account ``client_id`` holds, by asset symbol (read-only)."""
        params = {"owner": client_id}
        if self.engine.dialect.name == "sqlite":  # raw totals: see read_through_driver
            return {asset: Balance(account_id, *map(amount_from_db, totals))
                    for asset, account_id, *totals in
                    read_through_driver(self.engine, _CLIENT_BALANCES, params)}
        with self.engine.connect() as conn:
            rows = conn.execute(_CLIENT_BALANCES, params).all()
        return {asset: Balance(*rest) for asset, *rest in rows}

    def omnibus_account(self, asset: str, location: str) -> int:
        """Omnibus account of ``asset`` at ``location`` (GL 2100), e.g. ``vault:0x...``."""
        return self.open_account(AccountKind.OMNIBUS, asset, location)

    def fee_account(self, asset: str) -> int:
        """Fee revenue account (GL 4500)."""
        return self.open_account(AccountKind.FEE, asset)

    def suspense_account(self, asset: str) -> int:
        """Suspense account for unattributed funds (GL 2900)."""
        return self.open_account(AccountKind.SUSPENSE, asset)

    def balance(self, account_id: int) -> Balance:
        """Stored totals of ``account_id``."""
        c = Account.__table__.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.debits_posted, c.credits_posted, c.debits_pending, c.credits_pending)
                .where(c.id == account_id)
            ).one_or_none()
        if row is None:
            raise err.UnknownAccount(f"account {account_id} does not exist")
        return Balance(account_id, *row)

    # ----------------------------------------------------------------- postings
    def submit(
        self,
        transfers: TransferSpec | Sequence[TransferSpec],
        hook: Callable[[Connection], None] | None = None,
    ) -> Ticket:
        """Queue an all-or-nothing request for group commit; returns a ticket of its results."""
        items = [transfers] if isinstance(transfers, TransferSpec) else list(transfers)
        if self._committer is not None:
            return self._committer.submit(items, hook)
        req = Request(items, hook)
        commit_requests(self.engine, [req], self._direct_options)
        ticket = Ticket(self._direct_cond)
        ticket._finish(req.results, req.error)  # noqa: SLF001
        return ticket

    def post(self, transfer: TransferSpec) -> TransferResult:
        """Post one transfer, wait for its durable commit; raises a ``LedgerError`` if refused."""
        return self.submit(transfer).result()[0]

    def post_all(
        self,
        transfers: Sequence[TransferSpec],
        hook: Callable[[Connection], None] | None = None,
    ) -> list[TransferResult]:
        """Post linked transfers atomically (all or none); ``hook`` runs in the same transaction."""
        return self.submit(transfers, hook).result()

    def reverse(
        self, transfer_id: str, correction_id: str, reference: str | None = None
    ) -> TransferResult:
        """Post the reversing correction of a posted transfer (swapped accounts, same amount)."""
        t = Transfer.__table__.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.debit_account_id, t.credit_account_id, t.amount, t.kind).where(
                    t.transfer_id == transfer_id
                )
            ).one_or_none()
        if row is None or row.kind not in (Kind.SINGLE, Kind.POST):
            raise err.InvalidTransfer(f"nothing posted to reverse under {transfer_id!r}")
        return self.post(
            TransferSpec(
                correction_id, row.credit_account_id, row.debit_account_id, row.amount,
                reverses_id=transfer_id, reference=reference or f"reversal of {transfer_id}",
            )
        )

    def expire_holds(self, now: datetime | None = None) -> int:
        """Void every unresolved hold whose expiry has passed; returns how many were voided."""
        now = now or datetime.now(UTC)
        t = Transfer.__table__
        resolved = select(t.c.pending_id).where(t.c.pending_id.is_not(None))
        q = select(t.c.transfer_id, t.c.expires_at).where(
            t.c.kind == Kind.PENDING, t.c.expires_at.is_not(None),
            t.c.transfer_id.not_in(resolved),
        )
        with self.engine.connect() as conn:
            due = [tid for tid, exp in conn.execute(q) if utc(exp) <= now]  # type: ignore[operator]
        futs = [
            self.submit(TransferSpec(f"expire:{tid}", 0, 0, 0, Kind.VOID, pending_id=tid))
            for tid in due
        ]
        done = 0
        for f in futs:
            try:
                done += bool(f.result()[0].created)
            except err.HoldResolved:
                pass  # posted or voided meanwhile
        return done

    # ----------------------------------------------------------------- registry & alerts
    def register_client_ref(self, client_ref: str | bytes, client_id: str) -> None:
        """Map an on-chain bytes32 ``client_ref`` to ``client_id`` (idempotent)."""
        ref = normalise_ref(client_ref)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            cur = conn.scalar(select(ClientRef.client_id).where(ClientRef.client_ref == ref))
            if cur is None:
                conn.execute(
                    insert(ClientRef.__table__).values(
                        client_ref=ref, client_id=client_id, created_at=datetime.now(UTC)
                    )
                )
            elif cur != client_id:
                raise err.LedgerError(f"client_ref {ref} already maps to another client")

    def client_id_for_ref(self, client_ref: str | bytes) -> str | None:
        """The client a bytes32 ``client_ref`` maps to, or None (read-only)."""
        ref = normalise_ref(client_ref)
        with self.engine.connect() as conn:
            return conn.scalar(select(ClientRef.client_id).where(ClientRef.client_ref == ref))

    def client_refs(self) -> dict[str, str]:
        """The whole registry, ref -> client id."""
        with self.engine.connect() as conn:
            return dict(conn.execute(select(ClientRef.client_ref, ClientRef.client_id)).all())

    def alerts(self) -> list[tuple[str, str, str | None]]:
        """All alerts as (kind, message, ref), oldest first."""
        a = Alert.__table__.c
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(a.kind, a.message, a.ref).order_by(a.id))]

    def alerts_after(self, after_id: int, limit: int = 1000) -> list[tuple[int, str, str, str | None]]:
        """Alerts with an id above ``after_id`` as (id, kind, message, ref), oldest first, at most
        ``limit``: how a consumer (the alert dispatcher) reads the outbox incrementally instead of
        rescanning every alert ever raised."""
        a = Alert.__table__.c
        q = select(a.id, a.kind, a.message, a.ref).where(a.id > after_id).order_by(a.id).limit(limit)
        with self.engine.connect() as conn:
            return [(int(i), k, m, r) for i, k, m, r in conn.execute(q)]

    # ----------------------------------------------------------------- reports
    def verify_invariants(self) -> list[str]:
        """Check the ledger from the database; returns violations (empty when sound)."""
        from keeper.ledger.invariants import verify_invariants

        return verify_invariants(self.engine)

    def statement(self, client_id: str, asset: str, year: int, month: int) -> Statement:
        """Monthly statement of a client's holding (see :mod:`keeper.ledger.statements`).

        Read-only: a client without an ``asset`` account gets an empty statement (account id 0,
        zero balances) and no account is created.
        """
        acc = self.find_client_account(client_id, asset)
        if acc is None:
            return Statement(0, year, month, 0, [], 0)
        return monthly_statement(self.engine, acc, year, month)


def normalise_asset(asset: str) -> str:
    """The canonical (upper-case) symbol of a custodied asset; raises ``UnknownAsset``."""
    try:
        return by_symbol(str(asset)).symbol
    except KeyError:
        raise err.UnknownAsset(
            f"unknown asset {asset!r}; the ledger holds {sorted(ASSETS)}") from None


def normalise_ref(client_ref: str | bytes) -> str:
    """0x-prefixed lower-case 64-hex-digit form of a bytes32 reference."""
    raw = bytes(client_ref) if isinstance(client_ref, bytes | bytearray) else None
    if raw is None:
        text = str(client_ref).lower().removeprefix("0x")
        raw = bytes.fromhex(text)
    if len(raw) != 32:
        raise ValueError("client_ref must be 32 bytes")
    return "0x" + raw.hex()
