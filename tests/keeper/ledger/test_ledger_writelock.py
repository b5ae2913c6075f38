"""The SQLite writer queue (keeper.ledger.writelock): every way a write transaction ends lets
the next writer in, writers of two processes still never lose an update, and a queue held by
a stuck process fails a writer within its busy timeout exactly as SQLite's own lock did.

Nothing here measures time: the queue's gain (no sleeping in SQLite's busy handler) is a figure
of ``bench/flows.py --workers 2``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from keeper.ledger import make_engine
from keeper.ledger.db import WRITE, is_unavailable
from keeper.ledger.writelock import WriterLock, writer_lock

pytestmark = pytest.mark.sqlite_only("SQLite's write lock and its queue")
QUICK = {**WRITE, "ledger_busy_ms": 200}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Engine, WriterLock]]:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE n (v INTEGER)"))
        conn.execute(text("INSERT INTO n VALUES (0)"))
    lock = writer_lock(str(path))
    assert lock is not None
    yield engine, lock
    engine.dispose()


def free_for_another_thread(lock: WriterLock) -> bool:
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(lock.acquire(0)))
    t.start()
    t.join()
    if got[0]:
        lock.release()
    return got[0]


def bump(engine: Engine, options: dict[str, object] = WRITE) -> None:
    with engine.connect().execution_options(**options) as conn, conn.begin():
        conn.execute(text("UPDATE n SET v = v + 1"))


def test_each_way_a_write_transaction_ends_lets_the_next_writer_in(
        db: tuple[Engine, WriterLock]) -> None:
    engine, lock = db
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(text("UPDATE n SET v = v + 1"))
        assert lock.held_by_me() and not free_for_another_thread(lock)
    assert free_for_another_thread(lock)  # committed

    with pytest.raises(ZeroDivisionError):
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(text("UPDATE n SET v = v + 100"))
            raise ZeroDivisionError
    assert free_for_another_thread(lock)  # rolled back

    conn = engine.connect().execution_options(**WRITE)
    conn.begin()
    conn.execute(text("UPDATE n SET v = v + 100"))
    conn.invalidate()  # the DB-API connection is closed under an open transaction
    conn.close()
    assert free_for_another_thread(lock)

    with pytest.raises(OperationalError):  # a failing statement, then the block's rollback
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(text("INSERT INTO missing VALUES (1)"))
    assert free_for_another_thread(lock)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM n")).scalar() == 1


@contextmanager
def other_process_holding(db_path: Path, queue_path: str | None = None) -> Iterator[None]:
    """Another process holds SQLite's write lock (and the writer queue too, given its file)
    until the block exits; it then exits, and the kernel drops its locks."""
    take_queue = ("import fcntl, os\n"
                  f"fcntl.flock(os.open({queue_path!r}, os.O_RDWR | os.O_CREAT), fcntl.LOCK_EX)\n"
                  if queue_path else "")
    holder = subprocess.Popen(
        [sys.executable, "-c", take_queue + "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE'); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("")


def test_a_writer_that_cannot_begin_lets_go_of_the_queue(db: tuple[Engine, WriterLock],
                                                        tmp_path: Path) -> None:
    engine, lock = db
    with other_process_holding(tmp_path / "w.db"):  # a writer that never queues
        with pytest.raises(OperationalError) as failed:
            bump(engine, QUICK)
        assert is_unavailable(failed.value)
        assert free_for_another_thread(lock)
    bump(engine, QUICK)  # the other writer is gone: the next one goes through


def test_a_queue_held_by_a_stuck_process_fails_a_writer_as_sqlite_would(
        db: tuple[Engine, WriterLock], tmp_path: Path) -> None:
    engine, lock = db
    with other_process_holding(tmp_path / "w.db", lock.path):  # the queue too, then hangs
        with pytest.raises(OperationalError) as failed:
            bump(engine, QUICK)
        assert is_unavailable(failed.value)  # the same retryable failure as before the queue
        assert not lock.held_by_me()
        with engine.connect() as conn:  # the failed writer changed nothing; readers still read
            assert conn.execute(text("SELECT v FROM n")).scalar() == 0
    bump(engine, QUICK)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM n")).scalar() == 1


def test_only_sqlite_decides_for_a_writer_that_holds_the_queue_but_not_the_lock(
        db: tuple[Engine, WriterLock]) -> None:
    engine, lock = db
    # a thread writing on a second connection while it holds the queue through a first one
    # goes straight to SQLite (no waiting for itself in the queue): SQLite answers it
    with engine.connect().execution_options(**WRITE) as first, first.begin():
        first.execute(text("UPDATE n SET v = v + 1"))
        with pytest.raises(OperationalError) as failed:
            bump(engine, QUICK)
        assert is_unavailable(failed.value)
        assert lock.held_by_me()  # still the first connection's
    assert free_for_another_thread(lock)


def test_two_processes_of_writers_lose_no_update(db: tuple[Engine, WriterLock],
                                                 tmp_path: Path) -> None:
    engine, _ = db
    url = f"sqlite:///{tmp_path / 'w.db'}"
    script = ("import sys; sys.path.insert(0, '.')\n"
              "from sqlalchemy import text\n"
              "from keeper.ledger import make_engine\n"
              "from keeper.ledger.db import WRITE\n"
              f"e = make_engine({url!r})\n"
              "for _ in range(200):\n"
              "    with e.connect().execution_options(**WRITE) as c, c.begin():\n"
              "        v = c.execute(text('SELECT v FROM n')).scalar()\n"
              "        c.execute(text('UPDATE n SET v = :v'), {'v': v + 1})\n")
    root = Path(__file__).resolve().parents[3]
    others = [subprocess.Popen([sys.executable, "-c", script], cwd=root) for _ in range(2)]
    threads = [threading.Thread(target=lambda: [bump(engine) for _ in range(100)])
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(120) for p in others] == [0, 0]
    with engine.connect() as conn:  # read-modify-write in each transaction: no lost update
        assert conn.execute(text("SELECT v FROM n")).scalar() == 2 * 200 + 2 * 100
