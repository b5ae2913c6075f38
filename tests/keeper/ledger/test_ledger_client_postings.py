"""Client posting reads: keyset pages, filters, one transfer, open incoming holds, credits feed.

Every read is scoped to one client's accounts: another client's transfer ids, a transfer between
two clients, filters and page positions never reveal the other side.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keeper.ledger import Kind, Ledger, TransferSpec
from keeper.ledger.migrate import upgrade
from keeper.ledger.statements import (
    client_credits_after,
    client_open_credits,
    client_posting,
    client_postings_page,
)
from strongroom_testkit.sqlitesteps import vm_steps

WIDE = 2**200 + 7  # wider than 64 bits: stored as text on SQLite


def _world(lg: Ledger) -> None:
    om = lg.omnibus_account("USDC", "vault:x")
    a, b = lg.client_account("alice", "USDC"), lg.client_account("bob", "USDC")
    ae = lg.client_account("alice", "ETH")
    fee = lg.fee_account("USDC")
    susp = lg.suspense_account("USDC")
    lg.post_all([
        TransferSpec("a-dep", om, a, 1000),
        TransferSpec("a-eth", lg.omnibus_account("ETH", "vault:x"), ae, WIDE),
        TransferSpec("a-fee", a, fee, 5),
        TransferSpec("a-to-b", a, b, 100),
        TransferSpec("b-dep", om, b, 7),
        TransferSpec("a-fix", susp, a, 1),
        TransferSpec("a-hold-in", om, a, 50, Kind.PENDING),
        TransferSpec("a-hold-out", a, om, 20, Kind.PENDING),
        TransferSpec("b-hold-in", om, b, 9, Kind.PENDING),
    ])
    lg.post(TransferSpec("a-wd", 0, 0, 20, Kind.POST, pending_id="a-hold-out"))


def test_pages_are_newest_first_scoped_and_complete(ledger: Ledger) -> None:
    _world(ledger)
    seen, before = [], None
    while True:
        page = client_postings_page(ledger.engine, "alice", before=before, limit=2)
        if not page:
            break
        seen += page
        before = page[-1].seq
    assert [p.transfer_id for p in seen] == ["a-wd", "a-fix", "a-to-b", "a-fee", "a-eth", "a-dep"]
    by_id = {p.transfer_id: (p.category, p.amount) for p in seen}
    assert by_id == {"a-dep": ("deposit", 1000), "a-eth": ("deposit", WIDE),
                     "a-fee": ("fee", -5), "a-to-b": ("transfer", -100),
                     "a-fix": ("adjustment", 1), "a-wd": ("withdrawal", -20)}
    bob = client_postings_page(ledger.engine, "bob")
    assert [(p.transfer_id, p.amount) for p in bob] == [("b-dep", 7), ("a-to-b", 100)]


def test_filters(ledger: Ledger) -> None:
    _world(ledger)
    eng = ledger.engine
    assert [p.transfer_id for p in client_postings_page(eng, "alice", asset="ETH")] == ["a-eth"]
    assert [p.transfer_id for p in client_postings_page(eng, "alice", category="fee")] == ["a-fee"]
    assert [p.transfer_id for p in client_postings_page(eng, "alice", category="deposit")] == \
        ["a-eth", "a-dep"]
    future = datetime.now(UTC) + timedelta(days=1)
    assert client_postings_page(eng, "alice", since=future) == []
    assert len(client_postings_page(eng, "alice", until=future)) == 6
    # a filter naming another client's asset or category still reads only alice's accounts
    assert client_postings_page(eng, "bob", asset="ETH") == []


def test_one_posting_is_only_the_owners(ledger: Ledger) -> None:
    _world(ledger)
    eng = ledger.engine
    assert client_posting(eng, "alice", "a-dep").amount == 1000  # type: ignore[union-attr]
    assert client_posting(eng, "bob", "a-dep") is None
    assert client_posting(eng, "alice", "b-dep") is None
    assert client_posting(eng, "alice", "no-such") is None
    assert client_posting(eng, "alice", "a-hold-in") is None  # a hold is not a posted movement
    assert client_posting(eng, "bob", "a-to-b").amount == 100  # type: ignore[union-attr]


def test_open_credits_are_unresolved_incoming_holds(ledger: Ledger) -> None:
    _world(ledger)
    open_a = client_open_credits(ledger.engine, "alice")
    assert [(p.transfer_id, p.amount, p.status) for p in open_a] == [("a-hold-in", 50, "pending")]
    ledger.post(TransferSpec("a-hold-in:post", 0, 0, 0, Kind.POST, pending_id="a-hold-in"))
    assert client_open_credits(ledger.engine, "alice") == []
    assert [p.transfer_id for p in client_open_credits(ledger.engine, "bob")] == ["b-hold-in"]


def test_credits_feed_follows_deposits_of_every_client(ledger: Ledger) -> None:
    _world(ledger)
    feed = client_credits_after(ledger.engine, 0)
    assert [(c, p.transfer_id, p.amount) for c, p in feed] == [
        ("alice", "a-dep", 1000), ("alice", "a-eth", WIDE), ("bob", "b-dep", 7)]
    assert client_credits_after(ledger.engine, feed[-1][1].seq) == []
    assert [p.transfer_id for _, p in client_credits_after(ledger.engine, feed[0][1].seq,
                                                          limit=1)] == ["a-eth"]


def _mixed(lg: Ledger, n: int) -> None:
    """``n`` rounds of every category on two assets (interleaved in the journal), beside
    another client's deposits."""
    specs = []
    for i in range(n):
        for asset in ("USDC", "ETH"):
            om, fee = lg.omnibus_account(asset, "vault:x"), lg.fee_account(asset)
            susp = lg.suspense_account(asset)
            a, b = lg.client_account("alice", asset), lg.client_account("bob", asset)
            specs += [TransferSpec(f"{asset}-dep-{i}", om, a, 100 + i),
                      TransferSpec(f"{asset}-bob-{i}", om, b, 3),
                      TransferSpec(f"{asset}-fee-{i}", a, fee, 1),
                      TransferSpec(f"{asset}-out-{i}", a, b, 2),
                      TransferSpec(f"{asset}-in-{i}", b, a, 1),
                      TransferSpec(f"{asset}-fix-{i}", susp, a, 1),
                      TransferSpec(f"{asset}-wd-{i}", a, om, 5)]
    lg.post_all(specs)


