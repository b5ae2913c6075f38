"""Each detector fires on its pattern and stays quiet on a matched clean sequence (by hand)."""

from __future__ import annotations

from datetime import timedelta

from keeper.forensics import (
    Burst,
    Detector,
    Event,
    FanIn,
    Finding,
    NewDestinationLarge,
    PeelChain,
    State,
    UnusualHours,
    VolumeSpike,
)
from strongroom_testkit.forensics import T0, USDC_UNIT, addr, event, transfer


def run(detector: Detector, events: list[Event], state: State | None = None) -> list[Finding]:
    """Every finding of ``events`` in order."""
    st = state if state is not None else State()
    return [f for e in events for f in detector.observe(e, st)]


def withdrawals(client: str, amounts: list[int], to: str = addr(1)) -> list[Event]:
    return [event("withdrawal", client, seconds=60 * i, asset="USDC", amount=a, recipient=to)
            for i, a in enumerate(amounts)]


BASELINE = [(900 + 17 * i % 200) * USDC_UNIT for i in range(20)]  # 900..1100 USDC


def test_volume_spike_fires_far_above_the_clients_baseline_only():
    spike = event("withdrawal", "c1", seconds=9000, asset="USDC", amount=20_000 * USDC_UNIT,
                  recipient=addr(1))
    found = run(VolumeSpike(), [*withdrawals("c1", BASELINE), spike])
    assert [f.event.key for f in found] == [spike.key]
    assert found[0].evidence[0]["baseline"]["n"] == 20
    assert found[0].evidence[-1]["key"] == spike.key
    # clean twin: the same baseline and a merely larger movement (1.5x); another client's
    # spike-sized first movements never trip it (no baseline yet)
    calm = event("withdrawal", "c1", seconds=9000, asset="USDC", amount=1500 * USDC_UNIT,
                 recipient=addr(1))
    assert run(VolumeSpike(), [*withdrawals("c1", BASELINE), calm]) == []
    assert run(VolumeSpike(), withdrawals("c2", [10**12, 1, 10**12, 5])) == []


def test_volume_spike_baseline_is_per_client_and_asset():
    spike_other = event("withdrawal", "c2", seconds=9000, asset="USDC",
                        amount=20_000 * USDC_UNIT, recipient=addr(1))
    other_asset = event("withdrawal", "c1", seconds=9000, asset="USDT",
                        amount=20_000 * USDC_UNIT, recipient=addr(1))
    assert run(VolumeSpike(), [*withdrawals("c1", BASELINE), spike_other, other_asset]) == []


def test_new_destination_with_a_large_amount_fires_known_or_small_do_not():
    det = NewDestinationLarge(large={"USDC": 100_000 * USDC_UNIT})
    st = State()
    known, fresh = addr(10), addr(11)
    history = withdrawals("c1", [10 * USDC_UNIT], to=known)
    big_known = event("withdrawal", "c1", asset="USDC", amount=200_000 * USDC_UNIT,
                      recipient=known)
    small_fresh = event("withdrawal", "c1", asset="USDC", amount=99_999 * USDC_UNIT,
                        recipient=addr(12))
    big_fresh = event("withdrawal", "c1", asset="USDC", amount=100_000 * USDC_UNIT,
                      recipient=fresh)
    again = event("withdrawal", "c1", asset="USDC", amount=500_000 * USDC_UNIT, recipient=fresh)
    found = run(det, [*history, big_known, small_fresh, big_fresh, again], st)
    assert [f.event.key for f in found] == [big_fresh.key]
    assert found[0].subject == "c1" and fresh in found[0].summary


def test_unusual_hours_fires_on_a_rare_hour_for_this_client_only():
    office = [event("login", "c1", at=T0.replace(hour=9 + i % 8) + timedelta(days=i))
              for i in range(40)]
    night = event("login", "c1", at=T0.replace(hour=3) + timedelta(days=41))
    noon = event("login", "c1", at=T0.replace(hour=12) + timedelta(days=41))
    found = run(UnusualHours(), [*office, night])
    assert [f.event.key for f in found] == [night.key]
    assert found[0].evidence[0]["hour_histogram"][3] == 0
    assert run(UnusualHours(), [*office, noon]) == []
    # a client with too little history, and a client that works nights, are not flagged
    assert run(UnusualHours(), [*office[:10], night]) == []
    nights = [event("login", "c3", at=T0.replace(hour=2 + i % 3) + timedelta(days=i))
              for i in range(40)]
    assert run(UnusualHours(), [*nights, event("login", "c3", at=T0.replace(hour=3))]) == []


def test_signing_burst_fires_once_per_burst_and_not_on_a_steady_pace():
    det = Burst(name="signing_burst", kinds=("signing",), max_events=5, window_s=60)
    burst = [event("signing", "safe-owner:0xa", seconds=5 * i) for i in range(8)]
    found = run(det, burst)
    assert [f.event.key for f in found] == [burst[5].key]
    assert found[0].evidence[0]["events"] == [e.key for e in burst[:6]]
    steady = [event("signing", "safe-owner:0xa", seconds=61 * i) for i in range(8)]
    assert run(det, steady) == []
    # two signers' requests are not summed
    mixed = [event("signing", f"safe-owner:0x{i % 2}", seconds=i) for i in range(10)]
    assert run(det, mixed) == []


