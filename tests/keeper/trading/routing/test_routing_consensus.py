"""Price consensus on books built by hand: a stale book, a wrong price far from the median of the
others, crossed and empty books are excluded with the reason; with two venues disagreeing nobody
is trusted; venues within the threshold all pass."""

from __future__ import annotations

from keeper.trading.routing import ConsensusRules, check_consensus, mid_of
from keeper.trading.types import Level, OrderBook

NOW = 1_800_000_000_000


def quote(bid, ask, age_ms=0, venue=""):
    return OrderBook("BTC/USD", (Level(bid, 1),) if bid else (), (Level(ask, 1),) if ask else (),
                     NOW - age_ms, venue)


def test_a_stale_book_and_a_wrong_price_are_excluded_and_the_rest_agree():
    books = {"a": quote(5_000_000, 5_000_200), "b": quote(5_001_000, 5_001_400),
             "c": quote(5_200_000, 5_200_400),  # 4 % above the others: a wrong feed
             "d": quote(5_000_000, 5_000_200, age_ms=5_001)}
    got = check_consensus(books, NOW)
    assert sorted(got.fresh) == ["a", "b"]
    assert {(e.venue, e.reason) for e in got.excluded} == {("c", "outlier"), ("d", "stale")}
    # mids: a 5,000,100, b 5,001,200, c 5,200,200 -> median 5,001,200; c is 397.9 bps away (floor)
    assert got.mid == 5_001_200
    assert "397 bps" in next(e.detail for e in got.excluded if e.venue == "c")


def test_the_threshold_is_exact_and_configurable():
    books = {"a": quote(4_999_900, 5_000_100), "b": quote(5_000_000, 5_000_000 + 200),
             "c": quote(5_025_400, 5_025_800)}  # mid 5,025,600: 50.99 bps above b's 5,000,100
    assert {e.venue for e in check_consensus(books, NOW).excluded} == {"c"}
    wide = ConsensusRules(max_deviation_bps=51)
    assert check_consensus(books, NOW, wide).excluded == ()
    # a future timestamp beyond the limit is as untrustworthy as an old one
    assert [e.reason for e in check_consensus({"a": quote(1, 2, age_ms=-6_000)}, NOW).excluded] \
        == ["stale"]


def test_two_venues_disagreeing_are_both_untrusted_and_bad_books_are_named():
    got = check_consensus({"a": quote(5_000_000, 5_000_200), "b": quote(5_100_000, 5_100_200)},
                          NOW)
    assert got.fresh == {} and got.mid is None
    assert {(e.venue, e.reason) for e in got.excluded} == {("a", "no_consensus"),
                                                            ("b", "no_consensus")}
    got = check_consensus({"a": quote(5_000_000, 5_000_200), "x": quote(5_000_300, 5_000_200),
                           "y": quote(0, 5_000_200)}, NOW)
    assert sorted(got.fresh) == ["a"]
    assert {(e.venue, e.reason) for e in got.excluded} == {("x", "crossed"), ("y", "empty")}
    assert mid_of(quote(5_000_300, 5_000_200)) is None
