"""The indexed history (:class:`History`) decides exactly as a plain scan of the history: every
rule, every window edge, movements added out of time order, equal times, a movement carrying the
judged movement's own id, and a horizon shorter than a rule's window (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.compliance.rules_engine import (
    OUT_KINDS,
    History,
    Movement,
    RuleHit,
    RuleSet,
    evaluate,
)

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
RULES = RuleSet.load()
KINDS = ["deposit", "buy", "transfer_in", "withdrawal", "transfer_out"]
# around the rules' edges: R001's band, R004's 10k, R006's 10x
CENTS = [1, 100, 899_999, 900_000, 950_000, 999_999, 1_000_000, 500_001, 5_000_000]
# offsets in seconds before T0: on and around the 1 h, 24 h and 30 d edges
OFFSETS = [0, 1, 59, 3_599, 3_600, 3_601, 86_399, 86_400, 86_401, 2_591_999, 2_592_000, 2_592_001]


def _scan(rules: RuleSet, tx: Movement, hist: list[Movement], horizon: timedelta | None) -> list[RuleHit]:
    """The reference: the rules as a plain scan of the history (the engine before indexing)."""

    def within(seconds: int) -> list[Movement]:
        since = tx.at - timedelta(seconds=seconds)
        if horizon is not None:
            since = max(since, tx.at - horizon)
        return [m for m in hist if since < m.at <= tx.at and m.id != tx.id]

    hits = []
    for rule in rules.rules:
        p: dict[str, Any] = rule.parameters
        why = None
        if rule.id == "R001" and p["low_cents"] <= tx.usd_cents <= p["high_cents"]:
            n = 1 + sum(p["low_cents"] <= m.usd_cents <= p["high_cents"] for m in within(p["window_s"]))
            why = f"{n} transactions of $9,000-$9,999.99 within 24 h" if n >= p["min_count"] else None
        elif rule.id == "R002" and tx.kind in OUT_KINDS:
            buys = sorted(m.at for m in within(p["window_s"]) if m.kind == "buy" and m.at < tx.at)
            why = f"transfer out {int((tx.at - buys[-1]).total_seconds())} s after a buy" if buys else None
        elif rule.id == "R003":
            c = (tx.country or "").upper()
            why = f"high-risk country {c}" if c and c in {x.upper() for x in p["countries"]} else None
        elif rule.id == "R004":
            total = tx.usd_cents + sum(m.usd_cents for m in within(p["window_s"]))
            why = f"{total} cents within 24 h" if total > p["above_cents"] else None
        elif rule.id == "R005" and tx.kind in OUT_KINDS:
            hit = sorted(tx.address_labels & set(p["labels"]))
            why = f"destination labelled {', '.join(hit)}" if hit else None
        elif rule.id == "R006":
            past = within(p["baseline_s"])
            total = sum(m.usd_cents for m in past)
            if len(past) >= p["min_history"] and tx.usd_cents * len(past) >= p["factor"] * total > 0:
                why = f"{tx.usd_cents} cents is {p['factor']}x or more the trailing mean of {len(past)}"
        if why is not None:
            hits.append(RuleHit(rule.id, rules.version, rule.action, why))
    return hits


movement = st.builds(
    lambda i, kind, cents, off: Movement(f"m{i}", "c1", kind, "USDC", cents * 10_000, cents,
                                         T0 - timedelta(seconds=off)),
    st.integers(0, 40), st.sampled_from(KINDS), st.sampled_from(CENTS),
    st.one_of(st.sampled_from(OFFSETS), st.integers(-100, 2_700_000)))


@settings(max_examples=150, deadline=None)
@given(hist=st.lists(movement, max_size=25), txs=st.lists(movement, min_size=1, max_size=6),
       horizon_days=st.sampled_from([None, 1, 31]))
def test_indexed_history_decides_as_a_scan(hist: list[Movement], txs: list[Movement],
                                           horizon_days: int | None) -> None:
    horizon = None if horizon_days is None else timedelta(days=horizon_days)
    indexed = History(hist, horizon=horizon)
    seen = list(hist)
    for tx in txs:  # judged one after another, each added afterwards (in or out of time order)
        assert evaluate(RULES, tx, indexed) == _scan(RULES, tx, seen, horizon)
        if horizon is None:
            assert evaluate(RULES, tx, seen) == _scan(RULES, tx, seen, None)
        indexed.add(tx)
        seen.append(tx)


def test_own_id_is_never_counted() -> None:
    """A stored movement with the judged movement's id is left out of every window (R002 falls
    back to the buy before it)."""
    buy = Movement("b1", "c1", "buy", "USDC", 10**6, 100, T0 - timedelta(minutes=30))
    twin = Movement("t1", "c1", "buy", "USDC", 10**6, 100, T0 - timedelta(minutes=10))
    tx = Movement("t1", "c1", "transfer_out", "USDC", 10**6, 100, T0)
    hits = {h.rule_id: h.reason for h in evaluate(RULES, tx, History([buy, twin]))}
    assert hits["R002"] == "transfer out 1800 s after a buy"
