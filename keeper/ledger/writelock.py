"""A writer queue in front of SQLite's write lock, shared by every thread and process.

SQLite lets one writer in at a time and makes the others *sleep*: a ``BEGIN IMMEDIATE`` that
finds the lock taken retries after 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then every 100
ms (its default busy handler). Two API workers writing batches of transfers therefore lost most
of the time the lock was free to those sleeps (two workers made 7,258 transfers/s against one
worker's 7,641), and a thread of the same process (the audit writer, the ledger's committer)
waited the same way.

:class:`WriterLock` queues writers instead: a thread lock per database file in each process,
then an exclusive ``flock`` on ``<database>.writelock`` across processes. A waiting thread wakes
as soon as the holder releases (a thread of another process within :data:`POLL_MAX_S`).
:func:`keeper.ledger.db.make_engine` takes it before ``BEGIN IMMEDIATE`` and the connection
(:class:`LockingConnection`) releases it once the transaction has ended (commit, rollback or
close).

It is only a queue: SQLite's own lock still decides who writes. A writer that does not take it
(a deferred transaction that writes later, a tool like ``sqlite3``) is served by SQLite as
before; a thread that already holds it and opens a second write transaction on another
connection goes straight to SQLite (as before: it waits there for itself until its busy
timeout); a writer that could not get the queue within its busy timeout tries SQLite's lock
once, without waiting, and fails ``database is locked`` as before when it is held. The kernel
drops a dead process's ``flock``.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

POLL_MIN_S = 0.0001  # first wait for another process's lock; doubling up to POLL_MAX_S
POLL_MAX_S = 0.0005
_LOCKS: dict[str, WriterLock] = {}
_LOCKS_GUARD = threading.Lock()


class WriterLock:
    """The writer queue of one database file (one instance per file and process:
    :func:`writer_lock`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self.owner: int | None = None  # thread ident of the holder

    def held_by_me(self) -> bool:
        """True when the calling thread holds the lock."""
        return self.owner == threading.get_ident()

    def acquire(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the lock; False when it did not come."""
        deadline = time.monotonic() + timeout_s
        if not self._thread_lock.acquire(timeout=max(timeout_s, 0.0)):
            return False
        try:
            fd = self._file()
            delay = POLL_MIN_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._thread_lock.release()
                        return False
                    time.sleep(delay)
                    delay = min(delay * 2, POLL_MAX_S)
        except BaseException:
            self._thread_lock.release()
            raise
        self.owner = threading.get_ident()
        return True

    def release(self) -> None:
        """Let the next writer in (called by the connection whose transaction ended)."""
        self.owner = None
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int:
        # opened once per process: a forked child must not share its parent's open file (a
        # flock belongs to the open file, so both would hold it at once)
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


def writer_lock(database: str) -> WriterLock | None:
    """The writer queue of the SQLite file ``database`` (None for an in-memory database)."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = str(Path(database).resolve()) + ".writelock"
    with _LOCKS_GUARD:
        lock = _LOCKS.get(path)
        if lock is None:
            lock = _LOCKS[path] = WriterLock(path)
        return lock


class LockingConnection(sqlite3.Connection):
    """A sqlite3 connection that lets go of its :class:`WriterLock` once its transaction has
    ended (after COMMIT or ROLLBACK, or when it closes)."""

    held: WriterLock | None = None

    def commit(self) -> None:
        """Commit, then release the writer queue if this connection held it."""
        try:
            super().commit()
        finally:
            self._release_if_ended()

    def rollback(self) -> None:
        """Roll back, then release the writer queue if this connection held it."""
        try:
            super().rollback()
        finally:
            self._release_if_ended()

    def close(self) -> None:
        """Close, releasing the writer queue if this connection held it."""
        try:
            super().close()
        finally:
            self._release(force=True)

    def _release_if_ended(self) -> None:
        if self.held is not None:
            try:
                ended = not self.in_transaction
            except sqlite3.ProgrammingError:  # closed
                ended = True
            self._release(force=ended)

    def _release(self, force: bool) -> None:
        if force and self.held is not None:
            lock, self.held = self.held, None
            lock.release()


def take(dbapi: Any, lock: WriterLock, timeout_s: float) -> bool:
    """Queue the connection ``dbapi`` (a :class:`LockingConnection`) for ``lock`` before its
    ``BEGIN IMMEDIATE``: True when it now holds the lock or need not take it (the thread holds
    it already through another connection, or this one does), False when the wait timed out."""
    if not isinstance(dbapi, LockingConnection) or dbapi.held is not None or lock.held_by_me():
        return True
    if not lock.acquire(timeout_s):
        return False
    dbapi.held = lock
    return True


def let_go(dbapi: Any) -> None:
    """Release the writer queue held by ``dbapi`` unless a transaction is open on it (after a
    ``BEGIN IMMEDIATE`` that failed)."""
    if isinstance(dbapi, LockingConnection):
        dbapi._release_if_ended()
