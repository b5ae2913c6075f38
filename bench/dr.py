"""Disaster-recovery bench: the failover drill (synchronous and asynchronous replication), a
restore from base backup + archived WAL, and the SQLite online backup's RPO.

Prints one table of RPO (acknowledged postings lost, and the seconds of writes they span) and
RTO (kill -> first posting / first API read on the recovered database), the commit latency
with and without a synchronous standby, and what a real multi-region deployment changes.
Figures on a shared 2-core machine are pessimistic for RTO (process start-up is CPU-bound).

Run: ``.venv/bin/python bench/dr.py [--seconds 10] [--sqlite-interval 5]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keeper.ledger import Ledger, TransferSpec, upgrade  # noqa: E402
from scripts.dr import sqlite_backup  # noqa: E402
from scripts.dr.drill import Outcome, missing_acks, run_drill, table  # noqa: E402


def sqlite_rpo(folder: Path, interval_s: float, prefill: int, rate: float) -> tuple[Outcome, float, float]:
    """Post ``rate``/s into a SQLite ledger (``prefill`` postings first) while a snapshot is
    taken every ``interval_s``; at a random moment 2-3 intervals in, the disk is "lost": count
    the acknowledged postings the newest completed snapshot lacks, then restore it into a new
    folder and post (RTO, from the start of the restore). Returns (outcome, mean copy seconds,
    database MB)."""
    data = folder / "data"
    (data / "run").mkdir(parents=True)
    url = f"sqlite:///{data / 'run' / 'strongroom.db'}"
    upgrade(url)
    acks: dict[str, float] = {}
    with Ledger(url, group_commit=True) as ledger:
        debit, credit = ledger.omnibus_account("USDC", "vault:b"), ledger.client_account("c", "USDC")
        for start in range(0, prefill, 1000):
            ledger.post_all([TransferSpec(f"p-{i}", debit, credit, 1)
                             for i in range(start, min(prefill, start + 1000))])
        stop = threading.Event()

        def writer() -> None:
            i, period = 0, 1 / rate
            while not stop.is_set():
                i += 1
                ledger.post(TransferSpec(f"w-{i}", debit, credit, 1))
                acks[f"w-{i}"] = time.monotonic()
                time.sleep(period)

        done: list[tuple[float, sqlite_backup.Snapshot]] = []

        def backups() -> None:
            while not stop.is_set():
                snap = sqlite_backup.backup(data, folder / "backups")
                done.append((time.monotonic(), snap))
                stop.wait(interval_s)

        threads = [threading.Thread(target=writer), threading.Thread(target=backups)]
        for t in threads:
            t.start()
        time.sleep(interval_s * random.uniform(2.0, 3.0))
        lost_at = time.monotonic()
        stop.set()
        for t in threads:
            t.join()
    acked = {t: at for t, at in acks.items() if at <= lost_at}
    last = [snap for end, snap in done if end <= lost_at][-1]
    lost = [acked[t] for t in missing_acks(f"sqlite:///{last.folder / 'run' / 'strongroom.db'}", acked)]
    restore_started = time.monotonic()  # RTO: copy the snapshot back, post again
    sqlite_backup.restore(folder / "restored", last)
    with Ledger(f"sqlite:///{folder / 'restored' / 'run' / 'strongroom.db'}",
                group_commit=False) as ledger:
        ledger.post(TransferSpec("after-restore", debit, credit, 1))
    outcome = Outcome(f"sqlite backup /{interval_s:g}s", len(acked), len(lost),
                      round(lost_at - min(lost), 3) if lost else 0.0,
                      time.monotonic() - restore_started, None, after=1, reads=False)
    size_mb = (data / "run" / "strongroom.db").stat().st_size / 1e6
    return outcome, sum(s.seconds for _, s in done) / len(done), size_mb


def worst_rto(rows: list[Outcome]) -> str:
    """The longest failover RTO of ``rows`` ("never" when a recovery never served)."""
    times = [x for r in rows for x in (r.rto_posting_s, r.rto_read_s)]
    return "never" if None in times else f"{max(t for t in times if t is not None):.1f}s"


def main() -> int:
    """Run the drills and the SQLite measurement; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load before each kill")
    parser.add_argument("--rate", type=float, default=200.0, help="postings/s offered")
    parser.add_argument("--archive-timeout", type=int, default=10)
    parser.add_argument("--sqlite-interval", type=float, default=5.0)
    parser.add_argument("--sqlite-prefill", type=int, default=50_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-dr-"))
    os.chmod(work, 0o755)  # the postgres OS user reaches the clusters inside
    try:
        sync, = run_drill("sync", work / "sync", seconds=args.seconds, rate=args.rate)
        asyn, restored = run_drill("async", work / "async", seconds=args.seconds, rate=args.rate,
                                   pitr=True, archive_timeout_s=args.archive_timeout)
        lite, copy_s, size_mb = sqlite_rpo(work / "sqlite", args.sqlite_interval,
                                           args.sqlite_prefill, args.rate)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"DR drill: {args.rate:g} postings/s offered for {args.seconds:g}s, then the primary "
          "site (PostgreSQL, writer, API) SIGKILLed")
    print(table([sync, asyn, restored, lite]))
    print(f"\nrestore: base backup + WAL archived by the primary (archive_timeout "
          f"{args.archive_timeout}s); RTO counted from the start of the restore")
    print(f"sqlite: snapshot every {args.sqlite_interval:g}s of a {size_mb:.1f} MB database, one "
          f"copy {copy_s * 1000:.0f} ms: worst-case RPO = interval + copy = "
          f"{args.sqlite_interval + copy_s:.2f}s")
    if sync.p50_ms and asyn.p50_ms and sync.p99_ms and asyn.p99_ms:
        extra = sync.p50_ms - asyn.p50_ms
        print(f"\ncommit latency (group commit, {args.rate:g}/s): async p50 {asyn.p50_ms:.2f} ms "
              f"p99 {asyn.p99_ms:.2f} ms; sync p50 {sync.p50_ms:.2f} ms p99 {sync.p99_ms:.2f} ms "
              f"(x{sync.p50_ms / asyn.p50_ms:.2f} p50; +{extra:.2f} ms for the standby on loopback)")
        for rtt in (1, 10, 30, 80):
            print(f"  standby {rtt:>2} ms RTT away: sync commit p50 ~ {sync.p50_ms + rtt:.1f} ms "
                  f"(every acknowledged posting waits one round trip + the standby's flush)")
    print(f"\ngoals: sync RPO 0 -> {'met' if sync.missing == 0 else 'MISSED'}; async RPO <= 300s "
          f"-> {'met' if asyn.rpo_s <= 300 else 'MISSED'}; RTO <= 1 h (aim < 1 min) -> "
          f"worst failover {worst_rto([sync, asyn])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
