"""Ledger throughput bench: durable postings/s and p50/p99 latency, SQLite and PostgreSQL.

For each backend:
  * open loop: a producer submits single-posting requests at a fixed rate (default 12,000/s, i.e.
    above the 10,000/s target) for a fixed duration; latency = commit acknowledged - scheduled
    submit time (queueing included). 80% deposits omnibus -> client (one hot omnibus account on
    every posting), 20% client -> client moves between pre-funded clients.
  * saturation: as fast as the writer drains a pre-filled queue (peak postings/s).
  * baseline: the naive design, one transaction + commit per posting, same workload.
  * hot path: CPU cost of ``apply_requests`` per posting (batches of 4,096 applied and rolled back:
    no commit, no fsync), the figure to compare before/after a change to the engine on a shared
    machine where fsync-bound rates are noisy (``--hot-path`` runs only this, in a few seconds).
Latency figures are per posting: (commit acknowledged) - (scheduled submit time).
CPU per posting during the open loop: the bench process (producer + writer thread) and, for
PostgreSQL, the server (every process of the bench's cluster: backends, WAL writer, autovacuum).
SQLite runs WAL + synchronous=FULL (fsync per commit); PostgreSQL a fresh cluster with fsync=on,
synchronous_commit=on (defaults). The last lines print both backends side by side.
Usage: python bench/ledger.py [--rate N] [--seconds S] [--only sqlite|postgresql] [--hot-path]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from array import array
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

from keeper.ledger import Ledger, TransferSpec, upgrade  # noqa: E402
from keeper.ledger.batcher import Ticket  # noqa: E402
from keeper.ledger.db import NO_AUTOCHECKPOINT  # noqa: E402
from keeper.ledger.engine import Request, apply_requests  # noqa: E402

CLIENTS = 1000


def _accounts(lg: Ledger) -> tuple[int, list[int]]:
    om = lg.omnibus_account("USDC", "vault")
    clients = [lg.client_account(f"c{i}", "USDC") for i in range(CLIENTS)]
    futs = [lg.submit(TransferSpec(f"fund-{c}", om, c, 10**12)) for c in clients]
    for f in futs:
        f.result()
    return om, clients


def _spec(i: int, prefix: str, om: int, clients: list[int], rnd: random.Random) -> TransferSpec:
    if rnd.random() < 0.8:
        return TransferSpec(f"{prefix}{i}", om, rnd.choice(clients), rnd.randint(1, 10**9))
    a, b = rnd.sample(clients, 2)
    return TransferSpec(f"{prefix}{i}", a, b, rnd.randint(1, 1000))


def open_loop(lg: Ledger, om: int, clients: list[int], rate: int, seconds: float) -> dict:
    """Submit at ``rate``/s for ``seconds``; return throughput and latency figures.

    Behaves like a population of callers: each posting is built when it is due, and its ticket is
    dropped once committed (its latency recorded as a float). Holding every ticket and spec of the
    run alive instead (240k objects) makes CPython's full garbage collections, not the ledger,
    dominate the tail latency (100-250 ms pauses measured).
    """
    rnd = random.Random(1)
    n = int(rate * seconds)
    lat = array("d")
    pending: deque[tuple[Ticket, float]] = deque()
    errors = 0
    start = time.perf_counter()
    tick = 0.001
    per_tick = max(1, int(rate * tick))
    i = 0
    while i < n:
        sched = start + (i / rate)
        now = time.perf_counter()
        if sched > now:
            time.sleep(sched - now)
        for k in range(i, min(n, i + per_tick)):
            pending.append((lg.submit(_spec(k, "o", om, clients, rnd)), sched))
        i += per_tick
        while pending and pending[0][0].done():
            t, at = pending.popleft()
            errors += t.exception() is not None
            lat.append(t.completed_at - at)  # commit acknowledged - scheduled submit time
    end = 0.0
    for t, at in pending:
        errors += t.exception() is not None
        lat.append(t.completed_at - at)
        end = max(end, t.completed_at)
    end = end or time.perf_counter()
    lat = sorted(lat)
    return {
        "postings": n, "errors": errors, "per_s": n / (end - start),
        "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(0.99 * len(lat)) - 1],
        "max_ms": 1000 * lat[-1],
    }


def _server_ticks(pg: object | None) -> int:
    """CPU clock ticks used so far by the cluster ``pg`` (its postmaster, the children it reaped
    and the live ones): 0 without a cluster (SQLite runs in the bench process)."""
    if pg is None:
        return 0
    root = int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])  # type: ignore[attr-defined]
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
        except OSError:  # exited meanwhile
            continue
        f = rest.rsplit(")", 1)[1].split()
        if int(pid) == root:
            total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
        elif int(f[1]) == root:
            total += int(f[11]) + int(f[12])
    return total


def saturate(lg: Ledger, om: int, clients: list[int], n: int) -> float:
    """Peak postings/s: ``n`` requests queued at once."""
    rnd = random.Random(2)
    specs = [_spec(i, "s", om, clients, rnd) for i in range(n)]
    t = time.perf_counter()
    futs = [lg.submit(s) for s in specs]
    for f in futs:
        f.result()
    return n / (time.perf_counter() - t)


def baseline(url: str, om: int, clients: list[int], seconds: float) -> float:
    """The naive design: one transaction and one commit per posting, for ``seconds``."""
    rnd = random.Random(3)
    lg = Ledger(url, group_commit=False)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        lg.post(_spec(n, "b", om, clients, rnd))
        n += 1
    rate = n / (time.perf_counter() - t)
    lg.close()
    return rate


def hot_path(lg: Ledger, om: int, clients: list[int], rounds: int = 15, size: int = 4096) -> float:
    """Fastest of ``rounds`` batches: microseconds of ``apply_requests`` per posting (rolled back)."""
    rnd = random.Random(4)
    best = float("inf")
    for r in range(rounds):
        reqs = [Request([_spec(i, f"hp{r}-", om, clients, rnd)]) for i in range(size)]
        with lg.engine.connect().execution_options(**NO_AUTOCHECKPOINT) as conn:
            tx = conn.begin()
            t = time.perf_counter()
            apply_requests(conn, reqs)
            best = min(best, time.perf_counter() - t)
            tx.rollback()
        assert all(q.error is None for q in reqs)
    return 1e6 * best / size


def run(name: str, url: str, rate: int, seconds: float, max_batch: int, freeze: bool = True,
        hot_only: bool = False, pg: object | None = None) -> dict | None:
    """Bench one backend, print its figures and return them (None with ``hot_only``)."""
    upgrade(url)
    lg = Ledger(url, max_batch=max_batch)
    om, clients = _accounts(lg)
    hot = hot_path(lg, om, clients)
    print(f"{name:10s} hot path: apply_requests {hot:.2f} us/posting (CPU only, no commit)")
    if hot_only:
        lg.close()
        return None
    gc_pauses: list[float] = []
    gc_start = [0.0]

    def gc_probe(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        elif info["generation"] == 2:
            gc_pauses.append(time.perf_counter() - gc_start[0])

    gc.callbacks.append(gc_probe)
    if freeze:  # what a long-running service does after start-up (see keeper.ledger docs)
        gc.freeze()
    cpu0, srv0 = time.process_time(), _server_ticks(pg)
    ol = open_loop(lg, om, clients, rate, seconds)
    client_us = 1e6 * (time.process_time() - cpu0) / ol["postings"]
    server_us = 1e6 * (_server_ticks(pg) - srv0) / os.sysconf("SC_CLK_TCK") / ol["postings"]
    gc.callbacks.remove(gc_probe)
    ckpt = lg._committer.checkpointer if lg._committer else None  # noqa: SLF001
    peak = saturate(lg, om, clients, 50_000)
    batches = lg._committer.batches if lg._committer else 0  # noqa: SLF001
    problems = lg.verify_invariants()
    lg.close()
    base = baseline(url, om, clients, 5.0)
    print(
        f"{name:10s} open-loop {rate}/s x {seconds:.0f}s: sustained {ol['per_s']:,.0f} postings/s, "
        f"p50 {ol['p50_ms']:.1f} ms, p99 {ol['p99_ms']:.1f} ms, max {ol['max_ms']:.1f} ms, "
        f"errors {ol['errors']}"
    )
    print(f"{name:10s} open-loop CPU per posting: bench process {client_us:.1f} us (producer and "
          f"writer)" + (f", database server {server_us:.1f} us" if pg is not None else ""))
    print(f"{name:10s} open-loop: {len(gc_pauses)} full GCs, longest "
          f"{1000 * max(gc_pauses, default=0):.0f} ms"
          + (f"; {ckpt.runs} background checkpoints, {ckpt.restarts} WAL restarts, "
             f"WAL peak {ckpt.max_wal_frames} pages"
             if ckpt else ""))
    print(f"{name:10s} saturation: {peak:,.0f} postings/s ({batches} group commits in total)")
    print(f"{name:10s} baseline one-commit-per-posting: {base:,.0f} postings/s -> "
          f"group commit x{ol['per_s'] / base:.1f} sustained, x{peak / base:.1f} peak")
    print(f"{name:10s} invariants: {'OK' if not problems else problems[:3]}")
    return {"name": name, "offered": rate, **ol, "peak": peak, "base": base,
            "client_us": client_us, "server_us": server_us if pg is not None else None,
            "ok": not problems}


def table(rows: list[dict]) -> None:
    """Both backends side by side: the open loop, saturation and the one-commit baseline."""
    print()
    print(f"{'backend':10s} {'offered/s':>9s} {'achieved/s':>10s} {'p50 ms':>7s} {'p99 ms':>7s} "
          f"{'max ms':>7s} {'saturation/s':>12s} {'baseline/s':>10s} {'x base':>6s} "
          f"{'cpu us':>10s}")
    for r in rows:
        cpu = f"{r['client_us']:.0f}" + (f"+{r['server_us']:.0f}" if r["server_us"] is not None
                                         else "")
        print(f"{r['name']:10s} {r['offered']:9,d} {r['per_s']:10,.0f} {r['p50_ms']:7.1f} "
              f"{r['p99_ms']:7.1f} {r['max_ms']:7.1f} {r['peak']:12,.0f} {r['base']:10,.0f} "
              f"{r['per_s'] / r['base']:6.1f} {cpu:>10s}")
    print("(x base: sustained rate over the one-commit-per-posting baseline of the same run; "
          "cpu us: per posting, bench process + database server)")


def main() -> None:
    """Run the SQLite and PostgreSQL benches."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=12_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--max-batch", type=int, default=4096)
    ap.add_argument("--no-gc-freeze", action="store_true",
                    help="leave start-up objects in the collected heap (full GCs scan them)")
    ap.add_argument("--hot-path", action="store_true",
                    help="only the CPU cost of the engine per posting (seconds, light)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "sqlite"):
            rows.append(run("sqlite", f"sqlite:///{tmp}/bench.db", args.rate, args.seconds,
                            args.max_batch, not args.no_gc_freeze, args.hot_path))
    if args.only in (None, "postgresql"):
        from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason

        reason = pg_unavailable_reason()
        if reason:
            print(f"postgresql skipped: {reason}")
        else:
            with PostgresCluster(fsync=True) as pg:
                rows.append(run("postgresql", pg.create_database("bench"), args.rate,
                                args.seconds, args.max_batch, not args.no_gc_freeze,
                                args.hot_path, pg))
    if not args.hot_path:
        table([r for r in rows if r is not None])


if __name__ == "__main__":
    main()
