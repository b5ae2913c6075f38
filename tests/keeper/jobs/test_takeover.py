"""Two keeper processes started together on one database run each slot of a job once; the
scheduler holder SIGKILLed is replaced by the standby and still no slot runs twice (real
processes, on a SQLite file and on PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from keeper.jobs import recorded_runs
from keeper.ledger import make_engine

PROC = Path(__file__).with_name("keeper_proc.py")
EVERY, TTL = 0.4, 3.0



def _ticks(engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(s, p) for s, p in conn.execute(text("SELECT slot, pid FROM test_ticks"))]


def _wait(cond, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_two_keepers_run_each_slot_once_and_a_killed_holder_is_replaced(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_ticks (slot VARCHAR(64) NOT NULL, pid INTEGER)"))
    cmd = [sys.executable, str(PROC), db_url, str(EVERY), str(TTL)]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        _wait(lambda: len(_ticks(engine)) >= 8, "eight ticks")
        ticks = _ticks(engine)
        leader = max(ticks)[1]  # the process that ran the latest slot holds the lease
        victim = next(p for p in procs if p.pid == leader)
        os.kill(leader, signal.SIGKILL)
        victim.wait()
        killed_last = max(s for s, p in _ticks(engine) if p == leader)
        survivor = next(p for p in procs if p.pid != leader)
        _wait(lambda: sum(1 for s, p in _ticks(engine) if p == survivor.pid and s > killed_last)
              >= 5, "five ticks by the standby after the kill")
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    ticks = _ticks(engine)
    slots = Counter(s for s, _ in ticks)
    assert [s for s, n in slots.items() if n > 1] == []  # no slot ran twice
    assert {p for _, p in ticks} == {leader, survivor.pid}
    runs = recorded_runs(engine, "tick")
    assert len({r.slot for r in runs}) == len(runs)
    by_slot = {r.slot.isoformat(): r for r in runs}
    assert set(slots) <= set(by_slot)  # every executed slot was claimed first
    done = {s for s, r in by_slot.items() if r.status == "done"}
    assert done <= set(slots)  # every run recorded done really ran
    assert {r.status for r in runs} <= {"done", "missed", "abandoned"}
    tokens = {r.holder.split(":")[1]: r.token for r in runs}
    assert tokens[str(survivor.pid)] > tokens[str(leader)]  # the takeover was fenced
    engine.dispose()
