"""Type 1 reconciliation: the sub-ledger's omnibus balances vs what the chains hold.

Per asset and omnibus location (``vault:0x...``, ``tier1:0x...`` warm, ``tier2:0x...`` cold,
``btc:<wallet>``):

* EVM locations: ETH by ``eth_getBalance``, ERC-20s by ``balanceOf``, every read at ONE pinned
  block: by default the block the chain follower's cursor had reached when the ledger figures were
  read (same snapshot, :func:`keeper.ledger.reports.ledger_totals`), so events the follower has
  not yet credited cannot appear as breaks;
* BTC locations: the wallet's UTXO view (sum of its unspent outputs, locked ones included: they
  are ours until their spend is mined);
* a location the ledger holds funds at but that cannot be read (malformed address, unknown
  wallet) is a critical finding: its money cannot be proven to exist.

And per asset the internal identity: client holdings + suspense + fees == sum of the omnibus
balances. Every difference is ``book - chain`` in base units, valued in US cents through the
price feed (:mod:`keeper.prices`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eth_utils import is_hex_address

from keeper.assets import ASSETS, BTC, by_symbol
from keeper.btc.chain import Utxo
from keeper.chain import tier_location, vault_location
from keeper.chain.reader import TIERS
from keeper.ledger import LedgerTotals
from keeper.prices import PriceError, PriceFeed, value_cents
from keeper.recon.breaks import Finding
from keeper.recon.figures import Table, figures, format_cents, format_units

EVM_PREFIXES = (vault_location(""), *(tier_location(n, "") for n in TIERS))
BTC_PREFIX = "btc:"


class BalanceReader(Protocol):
    """On-chain balances at a block (:class:`keeper.chain.reader.ChainReader` is one)."""

    def balance(self, holder: str, token: str, block: int) -> int:
        """``holder``'s balance of ``token`` (zero address: ETH) at ``block``."""
        ...

    def head(self) -> int:
        """Latest block number."""
        ...


class UtxoView(Protocol):
    """A wallet's unspent outputs (:class:`keeper.btc.MultisigWallet` is one)."""

    def utxos(self) -> list[Utxo]:
        """Every unspent output of the wallet."""
        ...


@dataclass(frozen=True)
class Type1Result:
    """Figures and findings of one type 1 run."""

    block: int | None
    figures: dict[str, Any]
    findings: list[Finding]


def pinned_block(totals: LedgerTotals, reader: BalanceReader, block: int | None,
                 cursor: str | None) -> int:
    """The block to read the chain at: explicit, else the follower ``cursor``'s, else the head."""
    if block is not None:
        return block
    if cursor is not None and cursor in totals.cursors:
        return totals.cursors[cursor]
    return reader.head()


def _evm_holder(location: str) -> str | None:
    for prefix in EVM_PREFIXES:
        if location.startswith(prefix):
            addr = location[len(prefix):]
            return addr if is_hex_address(addr) else None
    return None


class _Valuer:
    """Values differences through the feed, remembering prices used and refusals."""

    def __init__(self, feed: PriceFeed, now: datetime | None) -> None:
        self.feed, self.now, self.used = feed, now, {}

    def __call__(self, asset: str, units: int) -> tuple[int | None, str]:
        try:
            cents = value_cents(self.feed, asset, units, self.now)
        except PriceError as exc:
            return None, f"; not valued: {exc}"
        self.used[asset] = str(self.feed.price(asset, self.now).cents)
        return cents, ""


