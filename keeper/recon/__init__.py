"""Reconciliation (spec 004 §6.3): every number the bank reports, provably right.

Public surface:

* :class:`Reconciler`: runs type 1 (sub-ledger vs chains), type 2 (core banking vs sub-ledger)
  and type 3 (issuer reserves vs on-chain supply); each run's figures and breaks are stored in
  one transaction (:class:`BreakBook`) and rendered with :func:`render_html` / :func:`render_pdf`;
* the break rule (:func:`size_class`, :class:`SizeClass`, :class:`Status`) and the circuit
  breaker: :func:`ensure_open_for_business` raises :class:`TransactionsHalted` while a critical
  break is unresolved; :meth:`BreakBook.resolve` (authorised actor + note) resumes;
* the interfaces: :class:`BalanceReader`, :class:`UtxoView`, :class:`CoreBanking` (with
  :class:`FiatEntry`), :class:`SupplyReader` / :class:`RpcSupply`.

The recon tables share the ledger's database (migrate with :func:`keeper.schema.upgrade_all`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Engine

from keeper.ledger import ledger_totals
from keeper.prices import PriceFeed
from keeper.recon.breaks import (
    Audit,
    BreakBook,
    BreakRow,
    Finding,
    NotAuthorised,
    ReconError,
    RunRow,
    SizeClass,
    Status,
    TransactionsHalted,
    ensure_open_for_business,
    size_class,
)
from keeper.recon.corebanking import (
    CoreBanking,
    FiatEntry,
    RpcSupply,
    SupplyReader,
    reconcile_type2,
    reconcile_type3,
)
from keeper.recon.report import render_html, render_pdf
from keeper.recon.type1 import BalanceReader, UtxoView, pinned_block, reconcile_type1


class Reconciler:
    """Runs reconciliations on the ledger's database and records them in ``book``.

    Every ``run_*`` takes a ``run_key`` naming the run (e.g. ``type1:2026-11-23T10``): a job
    restarted after a crash with the same key gets the stored run back, never a second one.
    """

    def __init__(self, engine: Engine, book: BreakBook, prices: PriceFeed) -> None:
        self.engine, self.book, self.prices = engine, book, prices

    def run_type1(self, reader: BalanceReader | None, *, run_key: str, block: int | None = None,
                  cursor: str | None = "vault", btc_wallets: Mapping[str, UtxoView] | None = None,
                  locations: Iterable[str] = (), now: datetime | None = None) -> RunRow:
        """Type 1 at ``block`` (default: the follower ``cursor``'s block in the same snapshot
        as the ledger figures; else the chain head)."""
        totals = ledger_totals(self.engine)
        at = pinned_block(totals, reader, block, cursor) if reader is not None else block
        res = reconcile_type1(totals, reader, at, self.prices, btc_wallets=btc_wallets,
                              locations=locations, now=now)
        return self.book.record(run_key, 1, res.block, res.figures, res.findings)

    def run_type2(self, bank: CoreBanking, *, run_key: str, now: datetime | None = None) -> RunRow:
        """Type 2: every customer's fiat balance and trade legs."""
        res = reconcile_type2(bank, self.engine, self.prices, now)
        return self.book.record(run_key, 2, None, res.figures, res.findings)

    def run_type3(self, bank: CoreBanking, supply: SupplyReader, block: int, *,
                  run_key: str) -> RunRow:
        """Type 3: issuer reserves vs on-chain supply at ``block``."""
        res = reconcile_type3(bank, supply, block)
        return self.book.record(run_key, 3, block, res.figures, res.findings)

    def render(self, run_id: int, fmt: str = "html") -> str | bytes:
        """The stored run ``run_id`` with its breaks as they stand now: ``html`` or ``pdf``."""
        run = self.book.run(run_id)
        breaks = self.book.breaks(run_id)
        return render_pdf(run, breaks) if fmt == "pdf" else render_html(run, breaks)


__all__ = [
    "Audit", "BalanceReader", "BreakBook", "BreakRow", "CoreBanking", "FiatEntry", "Finding",
    "NotAuthorised", "ReconError", "Reconciler", "RpcSupply", "RunRow", "SizeClass", "Status",
    "SupplyReader", "TransactionsHalted", "UtxoView", "ensure_open_for_business",
    "render_html", "render_pdf", "size_class",
]
