"""Reconciliation bench: type 1 over 1,000,000 client accounts (goal < 2 s), SQLite and PostgreSQL.

Set-up (not timed): a migrated database gets N client accounts (USDC and ETH; ETH holdings of
0.1 to 99.7 ETH, so most are wider than 64 bits and stored as text on SQLite; a few hundred huge
ones) written straight into ``ledger_accounts`` in bulk, and omnibus accounts at two vault
locations whose balances equal what the upstream local mainnet (127.0.0.1:18545, when served)
holds there at its head, with the remainder booked to suspense, so the identity holds. Timed, best of 3:

* ``ledger_totals``: the one-snapshot aggregate read over every account;
* ``run_type1``: the whole run: totals, on-chain reads at the pinned block (JSON-RPC), valuing,
  storing the run and its breaks in one transaction.

Usage: python bench/recon.py [--clients N] [--no-pg]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

from web3 import Web3  # noqa: E402

from keeper.assets import USDC, ZERO_ADDRESS  # noqa: E402
from keeper.chain.reader import ChainReader  # noqa: E402
from keeper.config import Settings  # noqa: E402
from keeper.ledger import ledger_totals, make_engine  # noqa: E402
from keeper.ledger import upgrade as upgrade_ledger  # noqa: E402
from keeper.ledger.types import datetime_to_sqlite  # noqa: E402
from keeper.prices import StaticPrices  # noqa: E402
from keeper.recon import BreakBook, Reconciler  # noqa: E402
from keeper.recon.migrate import upgrade as upgrade_recon  # noqa: E402

VAULTS = {"USDC": "vault:0x" + "a1" * 20, "ETH": "vault:0x" + "b2" * 20}
WIDE = 300  # client accounts with huge amounts (10**24 base units)


def populate(url: str, clients: int, chain: dict[str, int]) -> None:
    """Write ``clients`` client accounts per the module doc, and matching omnibus accounts."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    held = {"USDC": 0, "ETH": 0}
    pg = engine.dialect.name == "postgresql"

    def amount(v: int) -> object:
        return v if pg or v < 2**63 else str(v)

    rows = []
    for i in range(clients):
        asset = "USDC" if i % 2 else "ETH"
        # ETH: 0.1 to 99.7 ETH, most above 2**63 wei (stored as text on SQLite); a few huge
        unit = 10**17 if asset == "ETH" else 10**6
        credits = (10**24 + i) if i < WIDE else (i % 997 + 1) * unit
        debits = i % 13
        held[asset] += credits - debits
        rows.append(("client", asset, f"client-{i}", f"1100-CUSTOMER-{asset}-WALLET", True,
                     amount(debits), amount(credits), 0, 0, now))
    for asset, loc in VAULTS.items():
        # the omnibus: what the chain holds there, plus a client-side remainder booked to
        # suspense so ledger == chain and the identity both hold (a clean, passing run)
        onchain = chain[asset]
        rows.append(("omnibus", asset, loc, f"2100-{asset}-OMNIBUS-WALLET", False,
                     amount(onchain), 0, 0, 0, now))
        gap = onchain - held[asset]
        rows.append(("suspense", asset, "", f"2900-{asset}-SUSPENSE", False,
                     amount(max(-gap, 0)), amount(max(gap, 0)), 0, 0, now))
    cols = ("kind, asset, owner, gl_code, no_overdraft, debits_posted, credits_posted, "
            "debits_pending, credits_pending, created_at")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if pg:
            with cur.copy(f"COPY ledger_accounts ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO ledger_accounts ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                            [(*r[:9], datetime_to_sqlite(r[9])) for r in rows])
        raw.commit()
    finally:
        raw.close()
        engine.dispose()


def chain_balances(reader: ChainReader | None, block: int | None) -> dict[str, int]:
    """What the two vault locations hold on the upstream chain (0 without one)."""
    if reader is None:
        return {"USDC": 0, "ETH": 0}
    tokens = {"USDC": USDC.address, "ETH": ZERO_ADDRESS}
    return {a: reader.balance(VAULTS[a].split(":")[1], tokens[a], block) for a in VAULTS}


def best(fn, times: int = 3) -> tuple[float, object]:
    """Best wall time of ``times`` calls, and the last result."""
    out, result = [], None
    for _ in range(times):
        t0 = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t0)
    return min(out), result


def bench(label: str, url: str, clients: int, reader: ChainReader | None) -> None:
    """Populate ``url`` and time the aggregate read and the whole run."""
    block = reader.head() if reader else None
    upgrade_ledger(url)
    upgrade_recon(url)
    t0 = time.perf_counter()
    populate(url, clients, chain_balances(reader, block))
    setup = time.perf_counter() - t0
    engine = make_engine(url)
    book = BreakBook(engine)
    rec = Reconciler(engine, book, StaticPrices({"ETH": 300_000}, datetime.now(UTC)))
    secs, totals = best(lambda: ledger_totals(engine))
    n = [0]

    def run() -> object:
        n[0] += 1
        return rec.run_type1(reader, run_key=f"bench-{n[0]}", block=block)

    run_secs, stored = best(run)
    t = totals.assets  # type: ignore[attr-defined]
    print(f"{label}: {clients:,} client accounts (set-up {setup:.1f} s)")
    print(f"  ledger_totals  best of 3: {secs:.3f} s  ({clients / secs:,.0f} accounts/s)")
    print(f"  run_type1      best of 3: {run_secs:.3f} s  status {stored.status}, "  # type: ignore[attr-defined]
          f"block {block}, breaks {len(book.breaks(stored.id))}")  # type: ignore[attr-defined]
    print(f"  USDC clients {t['USDC'].client_accounts:,} holding {t['USDC'].clients:,}; "
          f"ETH clients {t['ETH'].client_accounts:,} holding {t['ETH'].clients:,}")
    print(f"  goal < 2 s: {'met' if run_secs < 2 else 'NOT met'}")
    engine.dispose()


def main() -> None:
    """Run the bench (see module doc)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1_000_000)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    reader = ChainReader(Web3(Web3.HTTPProvider(Settings().upstream_url)))
    try:
        reader.head()
    except Exception as exc:  # noqa: BLE001 - the bench also runs without a chain
        print(f"no upstream chain ({exc.__class__.__name__}): EVM locations unread")
        reader = None
    with tempfile.TemporaryDirectory() as tmp:
        bench("SQLite (WAL, synchronous=FULL)", f"sqlite:///{tmp}/recon.db", args.clients, reader)
    if args.no_pg:
        return
    from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason

    reason = pg_unavailable_reason()
    if reason:
        print(f"PostgreSQL skipped: {reason}")
        return
    with PostgresCluster(fsync=True) as pg:
        bench("PostgreSQL 15 (fsync on)", pg.create_database("recon_bench"), args.clients, reader)


if __name__ == "__main__":
    main()