def test_every_filtered_page_walk_equals_filtering_the_whole_history(ledger: Ledger) -> None:
    _mixed(ledger, 6)
    eng = ledger.engine
    everything = client_postings_page(eng, "alice", limit=1000)
    assert len(everything) == 2 * 6 * 6 and [p.seq for p in everything] == \
        sorted((p.seq for p in everything), reverse=True)
    middle = sorted(p.created_at for p in everything)[len(everything) // 2]
    for asset in (None, "USDC", "ETH"):
        for category in (None, "deposit", "withdrawal", "fee", "transfer", "adjustment"):
            for since, until in ((None, None), (middle, None), (None, middle)):
                want = [p for p in everything
                        if (asset is None or p.asset == asset)
                        and (category is None or p.category == category)
                        and (since is None or p.created_at >= since)
                        and (until is None or p.created_at < until)]
                for limit in (1, 4, 50):
                    got, before = [], None
                    while page := client_postings_page(eng, "alice", before=before, limit=limit,
                                                       asset=asset, category=category,
                                                       since=since, until=until):
                        assert len(page) <= limit
                        got += page
                        before = page[-1].seq
                    assert got == want, (asset, category, since, until, limit)


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    lg = Ledger(url)
    yield lg
    lg.close()


@pytest.mark.sqlite_only("counts SQLite's virtual machine steps")
def test_a_page_costs_the_same_whatever_the_clients_history(sqlite_ledger: Ledger) -> None:
    ledger = sqlite_ledger
    om = ledger.omnibus_account("USDC", "vault:x")
    big, small = ledger.client_account("big", "USDC"), ledger.client_account("small", "USDC")
    futures = [ledger.submit(TransferSpec(f"big-{i}", om, big, 1)) for i in range(5000)]
    futures += [ledger.submit(TransferSpec(f"small-{i}", om, small, 1)) for i in range(60)]
    for f in futures:
        f.result()
    def cost(client_id: str) -> int:
        with vm_steps(ledger.engine) as ticks:
            assert len(client_postings_page(ledger.engine, client_id, limit=50)) == 50
        return ticks[0]

    big_cost, small_cost = cost("big"), cost("small")
    assert 0 < big_cost < 2 * small_cost, (big_cost, small_cost)
