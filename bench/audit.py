"""Audit trail bench: append rate with the hash chain, group-commit latency, verify time.

Goals (issue 11): >= 20,000 records/s batched; verify of 1,000,000 records < 5 s.
For each backend (SQLite WAL + synchronous=FULL; PostgreSQL fsync=on, synchronous_commit=on):
  * batched append: ``AuditTrail.append`` of --batch records per transaction (one fsync each);
  * group commit: --producers threads each submitting single records through the
    ``AuditWriter`` (the writer merges whatever is queued into one transaction); p50/p99 latency;
  * verify: the whole chain walked and rehashed (``verify_trail``) at --verify-records records.
Records look like API-call audits (~300 bytes). Usage:
  python bench/audit.py [--records N] [--verify-records N] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

from keeper.audit import AuditRecord, AuditTrail, head, verify_trail  # noqa: E402
from keeper.audit import upgrade as audit_upgrade  # noqa: E402


def _rec(i: int) -> AuditRecord:
    return AuditRecord(f"api:client-{i % 977}", "ledger.post",
                       {"transfer_id": f"t-{i}", "debit": 1 + i % 50, "credit": 2 + i % 41,
                        "amount": str(10**18 + i), "asset": "USDC", "reference": f"ref-{i}"},
                       {"status": "posted", "created": True})


def batched(trail: AuditTrail, n: int, batch: int, start: int = 0) -> float:
    """Records/s appending ``n`` records, ``batch`` per committed transaction."""
    recs = [_rec(start + i) for i in range(n)]
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, n, batch):
        trail.append(recs[i:i + batch])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  ({n:,} records: {dt:.2f} s wall, {cpu:.2f} s CPU of this process, "
          f"load average {os.getloadavg()[0]:.1f})")
    return n / dt


def grouped(trail: AuditTrail, n: int, producers: int, start: int) -> tuple[float, float, float]:
    """(records/s, p50 ms, p99 ms) of single-record submits from ``producers`` threads."""
    lat: list[float] = []
    lock = threading.Lock()
    per = n // producers

    def run(k: int) -> None:
        mine = []
        window = []
        for i in range(per):
            t = time.perf_counter()
            window.append((t, trail.submit(_rec(start + k * per + i))))
            if len(window) >= 256:  # a caller population: at most 256 in flight per producer
                for t0, f in window:
                    f.result()
                    mine.append(time.perf_counter() - t0)
                window = []
        for t0, f in window:
            f.result()
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=run, args=(k,)) for k in range(producers)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return len(lat) / dt, q[49] * 1000, q[98] * 1000


def fill(trail: AuditTrail, total: int) -> None:
    """Grow the chain to ``total`` records (batches of 20,000)."""
    with trail.engine.connect() as conn:
        have = head(conn).seq
    while have < total:
        k = min(20_000, total - have)
        trail.append([_rec(have + i) for i in range(k)])
        have += k


def settle(trail: AuditTrail) -> None:
    """Let the database finish the fill's background work before verify is timed: on
    PostgreSQL the VACUUM autovacuum runs on an insert-only table (sets hint bits and the
    visibility map; otherwise the first read of freshly written pages rewrites them all) and a
    CHECKPOINT (else the fill's 350 MB of WAL are flushed during the read); on SQLite a WAL
    checkpoint."""
    with trail.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if trail.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM (ANALYZE) audit_records")
            conn.exec_driver_sql("CHECKPOINT")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def run(name: str, url: str, args: argparse.Namespace) -> None:
    audit_upgrade(url)
    trail = AuditTrail(url)
    try:
        rate = batched(trail, args.records, args.batch)
        print(f"{name}: batched append ({args.batch}/txn, {args.records} records): "
              f"{rate:,.0f} records/s")
        rate1 = batched(trail, min(args.records, 2000), 1, start=args.records)
        print(f"{name}: one record per transaction (baseline): {rate1:,.0f} records/s")
        g, p50, p99 = grouped(trail, args.records, args.producers, start=2 * args.records)
        print(f"{name}: group commit ({args.producers} producers, single records): {g:,.0f} "
              f"records/s, latency p50 {p50:.1f} ms p99 {p99:.1f} ms "
              f"({trail._writer.batches if trail._writer else 0} commits)")  # noqa: SLF001
        target = args.verify_records if name == "sqlite" else args.pg_verify_records
        t0 = time.perf_counter()
        fill(trail, target)
        print(f"{name}: filled to {target:,} records in {time.perf_counter() - t0:.1f} s")
        settle(trail)
        t0, c0 = time.perf_counter(), time.process_time()
        report = verify_trail(trail.engine)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert report.ok, report.summary()
        print(f"{name}: verify of {report.records:,} records: {dt:.2f} s wall, {cpu:.2f} s CPU "
              f"of this process ({report.records / dt:,.0f} records/s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    finally:
        trail.close()


def main() -> None:
    """Run the bench on SQLite and (if the server binaries exist) PostgreSQL."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--producers", type=int, default=8)
    ap.add_argument("--verify-records", type=int, default=1_000_000)
    ap.add_argument("--pg-verify-records", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as d:
            run("sqlite", f"sqlite:///{d}/audit.db", args)
    if args.only != "sqlite":
        from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason

        reason = pg_unavailable_reason()
        if reason:
            print(f"postgresql: skipped ({reason})")
            return
        with PostgresCluster(fsync=True) as pg:
            run("postgresql", pg.create_database("audit_bench"), args)


if __name__ == "__main__":
    main()
