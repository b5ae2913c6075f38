"""Scheduler bench: what the once-per-slot guarantee costs, and how long a takeover takes.

* ``slot overhead``: per run of a job that does nothing, the scheduler's own database work
  (lease renewal, claiming the (job, slot) record, recording the outcome), p50/p99 and runs/s,
  on SQLite (WAL file) and PostgreSQL (throwaway cluster, fsync on).
* ``takeover``: two real keeper processes on one database; ``--kills`` times the scheduler
  holder is SIGKILLed (and a replacement started); time until a standby has run its first
  slot, p50 and max, for a lease of ``--ttl`` seconds (the bound is ttl + ttl/3 + one
  interval). The keeper's follower holds its cursor under a lease of the same length
  (``keeper.jobs.runner``), so following resumes within the same bound.

Usage: python bench/jobs.py [--runs N] [--ttl S] [--kills K] [--no-pg]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

from sqlalchemy import text  # noqa: E402

from keeper.jobs import JobDef, JobScheduler  # noqa: E402
from keeper.ledger import Ledger, make_engine  # noqa: E402
from keeper.schema import upgrade_all  # noqa: E402

PROC = ROOT / "tests/keeper/jobs/keeper_proc.py"


def nothing(run: object) -> None:
    """The benched job: no work of its own."""


def slot_overhead(url: str, n: int) -> None:
    """Time ``execute`` of ``n`` distinct slots of a no-op job while leading."""
    ledger = Ledger(url, group_commit=False)
    job = JobDef("bench", "__main__:nothing", every=86400)
    sched = JobScheduler(ledger, [job], ledger, holder="bench", lease_ttl=600)
    assert sched.step()
    base = datetime.now(UTC).replace(microsecond=0)
    times = []
    for i in range(n):
        t = time.perf_counter()
        sched.execute("bench", 10**9, [base - timedelta(seconds=i)])
        times.append(time.perf_counter() - t)
    sched.stop()
    ledger.close()
    times.sort()
    print(f"  slot overhead: {n / sum(times):,.0f} runs/s, p50 {statistics.median(times) * 1e3:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms")


def takeover(url: str, ttl: float, kills: int = 5, every: float = 0.2) -> None:
    """Two keeper processes; ``kills`` times: SIGKILL the holder, time until the standby runs
    a slot, start a replacement standby. Prints p50/max of the takeover times."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_ticks (slot VARCHAR(64) NOT NULL, pid INTEGER)"))

    def ticks() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT slot, pid FROM test_ticks"))]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(PROC), url, str(every), str(ttl)])

    procs = [start(), start()]
    took: list[float] = []
    try:
        while len(ticks()) < 5:
            time.sleep(0.02)
        for _ in range(kills):
            leader = max(ticks())[1]
            victim = next(p for p in procs if p.pid == leader)
            victim.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            victim.wait()
            procs.remove(victim)
            others = {p.pid for p in procs}
            while not any(p in others for _, p in ticks()[-3:]):
                time.sleep(0.02)
            took.append(time.monotonic() - killed)
            procs.append(start())
            time.sleep(1.5)  # the replacement imports and stands by
        doubled = len(ticks()) - len({s for s, _ in ticks()})
        took.sort()
        print(f"  takeover after SIGKILL (lease {ttl:g} s, {kills} kills): p50 "
              f"{statistics.median(took):.2f} s, max {took[-1]:.2f} s (bound ttl + ttl/3 + "
              f"one interval = {ttl + ttl / 3 + every:.2f} s); doubled slots: {doubled}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            p.wait()
        engine.dispose()


def main() -> None:
    """Run the benches on SQLite and (unless --no-pg) PostgreSQL."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--ttl", type=float, default=3.0)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("overhead", "takeover"):
            url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
            upgrade_all(url)
            if name == "overhead":
                print("SQLite (WAL, synchronous=FULL)")
                slot_overhead(url, args.runs)
            else:
                takeover(url, args.ttl, args.kills)
    if args.no_pg:
        return
    from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason

    reason = pg_unavailable_reason()
    if reason:
        print(f"PostgreSQL skipped: {reason}")
        return
    with PostgresCluster() as pg:
        print("PostgreSQL 15 (fsync on)")
        for name in ("overhead", "takeover"):
            url = pg.create_database(f"jobs_{name}")
            upgrade_all(url)
            if name == "overhead":
                slot_overhead(url, args.runs)
            else:
                takeover(url, args.ttl, args.kills)


if __name__ == "__main__":
    main()
