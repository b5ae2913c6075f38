"""A keeper process for the multi-process scheduler tests (run as a script, not collected).

    python keeper_proc.py DB_URL EVERY_SECONDS LEASE_TTL

Contends for the scheduler lease with :class:`keeper.jobs.JobScheduler` and, while leading,
runs one job, ``tick``, every EVERY_SECONDS: it appends (slot, pid) to ``test_ticks`` (a table
without a unique key, so a doubled slot would show). SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from sqlalchemy import text

from keeper.jobs import JobDef, JobRun, JobScheduler
from keeper.ledger import Ledger


def tick(run: JobRun) -> None:
    """The test job: record which process ran which slot."""
    with run.host.engine.begin() as conn:
        conn.execute(text("INSERT INTO test_ticks (slot, pid) VALUES (:slot, :pid)"),
                     {"slot": run.slot.isoformat(), "pid": os.getpid()})


def main() -> None:
    """Run until SIGTERM."""
    url, every, ttl = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    ledger = Ledger(url, group_commit=False)
    job = JobDef("tick", "__main__:tick", every=every, misfire_grace=30)
    sched = JobScheduler(ledger, [job], ledger, lease_ttl=ttl)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sched.start()
    stop.wait()
    sched.stop()
    ledger.close()


if __name__ == "__main__":
    main()
