"""Mirror of the staking pool's events into the sub-ledger and the ``staking_*`` tables.

Exactly once, by the ledger's source-cursor rules: a batch of confirmed blocks is read, every
event is applied to the model loaded from the tables, and the postings, alerts, table rows
and the cursor move commit in ONE transaction (:meth:`keeper.ledger.Ledger.move_cursor`,
compare-and-set on the cursor). A crash before the commit leaves nothing; the restart reads
the same blocks again from the same state. An event already recorded in ``staking_events``
(tx hash, log index) is never applied twice, and every transfer id derives from that key.
A group the ledger would refuse is replaced by its :func:`~keeper.staking.book.fallback`
(alerted), so an outsider's event can never halt the mirror.

Reorgs: the mirror reads only blocks with ``confirmations`` on top (default 1 on the fork).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from keeper.ledger import CursorState, Ledger
from keeper.staking.book import (
    UNATTRIBUTED,
    Accounts,
    Book,
    Model,
    OpRef,
    Outcome,
    Position,
    Request,
    fallback,
)
from keeper.staking.models import (
    StakingAllocationRow,
    StakingEventRow,
    StakingOpRow,
    StakingPoolRow,
    StakingPositionRow,
    StakingRequestRow,
)
from keeper.staking.pool import decode_log

HashesFn = Callable[[str], Iterable[str]]  # op id -> every tx hash sent for it


@dataclass(frozen=True)
class SyncResult:
    """What one :meth:`Mirror.sync` applied."""

    from_block: int
    to_block: int
    events: int
    alerts: int


class Mirror:
    """Applies ``pool``'s events (operator: our depositing key) to ``ledger``.

    ``hashes(op_id)`` gives the transaction hashes sent for an operation (from the
    :class:`keeper.chain.TxSender`), so a mined transaction is matched to its operation
    even after fee-bumped replacements. ``fault`` (tests: a crash) runs inside the commit."""

    def __init__(self, ledger: Ledger, w3: Any, pool: str, operator: str, *, start_block: int = 0,
                 confirmations: int = 1, max_blocks: int = 2000,
                 hashes: HashesFn | None = None,
                 fault: Callable[[Connection], None] | None = None) -> None:
        self.ledger, self.w3 = ledger, w3
        self.pool, self.operator = pool.lower(), operator.lower()
        self.start_block, self.confirmations, self.max_blocks = start_block, confirmations, max_blocks
        self.hashes, self.fault = hashes, fault
        self.accounts = Accounts(ledger, self.pool, self.operator)
        self.cursor_name = f"staking:{self.pool}"

    # ------------------------------------------------------------------ sync
    def sync(self) -> SyncResult:
        """Apply every confirmed block up to the head (in batches of ``max_blocks``)."""
        first, events, alerts = None, 0, 0
        while True:
            cursor = self.ledger.cursor(self.cursor_name)
            start = cursor.position + 1 if cursor else self.start_block
            head = int(self.w3.eth.block_number) - (self.confirmations - 1)
            if start > head:
                return SyncResult(first if first is not None else start, start - 1, events,
                                  alerts)
            end = min(head, start + self.max_blocks - 1)
            first = start if first is None else first
            n, a = self._batch(cursor, start, end)
            events, alerts = events + n, alerts + a

    def _batch(self, cursor: CursorState | None, start: int, end: int) -> tuple[int, int]:
        logs = self.w3.eth.get_logs({"address": self._checksum(), "fromBlock": start,
                                     "toBlock": end})
        decoded = sorted((e for e in map(decode_log, logs) if e is not None),
                         key=lambda e: (e.block, e.log_index))
        model, balances = self._load()
        applied = self._applied({e.tx_hash for e in decoded})
        ops = self._ops_by_tx()
        book = Book(self.accounts, self.operator, model, balances)
        outcomes = [book.apply(e, ops.get(e.tx_hash)) for e in decoded
                    if (e.tx_hash, e.log_index) not in applied]
        refused = self.ledger.refusals([o.transfers for o in outcomes])
        outcomes = [o if why is None else fallback(o, self.accounts, str(why))
                    for o, why in zip(outcomes, refused, strict=True)]
        block_hash = self._block_hash(end)
        to = CursorState(self.cursor_name, end, block_hash, cursor.generation if cursor else 0)
        transfers = [t for o in outcomes for t in o.transfers]
        alerts = [a for o in outcomes for a in o.alerts]

        def write(conn: Connection) -> None:
            self._save(conn, model, outcomes)
            if self.fault is not None:
                self.fault(conn)

        self.ledger.move_cursor(transfers, expected=cursor, to=to, alerts=alerts, also=write)
        return len(outcomes), len(alerts)

    # ------------------------------------------------------------------ reads
    def _checksum(self) -> str:
        from eth_utils import to_checksum_address
        return to_checksum_address(self.pool)

    def _block_hash(self, number: int) -> str:
        block = self.w3.eth.get_block(number)
        h = block["hash"]
        return h.hex() if isinstance(h, bytes) else str(h)

    def _load(self) -> tuple[Model, dict[str, int]]:
        """The model as last committed, and the staked balances of its clients."""
        m = Model()
        pc, qc = StakingPositionRow.__table__.c, StakingRequestRow.__table__.c
        with self.ledger.engine.connect() as conn:
            row = conn.execute(select(StakingPoolRow.__table__).where(
                StakingPoolRow.pool == self.pool)).one_or_none()
            if row is not None:
                m.pooled, m.total_shares = int(row.pooled), int(row.total_shares)
                m.unbonding_assets, m.unbonding_units = (int(row.unbonding_assets),
                                                         int(row.unbonding_units))
            for r in conn.execute(select(StakingPositionRow.__table__).where(pc.pool == self.pool)):
                m.positions[r.position_id] = Position(r.client_id, int(r.shares), int(r.principal),
                                                      int(r.rewards), int(r.slashed),
                                                      r.locked_until, r.deposit_tx)
            for r in conn.execute(select(StakingRequestRow.__table__).where(qc.pool == self.pool)):
                m.requests[r.request_id] = Request(r.position_id, r.client_id, int(r.units),
                                                   int(r.amount), r.claimable_at, int(r.slashed),
                                                   None if r.paid is None else int(r.paid), r.status)
        clients = {p.client_id for p in m.positions.values()} - {UNATTRIBUTED}
        balances = {c: self.ledger.balance(self.accounts.staked(c)).credit_balance for c in clients}
        return m, balances

    def _applied(self, tx_hashes: set[str]) -> set[tuple[str, int]]:
        ec = StakingEventRow.__table__.c
        if not tx_hashes:
            return set()
        with self.ledger.engine.connect() as conn:
            return {(h, i) for h, i in conn.execute(select(ec.tx_hash, ec.log_index).where(
                ec.pool == self.pool, ec.tx_hash.in_(sorted(tx_hashes))))}

    def _ops_by_tx(self) -> dict[str, OpRef]:
        """Every hash sent for an operation still awaiting its event -> that operation. ``new``
        and ``waiting`` ones count too: the sender stores and broadcasts an intent before the
        service records it as sent, so its event may be mirrored first."""
        oc = StakingOpRow.__table__.c
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(select(oc.op_id, oc.kind, oc.client_id, oc.amount, oc.tx_hash)
                                .where(oc.pool == self.pool,
                                       oc.status.in_(("new", "sent", "waiting")))).all()
        out: dict[str, OpRef] = {}
        for r in rows:
            ref = OpRef(r.op_id, r.kind, r.client_id, int(r.amount))
            hashes = set(self.hashes(r.op_id)) if self.hashes else set()
            for h in hashes | ({r.tx_hash} if r.tx_hash else set()):
                out[h.lower()] = ref
        return out

    # ------------------------------------------------------------------ write
    def _save(self, conn: Connection, m: Model, outcomes: list[Outcome]) -> None:
        now = datetime.now(UTC)
        pool = self.pool
        conn.execute(delete(StakingPoolRow.__table__).where(StakingPoolRow.pool == pool))
        conn.execute(insert(StakingPoolRow.__table__).values(
            pool=pool, pooled=str(m.pooled), total_shares=str(m.total_shares),
            unbonding_assets=str(m.unbonding_assets), unbonding_units=str(m.unbonding_units),
            updated_at=now))
        pt, qt = StakingPositionRow.__table__, StakingRequestRow.__table__
        conn.execute(delete(pt).where(pt.c.pool == pool))
        if m.positions:
            conn.execute(insert(pt), [
                {"pool": pool, "position_id": pid, "client_id": p.client_id,
                 "shares": str(p.shares), "principal": str(p.principal),
                 "rewards": str(p.rewards), "slashed": str(p.slashed),
                 "locked_until": p.locked_until, "deposit_tx": p.deposit_tx}
                for pid, p in m.positions.items()])
        conn.execute(delete(qt).where(qt.c.pool == pool))
        if m.requests:
            conn.execute(insert(qt), [
                {"pool": pool, "request_id": rid, "position_id": r.position_id,
                 "client_id": r.client_id, "units": str(r.units), "amount": str(r.amount),
                 "slashed": str(r.slashed), "paid": None if r.paid is None else str(r.paid),
                 "claimable_at": r.claimable_at, "status": r.status}
                for rid, r in m.requests.items()])
        for o in outcomes:
            e = o.event
            conn.execute(insert(StakingEventRow.__table__).values(
                pool=pool, tx_hash=e.tx_hash, log_index=e.log_index, block=e.block, kind=e.kind,
                contract_amount=str(o.contract_amount), allocated=str(o.allocated),
                remainder=str(o.remainder), applied_at=now))
            if o.allocations:
                conn.execute(insert(StakingAllocationRow.__table__), [
                    {"pool": pool, "tx_hash": e.tx_hash, "log_index": e.log_index,
                     "client_id": c, "amount": str(a)} for c, a in o.allocations.items()])
            oc = StakingOpRow.__table__.c
            for op_id, (position, request) in o.done_ops.items():
                conn.execute(update(StakingOpRow.__table__).where(oc.op_id == op_id).values(
                    status="done", position_id=position, request_id=request, tx_hash=e.tx_hash,
                    updated_at=now))