def reconcile_type1(
    totals: LedgerTotals,
    reader: BalanceReader | None,
    block: int | None,
    feed: PriceFeed,
    *,
    btc_wallets: Mapping[str, UtxoView] | None = None,
    locations: Iterable[str] = (),
    now: datetime | None = None,
) -> Type1Result:
    """Compare ``totals`` (read by :func:`~keeper.ledger.reports.ledger_totals`) with the chains.

    ``block`` is the pinned block (see :func:`pinned_block`; None only when nothing on an EVM
    chain is checked). ``locations`` adds configured locations (e.g. the cold multisig) checked
    for every asset of their chain even when the ledger has no account there; ``btc_wallets``
    maps wallet names to their UTXO views (locations ``btc:<name>``).
    """
    btc_wallets = dict(btc_wallets or {})
    value = _Valuer(feed, now)
    findings: list[Finding] = []
    tables: list[Table] = []
    exact: dict[str, Any] = {}
    extra = set(locations) | {BTC_PREFIX + n for n in btc_wallets}
    chain_cache: dict[str, int] = {}
    for symbol in sorted(ASSETS):
        asset = by_symbol(symbol)
        t = totals.assets.get(symbol)
        book = dict(t.omnibus) if t else {}
        for loc in extra:
            if (loc.startswith(BTC_PREFIX)) == (asset is BTC):
                book.setdefault(loc, 0)
        if not book and t is None:
            continue
        table = Table(f"{symbol}: omnibus balances vs chain",
                      ["location", "ledger", "chain", "difference", "USD"])
        rows: dict[str, Any] = {}
        for loc in sorted(book):
            held = book[loc]
            chain, why = _chain_balance(loc, asset.symbol, asset.address, reader, block,
                                        btc_wallets, chain_cache)
            if chain is None:
                if held == 0:
                    continue
                cents, note = value(symbol, held)
                findings.append(Finding("unverifiable", f"{symbol} {loc}", symbol, held, cents,
                                        f"ledger holds {format_units(held, symbol)} at {loc}, "
                                        f"which cannot be read: {why}{note}", critical=True))
                table.rows.append([loc, format_units(held, symbol), "unreadable", "", ""])
                rows[loc] = {"ledger": held, "chain": None}
                continue
            diff = held - chain
            cents, note = value(symbol, diff) if diff else (0, "")
            if diff:
                findings.append(Finding(
                    "omnibus", f"{symbol} {loc}", symbol, diff, cents,
                    f"ledger {format_units(held, symbol)} vs chain {format_units(chain, symbol)} "
                    f"at {loc}" + (f" (block {block})" if asset is not BTC else "") + note))
            table.rows.append([loc, format_units(held, symbol), format_units(chain, symbol),
                               format_units(diff, symbol), format_cents(cents)])
            rows[loc] = {"ledger": held, "chain": chain, "difference": diff}
        tables.append(table)
        if t is not None:
            ident = t.omnibus_total - t.liabilities
            cents, note = value(symbol, ident) if ident else (0, "")
            if ident:
                findings.append(Finding(
                    "identity", symbol, symbol, ident, cents,
                    f"omnibus total {format_units(t.omnibus_total, symbol)} != client holdings "
                    f"+ suspense + fees {format_units(t.liabilities, symbol)}" + note))
            tables.append(Table(f"{symbol}: internal identity", ["figure", "amount"], [
                [f"client holdings ({t.client_accounts:,} accounts)", format_units(t.clients, symbol)],
                ["suspense", format_units(t.suspense, symbol)],
                ["fees", format_units(t.fees, symbol)],
                ["omnibus total", format_units(t.omnibus_total, symbol)],
                ["difference", format_units(ident, symbol)],
            ]))
            exact[symbol] = {"locations": rows, "clients": t.clients,
                             "client_accounts": t.client_accounts, "suspense": t.suspense,
                             "fees": t.fees, "omnibus_total": t.omnibus_total,
                             "identity_difference": ident}
        else:
            exact[symbol] = {"locations": rows}
    exact["prices_cents"] = value.used
    return Type1Result(block, figures("Type 1: sub-ledger vs blockchain", block, tables, exact),
                       findings)


def _chain_balance(loc: str, symbol: str, token: str | None, reader: BalanceReader | None,
                   block: int | None, wallets: Mapping[str, UtxoView],
                   cache: dict[str, int]) -> tuple[int | None, str]:
    """(balance, "") or (None, why it cannot be read)."""
    key = f"{symbol}|{loc}"
    if key in cache:
        return cache[key], ""
    if symbol == BTC.symbol:
        wallet = wallets.get(loc[len(BTC_PREFIX):]) if loc.startswith(BTC_PREFIX) else None
        if wallet is None:
            return None, "no such BTC wallet"
        cache[key] = sum(u.value for u in wallet.utxos())
        return cache[key], ""
    holder = _evm_holder(loc)
    if holder is None:
        return None, "not an EVM location (vault:/tier1:/tier2: + address)"
    if reader is None or block is None or token is None:
        return None, "no chain reader"
    cache[key] = reader.balance(holder, token, block)
    return cache[key], ""
