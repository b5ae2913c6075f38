"""The trading desk: one home for "a parent order, end to end" (issue 15).

:class:`TradingDesk` is what the trading operations manager's tools (the CLI
``python -m keeper.trading``, the API's ``/v1/trading`` routes) call:

* :meth:`TradingDesk.submit` routes a parent order (routing's pre-trade check first:
  :class:`~keeper.trading.routing.OrderRefusedError` means nothing was stored or sent), then
  records every fill of the execution in the client's tax lots (one ``record_many``; each fill's
  reference is ``fill:<venue>:<order id>:<n>``, so recording the same fills again changes
  nothing) and writes audit records: ``trading.order.submitted``, ``trading.order.refused``,
  ``trading.order.finished`` (the last only once the parent is done and its lots recorded).
  Submitting the same parent id again (a caller's retry) returns the same execution, whatever
  ``created_at`` the retry carries; the same id with other contents is refused
  (:class:`~keeper.trading.routing.ParentMismatchError`).
* :meth:`TradingDesk.execution`, :meth:`TradingDesk.report` (best-execution figures),
  :meth:`TradingDesk.report_html` / :meth:`TradingDesk.report_pdf`, :meth:`TradingDesk.lots`.
* Crash safety: a crash between the fills (stored by routing) and the tax lots loses nothing.
  :meth:`TradingDesk.book_finished` records the fills of every parent finished since a moment
  that are not in the book yet (idempotent: fills already there change nothing); the routing
  resume job calls it for the recent past after each resume, and :meth:`TradingDesk.from_settings`
  (a restart) for :data:`RESTART_LOOKBACK_MS`. Fills the book refuses (a venue clock far ahead)
  never fail an order or block the others: an alert (:data:`LOTS_REFUSED`, once per parent)
  and a later pass records them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from keeper.audit import record_in
from keeper.trading.bestex import (
    OrderReport,
    analyse,
    from_execution,
    order_document,
    render_html,
    render_pdf,
)
from keeper.trading.desk.kyc import ClientRefusedError, client_jurisdiction
from keeper.trading.routing import Execution, OrderRefusedError, ParentStatus, Router
from keeper.trading.routing.jobs import close_router, router_from_settings
from keeper.trading.taxlots import EventConflictError, InvalidEventError, Lot, Method, TaxLotBook
from keeper.trading.types import Fill, ParentOrder, Side

log = logging.getLogger("keeper.trading.desk")

FINISHED = (ParentStatus.FILLED, ParentStatus.PARTIAL, ParentStatus.REJECTED)
RESTART_LOOKBACK_MS = 30 * 86_400_000  # a restart books the fills of parents finished this recently
RESUME_LOOKBACK_MS = 15 * 60_000  # each resume run, those of parents finished this recently
DAY_MS = 86_400_000
LOTS_REFUSED = "trading.desk_lots_refused"  # alert kind (ref: the parent id)
AuditFn = Callable[..., object]


def _record_fills(book: TaxLotBook, client_id: str, fills: Sequence[Fill]) -> int:
    """Record ``fills`` in ``client_id``'s lots (:meth:`TaxLotBook.record_fill`, numbering the
    fills of one venue order 0, 1, ... so each has its own reference); returns how many were
    new (0: all were recorded before)."""
    seen: Counter[tuple[str, str]] = Counter()
    new = 0
    for fill in fills:
        key = (fill.venue, fill.order_id)
        new += not book.record_fill(client_id, fill, seq=seen[key]).duplicate
        seen[key] += 1
    return new


class TradingDesk:
    """Parent orders end to end over ``router`` (its store on ``engine``), the clients' tax
    lots in ``book`` and the audit trail on ``engine`` (``audit(conn, actor, operation, params,
    result)``, :func:`keeper.audit.record_in` by default; None: no audit records, for a caller
    whose own runs are audited). ``clock()``: now in ms."""

    def __init__(self, router: Router, book: TaxLotBook, engine: Engine, *,
                 audit: AuditFn | None = record_in,
                 clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.router, self.book, self.engine = router, book, engine
        self.audit, self.clock = audit, clock
        self._write = engine.execution_options(ledger_write=True)

    @classmethod
    def from_settings(cls, settings: Any, engine: Engine,
                      alert: Callable[[str, str, str], object], *,
                      audit: AuditFn | None = record_in,
                      catch_up_ms: int | None = RESTART_LOOKBACK_MS) -> TradingDesk | None:
        """The desk of ``settings`` (router over the venue registry file and the jurisdiction
        rules file, tax lots with the ``taxlots_*`` defaults), or None when no venue registry is
        configured. ``catch_up_ms``: book the fills of parents finished that recently and not
        in the book yet (what a restart does; None: not now)."""
        router = router_from_settings(settings, engine, alert)
        if router is None:
            return None
        book = TaxLotBook(engine, default_method=Method(settings.taxlots_default_method),
                          fees_in_basis=settings.taxlots_fees_in_basis,
                          long_term_after_ms=settings.taxlots_long_term_days * DAY_MS)
        desk = cls(router, book, engine, audit=audit)
        if catch_up_ms is not None:
            try:
                desk.book_finished(desk.clock() - catch_up_ms)
            except BaseException:
                desk.close()
                raise
        return desk

    def close(self) -> None:
        """Close the venue clients (their connection pools)."""
        close_router(self.router)

    # ------------------------------------------------------------------ orders
    def submit(self, parent: ParentOrder, *, actor: str = "trading-desk") -> Execution:
        """Route ``parent`` (or return its execution when that id was submitted before with the
        same contents, whatever ``created_at`` the retry carries), record its fills in the
        client's tax lots and audit it.

        Raises ``OrderRefusedError`` (refused whole by the rules: nothing stored or sent; the
        refusal is audited), ``ParentMismatchError`` (an id reused with other contents) or
        ``ValueError`` (a parent that cannot be routed as written: nothing stored). Fills the
        tax-lot book refuses do not fail the order (they were made): alert
        :data:`LOTS_REFUSED`, recorded later by :meth:`book_finished`.

        The client is looked up first (:func:`~keeper.trading.desk.kyc.client_jurisdiction`):
        unknown, may not trade, no country, or a ``jurisdiction`` other than its KYC country:
        :class:`~keeper.trading.desk.kyc.ClientRefusedError` (audited; nothing stored or sent).
        ``parent.jurisdiction`` None: the client's KYC country."""
        asked = parent
        try:
            parent = client_jurisdiction(self.engine, parent, self.clock())
        except ClientRefusedError as e:
            self._audit(actor, "trading.order.submitted", _parent_params(asked), "received")
            self._audit(actor, "trading.order.refused", _parent_params(asked),
                        {"rule": e.rule, "reason": e.reason})
            raise
        stored = self.router.store.parent(parent.id) if isinstance(parent.id, str) else None
        if stored is not None and replace(parent, created_at=stored.created_at) == stored:
            parent = stored
        was_done = stored is not None and self.execution(parent.id).status in FINISHED
        self._audit(actor, "trading.order.submitted", _parent_params(parent), "received")
        try:
            ex = self.router.route(parent)
        except OrderRefusedError as e:
            self._audit(actor, "trading.order.refused", _parent_params(parent),
                        {"rule": e.decision.rule, "reason": e.decision.reason})
            raise
        new = self._record_lots(ex)
        if ex.status in FINISHED and new is not None and (new or not was_done):
            self._audit(actor, "trading.order.finished", {"parent_id": ex.parent.id},
                        _summary(ex))
        return ex

    def book_executions(self, executions: Sequence[Execution], *,
                        actor: str = "trading-desk") -> int:
        """Record the fills of ``executions`` (e.g. those a resume just settled) in the lots;
        returns how many executions had fills new to the book (each audited ``finished`` when
        done)."""
        booked = 0
        for ex in executions:
            if self._record_lots(ex):
                booked += 1
                if ex.status in FINISHED:
                    self._audit(actor, "trading.order.finished", {"parent_id": ex.parent.id},
                                _summary(ex))
        return booked

    def _record_lots(self, ex: Execution) -> int | None:
        """Record ``ex``'s fills in its client's lots: how many were new, or None when the book
        refused them (e.g. a venue's clock far ahead dates them in the future): the fills stay
        routing's, an alert names the parent, and a later :meth:`book_finished` records them."""
        try:
            return _record_fills(self.book, ex.parent.client_id, ex.fills)
        except (InvalidEventError, EventConflictError) as e:
            log.error("tax lots of parent %s refused: %s", ex.parent.id, e)
            self.router.alert(LOTS_REFUSED, f"the tax-lot book refused the fills of parent "
                              f"{ex.parent.id}: {e}", ex.parent.id)
            return None

    def book_finished(self, since_ms: int, *, actor: str = "trading-desk") -> int:
        """Record the fills of every parent finished since ``since_ms`` (ms) that are not in the
        book yet (a crash between routing and the tax lots); returns how many parents had fills
        recorded now."""
        since = datetime.fromtimestamp(max(0, since_ms) / 1000, UTC) - timedelta(seconds=1)
        ids = self.router.store.finished_with_fills_since(since)
        late = self.book_executions([self.execution(pid) for pid in ids], actor=actor)
        if late:
            log.warning("tax lots of %d finished parent(s) recorded late (after a crash)", late)
        return late

    # ------------------------------------------------------------------ reads
    def execution(self, parent_id: str) -> Execution:
        """The stored execution of ``parent_id`` (``KeyError`` if unknown)."""
        return self.router.execution(parent_id)

    def report(self, parent_id: str) -> OrderReport:
        """The best-execution figures of ``parent_id`` (``KeyError`` if unknown)."""
        return analyse(from_execution(self.execution(parent_id)))

    def report_html(self, parent_id: str) -> str:
        """The compliance report of ``parent_id`` as a self-contained HTML page."""
        return render_html(order_document(self.report(parent_id)))

    def report_pdf(self, parent_id: str) -> bytes:
        """The compliance report of ``parent_id`` as a PDF."""
        return render_pdf(order_document(self.report(parent_id)))

    def lots(self, client_id: str) -> dict[str, list[Lot]]:
        """``client_id``'s open lots per asset."""
        return self.book.lots_by_asset(client_id)

    # ------------------------------------------------------------------ audit
    def _audit(self, actor: str, operation: str, params: Any, result: Any) -> None:
        if self.audit is None:
            return
        with self._write.begin() as conn:
            self.audit(conn, actor, operation, params, result)


def _parent_params(p: ParentOrder) -> dict[str, Any]:
    return {"parent_id": p.id, "client_id": p.client_id, "symbol": p.symbol,
            "side": p.side.value if isinstance(p.side, Side) else str(p.side),
            "amount": str(p.amount),
            "limit_price": None if p.limit_price is None else str(p.limit_price),
            "jurisdiction": p.jurisdiction, "client_type": p.client_type}


def _summary(ex: Execution) -> dict[str, Any]:
    return {"status": ex.status, "filled": str(ex.filled), "notional": str(ex.notional),
            "fee": str(ex.fee), "fills": len(ex.fills)}

__all__ = ["FINISHED", "RESTART_LOOKBACK_MS", "RESUME_LOOKBACK_MS", "TradingDesk"]
