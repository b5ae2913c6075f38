"""SQLite online backup and restore (scripts.dr.sqlite_backup): a backup taken while a writer
posts is one consistent point of the ledger, and a restore (nothing running) brings back exactly
that point, whatever was written after it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from keeper.ledger import Ledger, TransferSpec, client_postings, upgrade
from scripts.dr import sqlite_backup

pytestmark = pytest.mark.sqlite_only("SQLite's own online backup API")


def post(ledger: Ledger, accounts: tuple[int, int], i: int) -> str:
    tid = f"t-{i:05d}"
    ledger.post(TransferSpec(tid, accounts[0], accounts[1], i))  # amount i: sums tell prefixes
    return tid


def state(url: str, ids: list[str]) -> tuple[list[str], int, list[str]]:
    """(ids the ledger at ``url`` holds, in order; the client's balance; invariant breaches)."""
    with Ledger(url, group_commit=False) as ledger:
        held = client_postings(ledger.engine, ids)
        balance = ledger.balance(ledger.client_account("c1", "USDC")).credit_balance
        return [t for t in ids if t in held], balance, ledger.verify_invariants()


def test_backup_under_writes_then_restore_gives_the_backup_point(tmp_path: Path) -> None:
    data, backups = tmp_path / "data", tmp_path / "data" / "backups"
    (data / "run").mkdir(parents=True)
    url = f"sqlite:///{data / 'run' / 'strongroom.db'}"
    upgrade(url)
    (data / "notes.txt").write_text("not a database")
    ids: list[str] = []
    with Ledger(url, group_commit=False) as ledger:
        accounts = (ledger.omnibus_account("USDC", "vault:x"), ledger.client_account("c1", "USDC"))
        ids += [post(ledger, accounts, i) for i in range(1, 51)]
        stop = threading.Event()

        def writer() -> None:
            i = len(ids)
            while not stop.is_set():
                i += 1
                ids.append(post(ledger, accounts, i))

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            snap = sqlite_backup.backup(data, backups)  # while the writer commits
        finally:
            stop.set()
            thread.join()
        written = len(ids)
        ids += [post(ledger, accounts, i) for i in range(written + 1, written + 21)]

    assert snap.files == ("run/strongroom.db",)  # the backups folder and text files skipped
    assert sqlite_backup.snapshots(backups) == [snap]
    copy_url = f"sqlite:///{snap.folder / 'run' / 'strongroom.db'}"
    held, balance, breaches = state(copy_url, ids)
    k = len(held)
    assert held == ids[:k] and 50 <= k <= written  # a prefix: one consistent point
    assert balance == k * (k + 1) // 2 and breaches == []

    restored = sqlite_backup.restore(data, snap)  # nothing runs now
    assert restored == [data / "run" / "strongroom.db"]
    assert state(url, ids) == (ids[:k], k * (k + 1) // 2, [])  # the 20+ later postings are gone


def test_watch_takes_snapshots_on_its_interval_and_keeps_the_newest(tmp_path: Path) -> None:
    data, backups = tmp_path / "data", tmp_path / "backups"
    data.mkdir()
    upgrade(f"sqlite:///{data / 'strongroom.db'}")
    stop = threading.Event()
    thread = threading.Thread(target=sqlite_backup.watch, args=(data, backups, 0.05, 2, stop))
    thread.start()
    try:
        while len(list((backups / "sqlite").glob("*"))) < 2:
            stop.wait(0.01)
        stop.wait(0.3)  # several more intervals
    finally:
        stop.set()
        thread.join()
    kept = sqlite_backup.snapshots(backups)
    assert len(kept) == 2 and kept[0].taken_at < kept[1].taken_at  # older ones pruned
    assert all(s.files == ("strongroom.db",) for s in kept)
    assert not list((backups / "sqlite").glob(".*"))  # no half-written snapshot left behind
