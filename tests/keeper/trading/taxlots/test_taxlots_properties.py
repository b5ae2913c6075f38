"""Properties of the lots: the split rule never loses or creates a cent; quantities and bases are
conserved over any event sequence; the persisted book (SQLite and PostgreSQL), fed the events in
any order, equals a from-scratch replay in time order; recording everything again changes
nothing."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keeper.trading.taxlots import (
    Kind,
    Method,
    Policy,
    TaxEvent,
    TaxLotBook,
    allocate,
    replay,
    split,
)

T0 = 1_704_067_200_000  # 2024-01-01 (ms)
DAY = 86_400_000
LOCATIONS = ("cold", "hot")


@settings(max_examples=200)
@given(total=st.integers(-10**20, 10**20), quantity=st.integers(1, 10**30), data=st.data())
def test_split_parts_sum_to_the_whole(total, quantity, data):
    take = data.draw(st.integers(0, quantity))
    taken, left = split(total, quantity, take)
    assert taken + left == total
    if total >= 0:
        assert 0 <= taken <= total
        assert taken * quantity <= total * take < (taken + 1) * quantity  # floor, exactly
    assert split(total, quantity, quantity) == (total, 0)


@settings(max_examples=200)
@given(total=st.integers(-10**15, 10**15), parts=st.lists(st.integers(0, 10**20), max_size=8))
def test_allocation_sums_to_the_total(total, parts):
    shares = allocate(total, parts)
    assert len(shares) == len(parts)
    if parts:
        assert sum(shares) == total


@st.composite
def histories(draw, max_events: int = 14) -> list[TaxEvent]:
    """Acquisitions, disposals and transfers of BTC at two locations, on few distinct times (so
    ties happen), each with a unique reference."""
    events = []
    for i in range(draw(st.integers(1, max_events))):
        kind = draw(st.sampled_from(list(Kind)))
        at = T0 + draw(st.integers(0, 6)) * 100 * DAY
        loc = draw(st.sampled_from(LOCATIONS))
        qty = draw(st.integers(1, 5)) * draw(st.sampled_from([1, 10**7, 33_333_333]))
        if kind is Kind.TRANSFER:
            dest = LOCATIONS[1 - LOCATIONS.index(loc)]
            fee_q = draw(st.integers(0, qty - 1))
            events.append(TaxEvent(f"e{i}", kind, "BTC", qty, at, loc, to_location=dest,
                                   fee_quantity=fee_q))
        else:
            events.append(TaxEvent(f"e{i}", kind, "BTC", qty, at, loc,
                                   amount=draw(st.integers(0, 10**9)),
                                   fee=draw(st.integers(0, 10**5))))
    return events


policies = st.builds(Policy, st.sampled_from(list(Method)), st.booleans())


@settings(max_examples=150)
@given(events=histories(), policy=policies)
def test_conservation(events, policy):
    holdings, outcomes = replay(events, lambda _ms: policy)
    held = list(holdings.lots.values())
    acquired = sum(e.quantity for e in events if e.kind is Kind.ACQUIRE)
    disposed = sum(p.quantity for o in outcomes if o.kind is Kind.DISPOSE for p in o.pieces)
    fees_out = sum(p.quantity for o in outcomes if o.kind is Kind.TRANSFER for p in o.fee_pieces)
    assert acquired == disposed + sum(x.quantity for x in held) + fees_out
    bought = sum(o.basis for o in outcomes if o.kind is Kind.ACQUIRE)
    sold = sum(o.basis for o in outcomes if o.kind is Kind.DISPOSE)
    assert bought == sold + sum(x.basis for x in held)  # a transfer carries its fee's basis
    for o in outcomes:
        if o.kind is Kind.DISPOSE:
            net = next(e for e in events if e.reference == o.reference)
            gross = net.amount - (net.fee if policy.fees_in_basis else 0)
            assert o.proceeds + o.unmatched_proceeds == gross
            assert sum(p.quantity for p in o.pieces) + o.unmatched_quantity == o.quantity
        if o.kind is Kind.TRANSFER:
            moved = sum(p.quantity for p in o.pieces) + sum(p.quantity for p in o.fee_pieces)
            assert moved + o.unmatched_quantity == o.quantity
    assert all(x.quantity > 0 and x.basis >= 0 for x in held)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), events=histories(max_events=10), policy=policies)
def test_book_in_any_order_equals_replay_and_is_idempotent(taxlots_engine, clock, data, events,
                                                           policy):
    book = TaxLotBook(taxlots_engine, default_method=policy.method,
                      fees_in_basis=policy.fees_in_basis, clock=clock)
    client = f"prop-{uuid.uuid4().hex[:12]}"
    arrival = data.draw(st.permutations(events))
    for e in arrival:
        assert not book.record(client, e).duplicate
    holdings, outcomes = replay(events, lambda _ms: policy)
    want = sorted(holdings.lots.values(), key=lambda x: (x.location, x.acquired_at, x.origin))
    assert book.lots(client, "BTC") == want
    assert book.outcomes(client) == outcomes
    assert book.verify(client) == []
    for e in data.draw(st.permutations(events)):
        assert book.record(client, e).duplicate
    assert book.lots(client, "BTC") == want and book.outcomes(client) == outcomes
