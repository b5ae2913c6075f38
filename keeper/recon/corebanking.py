"""Types 2 and 3: the core-banking (fiat) side, as the read interface reconciliation needs.

:class:`CoreBanking` is what the bank's core system must answer (a local implementation comes
with the core-banking service; a vendor adapter implements the same protocol):

* ``fiat_balances()``: every customer's fiat (USD) balance in cents;
* ``history(customer)``: that customer's fiat movements; a trade (buy/sell) carries its crypto
  leg: the asset, the signed units the customer received (+) or gave (-), and the id of the
  ledger transfer that posted it;
* ``issuer_reserves(asset)``: fiat held for the stablecoin's issuer, in cents.

Type 2 (spec 004 §6.3), per customer: the fiat balance must equal the sum of its history (what
the history explains), and every crypto leg must be posted in the sub-ledger on that customer's
account with exactly its amount ("did a transaction fail to post?"). Core banking names its own
customer ids: the sub-ledger account is that of the client whose profile holds the id as its
``bank_customer_id`` (:mod:`keeper.clients`), never a client that merely has the same id; a leg
of a customer no profile names is a break.

Type 3, per stablecoin: the reserves held for the issuer (1 cent = 10**(decimals-2) base units)
must equal the token's on-chain ``totalSupply`` at the pinned block. Per spec any difference is a
CRITICAL alert, whatever its size: 1:1 backing is either proven or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from keeper import clients
from keeper.assets import USDC, USDT, by_symbol
from keeper.ledger import client_postings
from keeper.prices import PriceError, PriceFeed, to_usd_cents, value_cents
from keeper.recon.breaks import Finding
from keeper.recon.figures import Table, figures, format_cents, format_units

TOTAL_SUPPLY = "0x18160ddd"  # totalSupply()
RESERVE_ASSETS = (USDC.symbol, USDT.symbol)
MAX_LISTED = 1000  # customers listed by name in a report (all are counted)


@dataclass(frozen=True, slots=True)
class FiatEntry:
    """One fiat movement of a customer: ``amount_cents`` signed (+ into the account). A trade
    also names its crypto leg (``asset``, signed ``asset_units`` to the customer, and the
    ``ledger_transfer_id`` that posted it)."""

    id: str
    at: datetime
    kind: str
    amount_cents: int
    asset: str | None = None
    asset_units: int = 0
    ledger_transfer_id: str | None = None


class CoreBanking(Protocol):
    """The read interface reconciliation needs from core banking."""

    def fiat_balances(self) -> Mapping[str, int]:
        """Customer id -> fiat (USD) balance in cents."""
        ...

    def history(self, customer: str) -> Sequence[FiatEntry]:
        """The customer's fiat movements, oldest first."""
        ...

    def issuer_reserves(self, asset: str) -> int:
        """Fiat (USD cents) held for the issuer of stablecoin ``asset``."""
        ...


class SupplyReader(Protocol):
    """An ERC-20's total supply at a block."""

    def total_supply(self, token: str, block: int) -> int:
        """``totalSupply()`` of ``token`` at ``block``."""
        ...


