"""Durable wallet state: address counters and pending spends in the ``btc_*`` tables.

The database is the truth shared by every coordinator process: a proposal reserves its change
index with ``UPDATE ... RETURNING`` (a row lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
reads the locked inputs, builds the PSBT and records the spend with its locks, all in one
transaction; any failure rolls all of it back. Counters only grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from bitcointx.core import b2lx
from bitcointx.core.psbt import PartiallySignedTransaction
from sqlalchemy import Connection, Engine, delete, insert, select, update

from keeper.btc.chain import UtxoSource
from keeper.btc.descriptor import MultisigDescriptor
from keeper.btc.models import BtcLockedOutpoint, BtcPendingSpend, BtcWallet
from keeper.btc.network import get_network
from keeper.btc.psbt import load_psbt
from keeper.btc.wallet import MultisigWallet
from keeper.ledger.db import WRITE, make_engine
from keeper.ledger.domain import utc

_COUNTER = {0: BtcWallet.next_receive, 1: BtcWallet.next_change}


def outpoints_of(psbt: PartiallySignedTransaction) -> tuple[tuple[str, int], ...]:
    """``(txid, vout)`` of every input of ``psbt``."""
    return tuple((b2lx(i.prevout.hash), i.prevout.n) for i in psbt.unsigned_tx.vin)


class BtcStore:
    """Wallet rows, spends and input locks on one engine (URL or Engine; schema migrated)."""

    def __init__(self, engine: str | Engine) -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self._owns_engine = isinstance(engine, str)
        self._tx: Connection | None = None

    def close(self) -> None:
        """Release the engine's connections (if this store created it)."""
        if self._owns_engine:
            self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction; nested calls (e.g. ``on_advance`` during a proposal) join it."""
        if self._tx is not None:
            yield self._tx
            return
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            self._tx = conn
            try:
                yield conn
            finally:
                self._tx = None

    # -- wallets ---------------------------------------------------------------------------

    def create_wallet(self, name: str, descriptor: MultisigDescriptor, gap_limit: int = 100
                      ) -> None:
        """Register ``name`` with its public descriptor (refuses a name already taken)."""
        if not isinstance(gap_limit, int) or not 1 <= gap_limit <= 10_000:
            raise ValueError("gap_limit is an integer from 1 to 10000")
        text = descriptor.to_string(0)
        with self.transaction() as conn:
            if conn.execute(select(BtcWallet.id).where(BtcWallet.name == name)).first():
                raise ValueError(f"btc wallet {name!r} already exists")
            conn.execute(insert(BtcWallet).values(
                name=name, network=descriptor.network.name, descriptor=text,
                gap_limit=gap_limit, next_receive=0, next_change=0))

    def open_wallet(self, name: str, source: UtxoSource, **options: object) -> MultisigWallet:
        """Rebuild wallet ``name`` from its row; its counter moves are persisted here."""
        with self.engine.connect() as conn:
            row = conn.execute(select(BtcWallet).where(BtcWallet.name == name)).one()
        desc, _ = MultisigDescriptor.parse(row.descriptor, get_network(row.network))
        return MultisigWallet(
            desc, source, lookahead=row.gap_limit, next_change=row.next_change,
            next_receive=row.next_receive, name=name, on_advance=self._advancer(name),
            **options,  # type: ignore[arg-type]
        )

    def advance(self, name: str, branch: int, next_index: int) -> None:
        """Persist that indices below ``next_index`` of ``branch`` are used (never moves back).

        Receive addresses handed out elsewhere (the keys domain's deposit-address registry)
        are reported here so the wallet's window covers them after any restart.
        """
        if branch not in _COUNTER or not isinstance(next_index, int) or next_index < 0:
            raise ValueError("branch is 0 or 1 and next_index a non-negative integer")
        col = _COUNTER[branch]
        with self.transaction() as conn:
            conn.execute(update(BtcWallet).where(BtcWallet.name == name, col < next_index)
                         .values({col: next_index}))

    def _advancer(self, name: str) -> Callable[[int, int], None]:
        return lambda branch, next_index: self.advance(name, branch, next_index)

    def issue_receive(self, wallet: MultisigWallet) -> tuple[int, str]:
        """Reserve the next receive index in the database and hand out its address."""
        with self.transaction() as conn:
            index = self._reserve(conn, wallet, 0)
            wallet.advance(0, index + 1)
        return index, wallet.descriptor.address(index, 0)

    def _reserve(self, conn: Connection, wallet: MultisigWallet, branch: int) -> int:
        col = _COUNTER[branch]
        taken = conn.execute(update(BtcWallet).where(BtcWallet.name == wallet.name)
                             .values({col: col + 1}).returning(col)).scalar_one()
        return taken - 1

    def reserve_change(self, conn: Connection, wallet: MultisigWallet) -> int:
        """Next change index, taken in the database inside ``conn``'s transaction."""
        return self._reserve(conn, wallet, 1)

    def release_change(self, conn: Connection, wallet: MultisigWallet, index: int) -> None:
        """Give back an index reserved in this same transaction (the spend had no change)."""
        conn.execute(update(BtcWallet).where(BtcWallet.name == wallet.name,
                                             BtcWallet.next_change == index + 1)
                     .values(next_change=index))

    # -- spends ----------------------------------------------------------------------------

    def locked(self, conn: Connection | None = None) -> set[tuple[str, int]]:
        """Every locked outpoint (all wallets: outpoints are globally unique)."""
        if conn is None:
            with self.engine.connect() as c:
                return self.locked(c)
        return {(r.txid, r.vout) for r in conn.execute(select(BtcLockedOutpoint))}

    def record_spend(self, conn: Connection, wallet: MultisigWallet, spend_id: str,
                     psbt: PartiallySignedTransaction, created_at: datetime,
                     expires_at: datetime) -> None:
        """Insert a pending spend and lock its inputs (inside the proposal's transaction)."""
        wallet_id = conn.execute(select(BtcWallet.id).where(BtcWallet.name == wallet.name)
                                 ).scalar_one()
        conn.execute(insert(BtcPendingSpend).values(
            id=spend_id, wallet_id=wallet_id, psbt=psbt.to_base64(), status="pending",
            created_at=created_at, expires_at=expires_at, txid=None))
        conn.execute(insert(BtcLockedOutpoint), [
            {"txid": t, "vout": n, "spend_id": spend_id} for t, n in outpoints_of(psbt)])

    def save_psbt(self, spend_id: str, psbt: PartiallySignedTransaction) -> None:
        """Store a pending spend's PSBT after signatures were merged."""
        with self.transaction() as conn:
            conn.execute(update(BtcPendingSpend).where(
                BtcPendingSpend.id == spend_id, BtcPendingSpend.status == "pending")
                .values(psbt=psbt.to_base64()))

    def mark_broadcasting(self, spend_id: str, txid: str,
                          psbt: PartiallySignedTransaction) -> None:
        """Record the txid (and the signed PSBT) before the transaction leaves."""
        with self.transaction() as conn:
            conn.execute(update(BtcPendingSpend).where(
                BtcPendingSpend.id == spend_id, BtcPendingSpend.status == "pending")
                .values(status="broadcasting", txid=txid, psbt=psbt.to_base64()))

    def mark_released(self, spend_id: str) -> None:
        """The node accepted the transaction; its inputs stay locked (they are spent)."""
        with self.transaction() as conn:
            conn.execute(update(BtcPendingSpend).where(BtcPendingSpend.id == spend_id)
                         .values(status="released"))

    def mark_expired(self, spend_ids: list[str]) -> None:
        """Expired spends: status set and their inputs unlocked, in one transaction."""
        if not spend_ids:
            return
        with self.transaction() as conn:
            conn.execute(update(BtcPendingSpend).where(BtcPendingSpend.id.in_(spend_ids))
                         .values(status="expired"))
            conn.execute(delete(BtcLockedOutpoint).where(
                BtcLockedOutpoint.spend_id.in_(spend_ids)))

    def load_spends(self, wallet: MultisigWallet) -> list[dict]:
        """Every spend of ``wallet`` (oldest first) as constructor arguments of a spend."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(BtcPendingSpend).join(BtcWallet, BtcWallet.id == BtcPendingSpend.wallet_id)
                .where(BtcWallet.name == wallet.name).order_by(BtcPendingSpend.created_at)).all()
        out = []
        for r in rows:
            psbt = load_psbt(r.psbt, wallet.network)
            out.append({"id": r.id, "psbt": psbt, "created_at": utc(r.created_at),
                        "expires_at": utc(r.expires_at), "status": r.status, "txid": r.txid,
                        "outpoints": outpoints_of(psbt)})
        return out
