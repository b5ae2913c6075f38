"""Background WAL checkpoints for a group-committing SQLite ledger.

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that commit
copies the WAL into the database file and fsyncs it, and every posting waiting on it pays tens of
milliseconds more. The group committer's connections run with ``wal_autocheckpoint=0`` instead,
and this thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection after commits: a
PASSIVE checkpoint takes no write lock, so commits proceed while it copies and fsyncs.

Durability is unchanged: a commit is durable once its WAL frames are fsynced (``synchronous=FULL``);
checkpointing only moves already-durable pages into the main file. Other connections (e.g. the API's
direct commits) keep the default automatic checkpoint, so the WAL stays bounded even when no
group committer runs. Under sustained load the writer rewinds the WAL between commits once it
exceeds ``restart_frames`` pages (:meth:`Checkpointer.restart_if_large`), which keeps it bounded.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from keeper.ledger.db import BUSY_TIMEOUT_MS, set_sqlite_busy

log = logging.getLogger(__name__)


class Checkpointer:
    """A daemon thread running PASSIVE checkpoints at most every ``interval`` seconds, when kicked."""

    def __init__(
        self, engine: Engine, interval: float = 0.05, restart_frames: int = 8192,
        busy_ms: int = BUSY_TIMEOUT_MS,
    ) -> None:
        """``busy_ms``: how long the writer's ``RESTART`` waits for a lock held elsewhere (the
        writer thread runs it, so it must not wait longer than the writer's own commits do)."""
        self.engine = engine
        self.busy_ms = busy_ms
        self.interval = interval
        self.restart_frames = restart_frames
        self.runs = 0
        self.restarts = 0
        self.wal_frames = 0
        self.max_wal_frames = 0
        self._writer_raw: object | None = None
        self._kick = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="ledger-checkpoint", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        """Ask for a checkpoint (called by the writer after each commit; cheap)."""
        self._kick.set()

    def restart_if_large(self) -> None:
        """Called by the writer between commits: once the WAL passed ``restart_frames`` pages,
        finish the checkpoint and rewind the WAL (``RESTART``).

        Under continuous writes a PASSIVE checkpoint never catches the last frame, so SQLite never
        rewinds the WAL and it grows without bound (measured: 400 MB in 10 s). The background
        PASSIVE runs have already copied almost every frame, so this costs one small copy + fsync.
        """
        if self.wal_frames < self.restart_frames:
            return
        if self._writer_raw is None:
            self._writer_raw = self.engine.raw_connection()
            set_sqlite_busy(self._writer_raw, self.busy_ms)
        _busy, frames, _done = self._writer_raw.driver_connection.execute(  # type: ignore[attr-defined]
            "PRAGMA wal_checkpoint(RESTART)").fetchone()
        self.restarts += 1
        self.wal_frames = frames

    def close(self) -> None:
        """Run a last checkpoint and stop the thread."""
        self._stop = True
        self._kick.set()
        self._thread.join()
        if self._writer_raw is not None:
            self._writer_raw.close()  # type: ignore[attr-defined]
            self._writer_raw = None

    def _run(self) -> None:
        raw = None  # autocommit sqlite3 connection (isolation_level None), opened on first use
        try:
            while True:
                self._kick.wait()
                self._kick.clear()
                stop = self._stop
                try:
                    if raw is None:  # a database that cannot be opened now is retried next kick
                        raw = self.engine.raw_connection()
                    busy, frames, _done = raw.driver_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.runs += 1
                    self.wal_frames = frames
                    self.max_wal_frames = max(self.max_wal_frames, frames)
                except Exception:  # noqa: BLE001 - a failed checkpoint is retried on the next kick
                    log.exception("WAL checkpoint failed")
                if stop:
                    return
                time.sleep(self.interval)
        finally:
            if raw is not None:
                raw.close()
