"""Cursor lease and compare-and-set on SQLite and PostgreSQL (no chain needed).

Two keeper processes are two ``Ledger`` objects on one database: at most one holds the lease at a
time, a dead holder's lease is taken over once expired, and a holder that was taken over (or read
a stale cursor) can no longer commit: its postings are refused with the cursor move.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from keeper.ledger import CursorMoved, CursorState, LeaseLost, Ledger, TransferSpec


@pytest.fixture
def two(db_url):
    a, b = Ledger(db_url), Ledger(db_url)
    yield a, b
    a.close()
    b.close()


def credit(lg: Ledger, tid: str, amount: int) -> TransferSpec:
    return TransferSpec(tid, lg.omnibus_account("ETH", "vault:x"), lg.client_account("c", "ETH"),
                        amount)


def at(pos: int, gen: int = 0) -> CursorState:
    return CursorState("src", pos, f"0x{pos:064x}", gen)


def test_one_holder_at_a_time_and_takeover_after_expiry(two):
    a, b = two
    now = datetime.now(UTC)
    ga = a.acquire_lease("src", "keeper-a", 30, now=now)
    assert ga is not None and ga.token == 1
    assert b.acquire_lease("src", "keeper-b", 30, now=now + timedelta(seconds=29)) is None
    assert a.acquire_lease("src", "keeper-a", 30, now=now + timedelta(seconds=29)).token == 1
    gb = b.acquire_lease("src", "keeper-b", 30, now=now + timedelta(seconds=60))  # a died
    assert gb is not None and gb.token == 2  # the fencing token moved on


def test_a_taken_over_holder_cannot_commit(two):
    a, b = two
    ga = a.acquire_lease("src", "keeper-a", 0.000001)  # expires at once: a "stalls"
    gb = b.acquire_lease("src", "keeper-b", 30)
    assert gb is not None and gb.token == ga.token + 1
    with pytest.raises(LeaseLost):
        a.move_cursor([credit(a, "t-a", 5)], expected=None, to=at(10), lease=ga)
    assert a.cursor("src") is None
    assert a.balance(a.client_account("c", "ETH")).credit_balance == 0  # nothing posted
    b.move_cursor([credit(b, "t-b", 7)], expected=None, to=at(10), lease=gb)
    assert b.cursor("src").position == 10
    assert a.balance(a.client_account("c", "ETH")).credit_balance == 7


def test_cursor_moves_only_from_where_it_was_read(two):
    a, b = two
    a.move_cursor([], expected=None, to=at(5))
    with pytest.raises(CursorMoved):  # a second "first" commit
        b.move_cursor([credit(b, "t-0", 1)], expected=None, to=at(5))
    read = a.cursor("src")
    a.move_cursor([credit(a, "t-1", 3)], expected=read, to=at(9), blocks={9: at(9).position_hash})
    with pytest.raises(CursorMoved):  # b read the same cursor, a moved it first
        b.move_cursor([credit(b, "t-2", 4)], expected=read, to=at(9))
    with pytest.raises(CursorMoved):  # a rewind also needs the generation it read
        b.move_cursor([], expected=at(9, gen=1), to=at(5, gen=2))
    assert b.cursor("src").position == 9
    assert b.balance(b.client_account("c", "ETH")).credit_balance == 3
    assert b.cursor_blocks("src") == [(9, at(9).position_hash)]
    assert a.verify_invariants() == []


def test_racing_keepers_get_exactly_one_lease(db_url):
    ledgers = [Ledger(db_url, group_commit=False) for _ in range(4)]
    grants: list = []
    start = threading.Barrier(len(ledgers))

    def run(i: int) -> None:
        start.wait()
        grants.append(ledgers[i].acquire_lease("src", f"keeper-{i}", 30))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lg in ledgers:
        lg.close()
    assert len(grants) == 4
    assert len([g for g in grants if g is not None]) == 1