def test_a_burst_that_goes_on_alerts_again_with_fresh_events():
    """Failed authentications share one actor (``anonymous``): two attacks within a minute are
    two alerts, each with its own events, not one."""
    det = Burst(name="auth_failure_burst", kinds=("auth_failed",), max_events=10, window_s=60)
    attack = [event("auth_failed", "anonymous", seconds=i) for i in range(25)]
    found = run(det, attack)
    assert [f.event.key for f in found] == [attack[10].key, attack[21].key]
    assert set(found[1].evidence[0]["events"]).isdisjoint(found[0].evidence[0]["events"])


def test_peel_chain_fires_at_the_third_peel_with_the_whole_path():
    a, b, c, d = (addr(i) for i in range(20, 24))
    path = [transfer(addr(1), a, 100_000 * USDC_UNIT, seconds=0),
            transfer(a, b, 90_000 * USDC_UNIT, seconds=600),
            transfer(a, addr(30), 10_000 * USDC_UNIT, seconds=610),  # the peel
            transfer(b, c, 81_000 * USDC_UNIT, seconds=1200),
            transfer(c, d, 72_900 * USDC_UNIT, seconds=1800)]
    found = run(PeelChain(), path)
    assert len(found) == 1 and found[0].subject == d
    assert [x["key"] for x in found[0].evidence] == [path[i].key for i in (0, 1, 3, 4)]
    # one more hop extends the same chain: no second alert
    extended = run(PeelChain(), [*path, transfer(d, addr(24), 70_000 * USDC_UNIT, seconds=2400)])
    assert [f.alert_key for f in extended] == [found[0].alert_key]


def test_peel_chain_quiet_on_whole_forwards_splits_and_slow_hops():
    a, b, c, d = (addr(i) for i in range(20, 24))
    whole = [transfer(addr(1), a, 100 * USDC_UNIT), transfer(a, b, 100 * USDC_UNIT, seconds=1),
             transfer(b, c, 100 * USDC_UNIT, seconds=2), transfer(c, d, 100 * USDC_UNIT, seconds=3)]
    halves = [transfer(addr(1), a, 100 * USDC_UNIT), transfer(a, b, 50 * USDC_UNIT, seconds=1),
              transfer(b, c, 25 * USDC_UNIT, seconds=2), transfer(c, d, 12 * USDC_UNIT, seconds=3)]
    day = 24 * 3600
    slow = [transfer(addr(1), a, 100 * USDC_UNIT), transfer(a, b, 90 * USDC_UNIT, seconds=day),
            transfer(b, c, 81 * USDC_UNIT, seconds=2 * day),
            transfer(c, d, 72 * USDC_UNIT, seconds=3 * day)]
    for clean in (whole, halves, slow):
        assert run(PeelChain(), clean) == []


def test_peel_chain_ignores_hops_through_our_own_or_exchange_wallets():
    a, exchange, c, d = (addr(i) for i in range(20, 24))
    path = [transfer(addr(1), a, 100 * USDC_UNIT), transfer(a, exchange, 90 * USDC_UNIT, seconds=1),
            transfer(exchange, c, 81 * USDC_UNIT, seconds=2),
            transfer(c, d, 72 * USDC_UNIT, seconds=3)]
    assert len(run(PeelChain(), path)) == 1
    assert run(PeelChain(ignore=frozenset({exchange})), path) == []


def test_fan_in_fires_on_many_senders_to_one_address_within_the_window():
    collector = addr(50)
    pays = [transfer(addr(60 + i), collector, 1000 * USDC_UNIT, seconds=300 * i) for i in range(5)]
    found = run(FanIn(), pays)
    assert len(found) == 1 and found[0].subject == collector
    assert sorted(x["sender"] for x in found[0].evidence) == sorted(addr(60 + i) for i in range(5))
    # clean twins: four senders; five senders spread over more than the window; one sender
    # five times; and our own wallet (ignored) receiving from five
    assert run(FanIn(), pays[:4]) == []
    spread = [transfer(addr(60 + i), collector, 1000 * USDC_UNIT, seconds=1000 * i)
              for i in range(5)]
    assert run(FanIn(), spread) == []
    assert run(FanIn(), [transfer(addr(60), collector, 10 * USDC_UNIT, seconds=i)
                         for i in range(5)]) == []
    assert run(FanIn(ignore=frozenset({collector})), pays) == []


def test_state_keys_of_hostile_length_are_hashed_to_fit():
    det = Burst(name="b", kinds=("signing",), max_events=1, window_s=60)
    st = State()
    long_actor = "x" * 500
    found = run(det, [event("signing", long_actor), event("signing", long_actor, seconds=1)], st)
    assert len(found) == 1
    assert all(len(k) <= 200 for k in st.values)
