"""Price consensus: which venues' books are fit to route on for one decision (pure, integer-only).

A venue's book is excluded, with a reason, when:

* ``stale``: its ``timestamp`` is older than ``ConsensusRules.stale_ms`` before now (or in the
  future by more than that: a clock we cannot trust either);
* ``empty`` / ``crossed``: it has no bid or no ask, or its best bid is at or above its best ask;
* ``outlier``: its mid is more than ``ConsensusRules.max_deviation_bps`` from the consensus, the
  median of the mids of the venues that passed the checks above (with an even count, the mean of
  the two middle mids, floor);
* ``no_consensus``: fewer than three venues passed and they disagree beyond the threshold
  (with two venues the median is their midpoint, so nothing says which one is wrong: none is
  trusted and the decision routes nowhere rather than on a price that may be false).

Deviation in bps is ``|mid - consensus| * 10_000 / consensus`` compared exactly (no rounding):
``|mid - consensus| * 10_000 > max_deviation_bps * consensus``.
"""

from __future__ import annotations

from dataclasses import dataclass

from keeper.trading.types import OrderBook

# The reasons a venue's *prices* are not trusted for a decision (the executor adds others:
# ``unavailable``, ``blocked``, ...): one home, read by the best-execution report.
PRICE_REASONS = frozenset({"stale", "empty", "crossed", "outlier", "no_consensus"})

@dataclass(frozen=True)
class ConsensusRules:
    """Thresholds: a book older than ``stale_ms`` is stale; a mid more than
    ``max_deviation_bps`` from the consensus is an outlier (default 50 bps: ten times the spread of
    a liquid BTC venue, far below the percent-level errors of a wrong feed)."""

    stale_ms: int = 5_000
    max_deviation_bps: int = 50


@dataclass(frozen=True)
class Exclusion:
    """A venue left out of a decision: ``reason`` (``stale``, ``empty``, ``crossed``,
    ``outlier``, ``no_consensus``, or the executor's ``unavailable``/``blocked``/...) and a
    human-readable ``detail``."""

    venue: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Consensus:
    """The outcome: the ``fresh`` books to route on, the ``excluded`` venues and the consensus
    ``mid`` (None when there is none)."""

    fresh: dict[str, OrderBook]
    excluded: tuple[Exclusion, ...]
    mid: int | None


def mid_of(book: OrderBook) -> int | None:
    """The mid of ``book`` (floor of the best bid and ask's mean), or None if a side is empty or
    the book is crossed."""
    if not book.bids or not book.asks:
        return None
    bid, ask = book.bids[0].price, book.asks[0].price
    if bid <= 0 or ask <= 0 or bid >= ask:
        return None
    return (bid + ask) // 2


def _median(values: list[int]) -> int:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) // 2


def _far(mid: int, consensus: int, bps: int) -> bool:
    return abs(mid - consensus) * 10_000 > bps * consensus


def check(books: dict[str, OrderBook], now_ms: int,
          rules: ConsensusRules | None = None) -> Consensus:
    """Which of ``books`` (venue -> book) are fit to route on at ``now_ms`` (module docstring)."""
    rules = rules or ConsensusRules()
    excluded: list[Exclusion] = []
    mids: dict[str, int] = {}
    for venue in sorted(books):
        book = books[venue]
        age = now_ms - book.timestamp
        if abs(age) > rules.stale_ms:
            excluded.append(Exclusion(venue, "stale", f"book {age} ms old (limit {rules.stale_ms})"))
            continue
        mid = mid_of(book)
        if mid is None:
            reason = "empty" if not book.bids or not book.asks else "crossed"
            excluded.append(Exclusion(venue, reason, f"book {reason}: no usable mid"))
            continue
        mids[venue] = mid
    if not mids:
        return Consensus({}, tuple(excluded), None)
    consensus = _median(list(mids.values()))
    far = [v for v, m in mids.items() if _far(m, consensus, rules.max_deviation_bps)]
    if far and len(mids) < 3:
        for v in sorted(mids):
            excluded.append(Exclusion(v, "no_consensus",
                                      f"mid {mids[v]} vs {len(mids)} venue(s) disagreeing beyond "
                                      f"{rules.max_deviation_bps} bps"))
        return Consensus({}, tuple(excluded), None)
    for v in far:
        dev = abs(mids[v] - consensus) * 10_000 // consensus
        excluded.append(Exclusion(v, "outlier", f"mid {mids[v]} is {dev} bps from consensus "
                                                f"{consensus} (limit {rules.max_deviation_bps})"))
    fresh = {v: books[v] for v in mids if v not in far}
    return Consensus(fresh, tuple(excluded), consensus)
