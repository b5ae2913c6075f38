"""Online backups of the SQLite databases of the data folder, and their restore.

``backup`` copies every SQLite database under ``settings.data_dir`` (found by its file header;
the backup folder, PostgreSQL clusters and drill folders are skipped) with SQLite's online
backup API into ``settings.backup_dir / "sqlite" / <UTC time>``: each copy is one consistent
snapshot (a read transaction, so writers in WAL mode go on meanwhile), and a snapshot folder
appears only once every copy and its ``manifest.json`` are complete. ``watch`` takes one every
``--interval`` seconds and keeps the last ``--keep``. ``restore`` copies the latest (or a given)
snapshot back through the same API, which writes through SQLite's pager (the live files' WAL is
superseded, never mixed in); stop the stack first: a database another process is writing is
refused ("database is locked") and left as it was.

RPO: what was committed after the last snapshot's read point: at most the interval plus the
time one backup takes (``bench/dr.py`` measures both).

Run: ``python -m scripts.dr.sqlite_backup backup|restore|watch``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HEADER = b"SQLite format 3\x00"
SKIP_DIRS = ("pg", "dr")  # PostgreSQL clusters and drill folders in the data folder
BUSY_MS = 5000


@dataclass(frozen=True)
class Snapshot:
    """One completed backup: its folder, its read point (UTC) and how long it took."""

    folder: Path
    taken_at: datetime
    seconds: float
    files: tuple[str, ...]


def sqlite_files(data_dir: Path, backup_dir: Path) -> list[Path]:
    """SQLite database files under ``data_dir`` (not under ``backup_dir`` or :data:`SKIP_DIRS`)."""
    skip = [backup_dir.resolve(), *((data_dir / d).resolve() for d in SKIP_DIRS)]
    out = []
    for path in sorted(data_dir.rglob("*")):
        resolved = path.resolve()
        if any(resolved == s or s in resolved.parents for s in skip) or not path.is_file():
            continue
        try:
            with path.open("rb") as f:
                if f.read(len(HEADER)) == HEADER:
                    out.append(path)
        except OSError:
            continue
    return out


def _copy(src: Path, dst: Path) -> None:
    """Online backup API copy of ``src`` into ``dst`` in one step (one read snapshot)."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
    target = sqlite3.connect(dst, timeout=BUSY_MS / 1000)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def backup(data_dir: Path, backup_dir: Path) -> Snapshot:
    """Back up every SQLite database of ``data_dir`` into a new snapshot folder."""
    started, taken_at = time.monotonic(), datetime.now(UTC)
    root = backup_dir / "sqlite"
    work = root / f".{taken_at:%Y%m%dT%H%M%S%fZ}.partial"
    files = []
    for path in sqlite_files(data_dir, backup_dir):
        rel = path.relative_to(data_dir)
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        _copy(path, work / rel)
        files.append(str(rel))
    work.mkdir(parents=True, exist_ok=True)
    seconds = time.monotonic() - started
    (work / "manifest.json").write_text(json.dumps(
        {"taken_at": taken_at.isoformat(), "seconds": seconds, "files": files}, indent=1))
    folder = root / work.name.removeprefix(".").removesuffix(".partial")
    work.rename(folder)
    return Snapshot(folder, taken_at, seconds, tuple(files))


def snapshots(backup_dir: Path) -> list[Snapshot]:
    """Completed snapshots, oldest first."""
    out = []
    for manifest in sorted((backup_dir / "sqlite").glob("*/manifest.json")):
        meta = json.loads(manifest.read_text())
        out.append(Snapshot(manifest.parent, datetime.fromisoformat(meta["taken_at"]),
                            float(meta["seconds"]), tuple(meta["files"])))
    return out


def restore(data_dir: Path, snapshot: Snapshot) -> list[Path]:
    """Copy ``snapshot``'s databases back into ``data_dir``; return the restored paths."""
    out = []
    for rel in snapshot.files:
        target = data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy(snapshot.folder / rel, target)
        out.append(target)
    return out


def watch(data_dir: Path, backup_dir: Path, interval_s: float, keep: int,
          stop: threading.Event | None = None) -> None:
    """A snapshot every ``interval_s`` seconds (keeping the newest ``keep``) until ``stop``."""
    stop = stop or threading.Event()
    while True:
        snap = backup(data_dir, backup_dir)
        print(f"backup {snap.folder.name}: {len(snap.files)} databases in {snap.seconds:.3f}s",
              flush=True)
        for old in snapshots(backup_dir)[:-keep]:
            shutil.rmtree(old.folder, ignore_errors=True)
        if stop.wait(interval_s):
            return


def main(argv: list[str] | None = None) -> int:
    """CLI: backup, restore or watch the data folder's SQLite databases."""
    from keeper.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("backup", "restore", "watch"))
    parser.add_argument("--snapshot", type=Path, help="restore: this snapshot folder")
    parser.add_argument("--interval", type=float, default=60.0, help="watch: seconds apart")
    parser.add_argument("--keep", type=int, default=24, help="watch: snapshots kept")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.action == "backup":
        snap = backup(settings.data_dir, settings.backup_dir)
        print(f"backup {snap.folder}: {', '.join(snap.files)} in {snap.seconds:.3f}s")
    elif args.action == "watch":
        watch(settings.data_dir, settings.backup_dir, args.interval, max(1, args.keep))
    else:
        chosen = [s for s in snapshots(settings.backup_dir)
                  if args.snapshot is None or s.folder.resolve() == args.snapshot.resolve()]
        if not chosen:
            print("restore: no such snapshot", file=sys.stderr)
            return 1
        for path in restore(settings.data_dir, chosen[-1]):
            print(f"restored {path} as of {chosen[-1].taken_at.isoformat()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