class RpcSupply:
    """:class:`SupplyReader` over a JSON-RPC caller with ``rpc(method, params)`` (e.g.
    :class:`keeper.chain.reader.ChainReader`)."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc

    def total_supply(self, token: str, block: int) -> int:
        """``eth_call`` of ``totalSupply()``; a non-ABI answer (no contract) is refused."""
        res = self.rpc.rpc("eth_call", [{"to": token, "data": TOTAL_SUPPLY}, hex(block)]) or "0x"
        if len(res) != 66:
            raise ValueError(f"totalSupply of {token} answered {res[:80]!r}")
        return int(res, 16)


@dataclass(frozen=True)
class CheckResult:
    """Figures and findings of a type 2 or type 3 run."""

    block: int | None
    figures: dict[str, Any]
    findings: list[Finding]


def _valid_cents(value: Any, where: str) -> int:
    if type(value) is not int:
        raise ValueError(f"{where}: core banking answered {type(value).__name__}, not int cents")
    return value


def bank_customers(engine: Engine) -> dict[str, str]:
    """Core-banking customer id -> the id of the client whose profile holds it."""
    return {p.bank_customer_id: cid for cid, _, p in clients.list_profiles(engine)
            if p.bank_customer_id is not None}


def _legs(trades: Sequence[tuple[str, str, FiatEntry]]
          ) -> list[tuple[str, str, str | None, list[FiatEntry]]]:
    """Trade legs grouped by (customer, asset, ledger transfer): a trade and its reversal
    (the leg negated under the same transfer id) are checked together; a leg without a
    transfer id stands alone."""
    out: dict[tuple[str, str, str], tuple[str, str, str | None, list[FiatEntry]]] = {}
    for customer, asset, e in trades:
        tid = e.ledger_transfer_id
        key = (customer, asset, f"t:{tid}" if tid else f"e:{e.id}")
        out.setdefault(key, (customer, asset, tid, []))[3].append(e)
    return list(out.values())


def reconcile_type2(bank: CoreBanking, engine: Engine, feed: PriceFeed,
                    now: datetime | None = None) -> CheckResult:
    """Each customer's fiat balance vs its history, and its trades' crypto legs vs the ledger
    (posted on the account of the client that core-banking customer is, per its profile)."""
    findings: list[Finding] = []
    fiat = Table("Customers whose history does not explain their balances",
                 ["customer", "fiat balance", "history explains", "difference"])
    legs = Table("Trades not posted as recorded in the sub-ledger",
                 ["customer", "entry", "expected", "posted", "difference", "USD"])
    balances = dict(bank.fiat_balances())
    trades: list[tuple[str, str, FiatEntry]] = []
    for customer in sorted(balances):
        bal = _valid_cents(balances[customer], f"balance of {customer!r}")
        entries = list(bank.history(customer))
        explained = sum(_valid_cents(e.amount_cents, f"entry {e.id!r}") for e in entries)
        trades += [(customer, by_symbol(e.asset).symbol, e) for e in entries if e.asset is not None]
        if bal != explained:
            diff = bal - explained
            findings.append(Finding("fiat", customer, "USD", diff, diff,
                                    f"fiat balance {format_cents(bal)}, history explains "
                                    f"{format_cents(explained)}"))
            if len(fiat.rows) < MAX_LISTED:
                fiat.rows.append([customer, format_cents(bal), format_cents(explained),
                                  format_cents(diff)])
    posted = client_postings(engine, [e.ledger_transfer_id for _, _, e in trades
                                      if e.ledger_transfer_id])
    matched = 0
    owners = bank_customers(engine) if trades else {}
    for customer, asset, tid, group in _legs(trades):
        e, expected = group[0], sum(g.asset_units for g in group)
        client_id = owners.get(customer)
        got = sum(amount for owner, a, amount in posted.get(tid or "", ())
                  if client_id is not None and owner == client_id and a == asset)
        diff = got - expected
        if not diff:
            matched += 1
            continue
        try:
            cents, note = value_cents(feed, asset, diff, now), ""
        except PriceError as exc:
            cents, note = None, f"; not valued: {exc}"
        if client_id is None:
            note += "; no client holds this core-banking customer id"
        ids = " + ".join(g.id for g in group)
        findings.append(Finding(
            "trade_leg", f"{customer} {e.id}", asset, diff, cents,
            f"{e.kind} {ids}: core banking records {format_units(expected, asset)}, "
            f"ledger transfer {tid!r} posted {format_units(got, asset)}" + note))
        if len(legs.rows) < MAX_LISTED:
            legs.rows.append([customer, ids, format_units(expected, asset),
                              format_units(got, asset), format_units(diff, asset),
                              format_cents(cents)])
    summary = Table("Summary", ["figure", "value"], [
        ["customers", f"{len(balances):,}"],
        ["trade legs matched", f"{matched:,}"],
        ["breaks", f"{len(findings):,}"]])
    exact = {"customers": len(balances), "legs_matched": matched}
    return CheckResult(None, figures("Type 2: core banking vs sub-ledger", None,
                                     [summary, fiat, legs], exact), findings)


def reconcile_type3(bank: CoreBanking, supply: SupplyReader, block: int) -> CheckResult:
    """Reserves held for each stablecoin's issuer vs the token's on-chain supply at ``block``."""
    findings: list[Finding] = []
    table = Table("Reserves vs on-chain supply", ["asset", "reserves", "on-chain supply",
                                                  "difference", "USD"])
    exact: dict[str, Any] = {}
    for symbol in RESERVE_ASSETS:
        asset = by_symbol(symbol)
        cents = _valid_cents(bank.issuer_reserves(symbol), f"reserves for {symbol}")
        reserves = cents * 10 ** (asset.decimals - 2)
        onchain = supply.total_supply(asset.address or "", block)
        diff = reserves - onchain
        usd = to_usd_cents(diff, asset.decimals, 100)
        if diff:
            findings.append(Finding(
                "reserves", symbol, symbol, diff, usd,
                f"reserves {format_cents(cents)} vs on-chain supply "
                f"{format_units(onchain, symbol)} at block {block}: 1:1 backing not proven",
                critical=True))
        table.rows.append([symbol, format_cents(cents), format_units(onchain, symbol),
                           format_units(diff, symbol), format_cents(usd)])
        exact[symbol] = {"reserves_cents": cents, "supply": onchain, "difference": diff}
    return CheckResult(block, figures("Type 3: reserves vs issuer supply", block, [table], exact),
                       findings)
