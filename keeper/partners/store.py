"""Reads and writes of the ``partners_*`` tables (SQLAlchemy Core on the ledger's engine)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.ledger import utc
from keeper.partners.chainscan import Move
from keeper.partners.interface import PartnerTx
from keeper.partners.models import AccountRow, BreakRow, MoveRow, ReportRow, StateRow, WithdrawalRow

ACCOUNTS, REPORTS, MOVES, BREAKS, WITHDRAWALS, STATE = (
    t.__table__ for t in (AccountRow, ReportRow, MoveRow, BreakRow, WithdrawalRow, StateRow))


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def digest(tx: PartnerTx) -> str:
    """Digest of everything the partner said about one transaction (a changed story shows)."""
    body = json.dumps(tx.model_dump(by_alias=True), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class PartnerStore:
    """The partners tables of one partner ``name``."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine, self.name = engine, name

    def _rows(self, query: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]  # noqa: SLF001

    def _write(self, stmt: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # --- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """This partner's state row (created on first use)."""
        rows = self._rows(select(STATE).where(STATE.c.partner == self.name))
        if rows:
            return {k: utc(v) if isinstance(v, datetime) else v for k, v in rows[0].items()}
        try:
            self._write(insert(STATE).values(partner=self.name))
        except IntegrityError:
            pass
        return self.state()

    def set_state(self, **values: Any) -> None:
        """Update this partner's state."""
        self.state()
        self._write(update(STATE).where(STATE.c.partner == self.name).values(**values))

    # --- accounts ----------------------------------------------------------------------------
    def accounts(self) -> dict[str, str]:
        """client_ref -> sub-account address (lower-case)."""
        rows = self._rows(select(ACCOUNTS.c.client_ref, ACCOUNTS.c.address)
                          .where(ACCOUNTS.c.partner == self.name))
        return {r["client_ref"]: r["address"] for r in rows}

    def add_account(self, client_ref: str, address: str) -> None:
        """Record a sub-account (once)."""
        try:
            self._write(insert(ACCOUNTS).values(partner=self.name, client_ref=client_ref,
                                                address=address.lower(), opened_at=now()))
        except IntegrityError:
            pass

    # --- reports -----------------------------------------------------------------------------
    def reports(self, verdict: str | None = None) -> list[dict[str, Any]]:
        """Stored reports (optionally of one verdict), oldest first."""
        q = select(REPORTS).where(REPORTS.c.partner == self.name)
        if verdict is not None:
            q = q.where(REPORTS.c.verdict == verdict)
        return self._rows(q.order_by(REPORTS.c.id))

    def report_digests(self) -> dict[str, str]:
        """partner tx id -> digest of its first stored version."""
        rows = self._rows(select(REPORTS.c.partner_tx_id, REPORTS.c.digest)
                          .where(REPORTS.c.partner == self.name))
        return {r["partner_tx_id"]: r["digest"] for r in rows}

    def add_reports(self, txs: list[PartnerTx]) -> None:
        """Store newly reported transactions (verdict ``pending``)."""
        at = now()
        rows = [{"partner": self.name, "partner_tx_id": t.id, "client_ref": t.client_ref,
                 "kind": t.kind, "asset": t.asset, "amount": str(t.amount), "fee": str(t.fee),
                 "sender": t.sender, "recipient": t.to, "tx_hash": t.tx_hash,
                 "log_index": t.log_index, "block_number": t.block_number, "digest": digest(t),
                 "verdict": "pending", "first_seen_at": at} for t in txs]
        self._insert_new(REPORTS, rows)  # another sync may record some first: theirs stay

    def decide(self, conn: Connection, report_id: int, verdict: str, move: Move | None) -> None:
        """Record a verdict (inside the caller's transaction) and claim its chain move."""
        conn.execute(update(REPORTS).where(REPORTS.c.id == report_id).values(
            verdict=verdict, decided_at=now(), move_key=move.key if move else None,
            chain_block=move.block if move else None))
        if move is not None:
            conn.execute(update(MOVES).where(MOVES.c.partner == self.name,
                                             MOVES.c.move_key == move.key).values(matched=True))

    def claimed(self) -> frozenset[str]:
        """Chain moves already accounted for by a verified report."""
        rows = self._rows(select(REPORTS.c.move_key).where(
            REPORTS.c.partner == self.name, REPORTS.c.verdict == "verified",
            REPORTS.c.move_key.is_not(None)))
        return frozenset(r["move_key"] for r in rows)

    # --- moves -------------------------------------------------------------------------------
    def add_moves(self, moves: list[Move]) -> None:
        """Store chain moves seen at the sub-account addresses (each once)."""
        keys = [m.key for m in moves]
        known: set[str] = set()
        for i in range(0, len(keys), 500):  # bounded IN lists (SQLite caps bound variables)
            known |= {r["move_key"] for r in self._rows(select(MOVES.c.move_key).where(
                MOVES.c.partner == self.name, MOVES.c.move_key.in_(keys[i:i + 500])))}
        rows = [{"partner": self.name, "move_key": m.key, "tx_hash": m.tx_hash,
                 "block_number": m.block, "asset": m.asset, "amount": str(m.amount),
                 "sender": m.sender, "recipient": m.recipient, "matched": False}
                for m in moves if m.key not in known and m.amount > 0]
        self._insert_new(MOVES, rows)

    def _insert_new(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows``, skipping those another sync inserted first (unique keys)."""
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table), rows)
        except IntegrityError:
            for row in rows:
                try:
                    self._write(insert(table).values(**row))
                except IntegrityError:
                    pass

    def unmatched_moves(self, up_to: int) -> list[dict[str, Any]]:
        """Chain moves up to block ``up_to`` no reported transaction accounts for."""
        return self._rows(select(MOVES).where(MOVES.c.partner == self.name,
                                              MOVES.c.matched.is_(False),
                                              MOVES.c.block_number <= up_to))

    # --- breaks ------------------------------------------------------------------------------
    def add_break(self, kind: str, ref: str, detail: str, client_ref: str | None = None,
                  tx_hash: str | None = None, conn: Connection | None = None) -> bool:
        """Record a break once per ``ref``; True when new."""
        values = {"partner": self.name, "kind": kind, "ref": ref[:200], "client_ref": client_ref,
                  "tx_hash": tx_hash, "detail": detail[:500], "created_at": now()}
        if conn is not None:
            if conn.execute(select(BREAKS.c.id).where(BREAKS.c.partner == self.name,
                                                      BREAKS.c.ref == ref[:200])).first():
                return False
            conn.execute(insert(BREAKS).values(**values))
            return True
        try:
            self._write(insert(BREAKS).values(**values))
        except IntegrityError:
            return False
        return True

    def breaks(self) -> list[dict[str, Any]]:
        """Every break, oldest first."""
        return self._rows(select(BREAKS).where(BREAKS.c.partner == self.name).order_by(BREAKS.c.id))

    # --- withdrawals -------------------------------------------------------------------------
    def withdrawals(self, status: str | None = None) -> list[dict[str, Any]]:
        """Our withdrawal requests (optionally of one status), oldest first."""
        q = select(WITHDRAWALS).where(WITHDRAWALS.c.partner == self.name)
        if status is not None:
            q = q.where(WITHDRAWALS.c.status == status)
        return self._rows(q.order_by(WITHDRAWALS.c.created_at))

    def add_withdrawal(self, conn: Connection, **values: Any) -> None:
        """Store a request before it is sent (inside the caller's transaction)."""
        conn.execute(insert(WITHDRAWALS).values(partner=self.name, status="requested",
                                                created_at=now(), **values))

    def set_withdrawal(self, idem_key: str, conn: Connection | None = None, **values: Any) -> None:
        """Update one request (in the caller's transaction when ``conn`` is given)."""
        stmt = update(WITHDRAWALS).where(WITHDRAWALS.c.idem_key == idem_key).values(**values)
        if conn is None:
            self._write(stmt)
        else:
            conn.execute(stmt)
