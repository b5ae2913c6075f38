"""The order driver: advances orders one step at a time through core banking and the issuer.

Each step is an external call with a key derived from (order id, step) (:func:`store.step_key`)
followed by one transaction recording its outcome (state, audit, outbox, ledger postings). A
crash between the call and the record re-runs the call with the same key on the next
:meth:`Driver.resume`: the vendor answers the first result and applies nothing twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from keeper import notifications
from keeper.flows import rules, store
from keeper.flows.store import FINAL, FlowError, Order
from keeper.integrations.corebanking import (
    CoreBankingRejectedError,
    CoreBankingUnavailableError,
)
from keeper.integrations.issuer import IssuerError, IssuerRejected, IssuerUnavailable, MintStatus
from keeper.ledger import InsufficientFunds, Ledger, TransferSpec
from keeper.ledger.db import WRITE

log = logging.getLogger(__name__)
#: what an order id can be (``ord_`` + hex); anything else in an issuer event names no order
_ORDER_ID = re.compile(r"ord_[0-9A-Za-z_-]{1,64}")
_NOTIFIED = {"completed": notifications.ORDER_COMPLETED, "failed": notifications.ORDER_FAILED,
             "refunded": notifications.ORDER_FAILED}


class Driver:
    """Advances buy and sell orders (base of :class:`keeper.flows.OrderService`)."""

    def __init__(self, engine: Engine, ledger: Ledger, *, bank: Any, issuer: Any, settings: Any,
                 inventory_client: str, inventory_address: str | None,
                 clock: Callable[[], datetime]) -> None:
        self.engine, self.ledger, self.bank, self.issuer = engine, ledger, bank, issuer
        # write transactions take the write lock first (BEGIN IMMEDIATE on SQLite): a deferred
        # one that read before writing failed "database is locked" when another writer committed
        self.writer = engine.execution_options(**WRITE)
        self.settings, self.clock = settings, clock
        self.inventory_client, self.inventory_address = inventory_client, inventory_address

    # ---------------------------------------------------------------- ids and notices
    @staticmethod
    def deliver_transfer_id(order_id: str) -> str:
        """The ledger transfer delivering a buy (named in the core-banking debit's crypto leg)."""
        return f"flows:{order_id}:deliver"

    @staticmethod
    def sell_transfer_id(order_id: str) -> str:
        """The ledger transfer taking a sell's coins (named in the core-banking credit)."""
        return f"flows:{order_id}:sell"

    @staticmethod
    def _notice(order: Order, event: str) -> notifications.Notice:
        """The client's notice of ``order`` in its current state (one per order and state; an
        event that is not a state change, e.g. ``withdrawal.delayed``, once per order)."""
        tag = order.state if event in _NOTIFIED.values() else event
        return notifications.Notice(order.client_id, event, {
            "order_id": order.id, "kind": order.kind, "state": order.state, "asset": order.asset,
            "units": str(order.units), "fiat_cents": str(order.fiat_cents),
            "fee_cents": str(order.fee_cents), "reason": order.reason or ""},
            f"{order.id}:{tag}")

    def _notify(self, conn: Connection, order: Order, event: str) -> None:
        notifications.enqueue_many(conn, [self._notice(order, event)])

    def _move(self, order_id: str, expect: str, to: str, *, reason: str | None = None,
              data: dict[str, Any] | None = None, postings: list[TransferSpec] | None = None,
              version: int | None = None, notice: str | None = None) -> Order:
        """One state change: postings (if any), state, audit, outbox, client notice, together
        (the notice of a final state, else ``notice``: an event the client hears of)."""
        out: list[Order] = []

        def hook(conn: Connection) -> None:
            out.clear()
            order = store.transition(conn, order_id, expect, to, now=self.clock(), reason=reason,
                                     data=data, version=version)
            event = _NOTIFIED.get(to, notice)
            if event is not None:
                self._notify(conn, order, event)
            out.append(order)

        if postings:
            self.ledger.post_all(postings, hook)
        else:
            with self.writer.begin() as conn:
                hook(conn)
        return out[0]

    # ---------------------------------------------------------------- the driver
    def resume(self) -> int:
        """Advance every unfinished order one step; returns how many changed state."""
        with self.engine.connect() as conn:
            ids = store.open_orders(conn)
        moved = 0
        for oid in ids:
            try:
                before = self._load(oid)
                after = self.advance(oid)
                moved += after.state != before[0].state or after.updated_at != before[0].updated_at
            except FlowError as exc:  # raced with another driver: it moved the order
                log.info("order %s: %s", oid, exc)
            except Exception:  # one order's vendor trouble never stops the others
                log.exception("order %s could not advance; retried on the next pass", oid)
        return moved

    def _load(self, order_id: str) -> tuple[Order, dict[str, Any], int]:
        with self.engine.connect() as conn:
            found = store.load(conn, order_id)
        if found is None:
            raise store.OrderNotFound(order_id)
        return found

    def advance(self, order_id: str) -> Order:
        """Take the next step of ``order_id`` (a vendor that is unavailable leaves the order
        where it is, for the next :meth:`resume`). Returns the order as it now stands."""
        order, data, version = self._load(order_id)
        if order.state in FINAL:
            return order
        step = getattr(self, f"_{order.kind}_{order.state}", None)
        if step is None:
            return order
        try:
            return step(order, data, version)
        except (CoreBankingUnavailableError, IssuerUnavailable) as exc:
            log.warning("order %s waits for a vendor: %s", order.id, exc)
            return order

    # ---------------------------------------------------------------- buy
    def _debit(self, order: Order, data: dict[str, Any]) -> str:
        """Debit the buy's fiat and fee in core banking (idempotent on the order's step key: a
        replay returns the same posting); returns the posting id."""
        return self.bank.debit_for_buy(
            store.step_key(order.id, "debit"), data["customer"], order.fiat_cents,
            fee_cents=order.fee_cents, reference=order.id, asset=order.asset,
            asset_units=order.units, ledger_transfer_id=self.deliver_transfer_id(order.id)).posting_id

    def _buy_accepted(self, order: Order, data: dict[str, Any], version: int) -> Order:
        try:
            posting = self._debit(order, data)
        except CoreBankingRejectedError as exc:
            return self._move(order.id, "accepted", "failed", reason=f"core banking: {exc.code}",
                              version=version)
        order = self._move(order.id, "accepted", "paid", version=version,
                           data={"debit_posting_id": posting})
        return self._buy_paid(order, {**data, "debit_posting_id": posting}, version + 1)

    def _inventory(self, asset: str) -> int:
        return self.ledger.balance(self.ledger.client_account(self.inventory_client, asset)).available

    def _deliver(self, order: Order, version: int) -> Order | None:
        """Deliver from inventory in one transaction, or None when inventory is short."""
        if self._inventory(order.asset) < order.units:
            return None
        spec = TransferSpec(self.deliver_transfer_id(order.id),
                            self.ledger.client_account(self.inventory_client, order.asset),
                            self.ledger.client_account(order.client_id, order.asset), order.units,
                            reference=order.id)
        try:
            return self._move(order.id, order.state, "completed", postings=[spec], version=version)
        except InsufficientFunds:
            return None  # another order took the inventory first

    def _buy_paid(self, order: Order, data: dict[str, Any], version: int) -> Order:
        if (done := self._deliver(order, version)) is not None:
            return done
        if self.issuer is None or self.inventory_address is None:
            return self._escalate(order, data, version, "no issuer configured to mint inventory")
        try:
            self.bank.fund_reserves(store.step_key(order.id, "reserves"), order.asset,
                                    order.fiat_cents, reference=order.id)
            mint = self.issuer.create_mint(units=order.units,
                                           destination_address=self.inventory_address,
                                           reference=order.id,
                                           idempotency_key=store.step_key(order.id, "mint"))
        except (IssuerRejected, CoreBankingRejectedError) as exc:
            return self._move(order.id, "paid", "refunding", reason=f"mint refused: {exc}",
                              version=version)
        return self._move(order.id, "paid", "minting", version=version,
                          data={"mint_id": mint.mint_id, "reserves": True,
                                "since": self.clock().isoformat()})

    def _buy_minting(self, order: Order, data: dict[str, Any], version: int) -> Order:
        mint = self.issuer.get_mint(data["mint_id"])
        if mint.status is MintStatus.COMPLETE:
            order = self._move(order.id, "minting", "minted", version=version)
            return self._buy_minted(order, data, version + 1)
        if mint.status is MintStatus.FAILED:
            return self._move(order.id, "minting", "refunding", version=version,
                              reason=f"issuer could not mint: {mint.reason or 'failed'}")
        return self._escalate(order, data, version, f"mint {mint.mint_id} still pending")

    def _buy_minted(self, order: Order, data: dict[str, Any], version: int) -> Order:
        if (done := self._deliver(order, version)) is not None:
            return done
        self._sweep_minted(order)
        return self._escalate(order, data, version,
                              "minted coins not yet credited to the inventory")

    def _sweep_minted(self, order: Order) -> None:
        """Move ``order``'s minted coins from the issuance address to where the chain follower
        credits the inventory (a no-op here: see :class:`keeper.flows.withdrawals.Withdrawals`)."""

    def _escalate(self, order: Order, data: dict[str, Any], version: int, why: str) -> Order:
        """After ``mint_escalate_after_s`` in the same state, one alert and a mark on the order."""
        since = datetime.fromisoformat(data.get("since") or order.updated_at.isoformat())
        due = since + timedelta(seconds=self.settings.mint_escalate_after_s)
        if data.get("escalated") or self.clock() < due:
            return order
        self.ledger.raise_alert("flows.mint_delayed", f"buy {order.id}: {why} since {since}",
                                ref=f"flows:{order.id}:escalated")
        return self._move(order.id, order.state, order.state, version=version,
                          data={"escalated": self.clock().isoformat()})

    def _buy_refunding(self, order: Order, data: dict[str, Any], version: int) -> Order:
        if data.get("reserves"):
            self.bank.release_reserves(store.step_key(order.id, "release"), order.asset,
                                       order.fiat_cents, reference=f"refund {order.id}")
        # the debit is reversed exactly (fiat and fee back, the trade's crypto leg undone), so
        # core banking and the sub-ledger agree again (type 2) and no fee stays booked as income
        debit = data.get("debit_posting_id") or self._debit(order, data)
        self.bank.reverse_debit(store.step_key(order.id, "reverse"), debit,
                                reference=f"refund {order.id}")
        return self._move(order.id, "refunding", "refunded", version=version)

    def on_issuer_event(self, event: dict[str, Any]) -> int:
        """A verified issuer webhook (``mint_id`` / ``burn_id`` with a status): advance the
        orders waiting on it. Returns how many changed."""
        ref = str(event.get("reference") or "")
        with self.engine.connect() as conn:
            found = store.load(conn, ref) if _ORDER_ID.fullmatch(ref) else None
        if found is None or found[0].state in FINAL:
            return 0
        before = found[0]
        after = self.advance(before.id)
        return int(after.state != before.state)

    # ---------------------------------------------------------------- sell
    def _sell_debited(self, order: Order, data: dict[str, Any], version: int) -> Order:
        try:
            self.bank.credit_for_sell(
                store.step_key(order.id, "credit"), data["customer"], order.fiat_cents,
                fee_cents=order.fee_cents, reference=order.id, asset=order.asset,
                asset_units=order.units, ledger_transfer_id=self.sell_transfer_id(order.id))
        except CoreBankingRejectedError as exc:
            back = TransferSpec(f"flows:{order.id}:sell-reversal",
                                self.ledger.client_account(self.inventory_client, order.asset),
                                self.ledger.client_account(order.client_id, order.asset),
                                order.units, reverses_id=self.sell_transfer_id(order.id),
                                reference=order.id)
            return self._move(order.id, "debited", "failed", reason=f"core banking: {exc.code}",
                              postings=[back], version=version)
        return self._move(order.id, "debited", "completed", version=version)


__all__ = ["Driver", "IssuerError", "rules"]
