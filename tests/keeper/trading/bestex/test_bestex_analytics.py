"""Best-execution figures computed by hand on the two executions of conftest.py.

Buy 0.6 BTC (limit 65,050.00), 0.5 filled: deepbook 0.3 @ 65,000.00 (two fills: 650,000 + 1,300,000
cents, fees 650 + 1,300), fastlane 0.2 @ 65,005.00 (1,300,100 cents, fee 651).
  notional 3,250,100; fees 2,601; all-in 3,252,701 cents.
  mids (floor): deepbook 6,499,500; fastlane 6,500,000; thirdex 6,498,500; slowex untrusted.
  arrival = median(6,498,500, 6,499,500, 6,500,000) = 6,499,500.
  VWAP = (0.3 x 6,500,000 + 0.2 x 6,500,500) / 0.5 = 6,500,200.
  slippage vs arrival = 700 / 6,499,500 x 1e4 = 1.0770 bps; all-in price 3,252,701 x 2 = 6,505,402
  -> 5,902 / 6,499,500 x 1e4 = 9.0807 bps; vs the venues' mids (0.6 x 6,499,500 + 0.4 x 6,500,000 =
  6,499,700): 500 / 6,499,700 x 1e4 = 0.7693 bps; fees 2,601 / 3,250,100 x 1e4 = 8.0028 bps.
  alone for 0.5 BTC: deepbook 1,950,000 + 1,300,200 = 3,250,200 + fee 3,251 = 3,253,451;
  fastlane 1,300,100 + 1,951,500 = 3,251,600 + fee 1,626 = 3,253,226 (the baseline);
  thirdex 3,249,500 + fee 2,600 = 3,252,100 (best, but refused by the policy).
  improvement = 3,253,226 - 3,252,701 = 525 cents = 525 / 3,253,226 x 1e4 = 1.6138 bps;
  cost of compliance = 3,253,226 - 3,252,100 = 1,126 cents.
Sell 0.1 BTC: fastlane 0.05 @ 64,995.00 (324,975, fee 163), deepbook 0.05 @ 64,990.00 (324,950, fee 325).
  received 649,925 - 488 = 649,437. arrival = (6,499,500 + 6,500,000) / 2 = 6,499,750.
  VWAP 6,499,250: slippage 500 / 6,499,750 x 1e4 = 0.7693 bps; all-in price 6,494,370 -> 8.2772 bps.
  alone: deepbook 649,900 - 650 = 649,250; fastlane 324,975 + 324,900 = 649,875 - 325 = 649,550.
  improvement = 649,437 - 649,550 = -113 cents (routing did worse) = -1.7396 bps.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from keeper.trading.bestex import ExecutionRecord, RecordError, analyse, fixed, summarise, venue_usage
from keeper.trading.types import Fill, Side


def test_buy_partially_filled_on_two_venues_by_hand(buy: ExecutionRecord) -> None:
    r = analyse(buy)
    assert (r.filled, r.notional, r.fees, r.all_in) == (50_000_000, 3_250_100, 2_601, 3_252_701)
    assert r.arrival_mid == 6_499_500
    assert r.vwap == 6_500_200
    assert r.all_in_price == 6_505_402
    assert r.slippage_vs_arrival_bps == Fraction(700 * 10_000, 6_499_500)
    assert r.all_in_slippage_vs_arrival_bps == Fraction(5_902 * 10_000, 6_499_500)
    assert r.slippage_vs_mid_bps == Fraction(500 * 10_000, 6_499_700)
    assert r.fee_bps == Fraction(2_601 * 10_000, 3_250_100)
    assert (
        fixed(r.slippage_vs_arrival_bps, 2),
        fixed(r.all_in_slippage_vs_arrival_bps, 2),
        fixed(r.slippage_vs_mid_bps, 2),
        fixed(r.fee_bps, 2),
    ) == ("1.08", "9.08", "0.77", "8.00")
    rows = {v.venue: v for v in r.venues}
    assert [rows[v].status for v in ("deepbook", "fastlane", "thirdex", "slowex")] == [
        "used",
        "used",
        "blocked",
        "untrusted",
    ]
    assert (rows["deepbook"].filled, rows["deepbook"].notional, rows["deepbook"].fee) == (
        30_000_000,
        1_950_000,
        1_950,
    )
    assert (rows["deepbook"].share, rows["fastlane"].share) == (Fraction(3, 5), Fraction(2, 5))
    assert (rows["deepbook"].alone_notional, rows["deepbook"].alone_fee, rows["deepbook"].alone_all_in) == (
        3_250_200,
        3_251,
        3_253_451,
    )
    assert (rows["fastlane"].alone_notional, rows["fastlane"].alone_fee, rows["fastlane"].alone_all_in) == (
        3_251_600,
        1_626,
        3_253_226,
    )
    assert rows["thirdex"].alone_all_in == 3_252_100 and "US.venues" in rows["thirdex"].note
    assert "9000 ms" in rows["slowex"].note
    assert r.baseline == "fastlane"
    assert r.improvement == 525 and r.beats_baseline
    assert r.improvement_bps == Fraction(525 * 10_000, 3_253_226) and fixed(r.improvement_bps, 2) == "1.61"
    assert (r.best_overall, r.forbidden_best, r.compliance_cost) == ("thirdex", "thirdex", 1_126)
    assert r.routed_compliance_cost == 601


def test_sell_signs_by_hand(sell: ExecutionRecord) -> None:
    r = analyse(sell)
    assert (r.notional, r.fees, r.all_in) == (649_925, 488, 649_437)
    assert r.arrival_mid == Fraction(6_499_750)
    assert r.vwap == 6_499_250
    assert r.slippage_vs_arrival_bps == Fraction(500 * 10_000, 6_499_750)
    assert r.all_in_slippage_vs_arrival_bps == Fraction(5_380 * 10_000, 6_499_750)
    assert r.slippage_vs_mid_bps == Fraction(500 * 10_000, 6_499_750)
    assert {v.venue: v.alone_all_in for v in r.venues} == {"deepbook": 649_250, "fastlane": 649_550}
    assert r.baseline == "fastlane" and r.improvement == -113 and r.beats_baseline is False
    assert fixed(r.improvement_bps, 2) == "-1.74"
    assert (r.forbidden_best, r.compliance_cost, r.routed_compliance_cost) == (None, None, None)


def test_summary_over_the_two_orders_and_a_period(buy: ExecutionRecord, sell: ExecutionRecord) -> None:
    reports = [analyse(buy), analyse(sell)]
    s = summarise(reports)["USD"]
    assert (s.orders, s.filled_orders, s.compared, s.beating, s.tied) == (2, 2, 2, 1, 0)
    assert s.share_beating == Fraction(1, 2)
    assert s.mean_improvement_bps == (Fraction(5_250_000, 3_253_226) + Fraction(-1_130_000, 649_550)) / 2
    assert s.weighted_improvement_bps == Fraction((525 - 113) * 10_000, 3_253_226 + 649_550)
    assert (s.total_improvement, s.fees, s.all_in) == (412, 3_089, 3_252_701 + 649_437)
    assert (s.forbidden_best, s.compliance_cost, s.routed_compliance_cost) == (1, 1_126, 601)
    assert (
        s.mean_slippage_vs_arrival_bps
        == (Fraction(7_000_000, 6_499_500) + Fraction(5_000_000, 6_499_750)) / 2
    )
    only_sell = summarise(reports, start_ms=sell.parent.created_at)["USD"]
    assert (only_sell.orders, only_sell.total_improvement, only_sell.share_beating) == (1, -113, 0)
    assert summarise(reports, end_ms=buy.parent.created_at) == {}


def test_nothing_filled_or_no_single_venue_deep_enough_is_not_compared(buy: ExecutionRecord) -> None:
    r = analyse(replace(buy, fills=()))
    assert (r.filled, r.vwap, r.slippage_vs_arrival_bps, r.baseline, r.improvement) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert r.arrival_mid == 6_499_500
    # a limit of 65,000.00 leaves deepbook 0.3 and thirdex 1.0 BTC within it: 0.5 filled elsewhere cannot be
    # filled on deepbook alone and thirdex is refused: no baseline
    tight = replace(buy, parent=replace(buy.parent, limit_price=6_500_000))
    r = analyse(tight)
    assert r.baseline is None and r.improvement is None and r.beats_baseline is None
    assert r.forbidden_best == "thirdex" and r.compliance_cost is None
    s = summarise([r])["USD"]
    assert (s.compared, s.share_beating, s.mean_improvement_bps) == (0, None, None)


def test_a_lone_trusted_venue_sets_the_arrival_and_untrusted_books_never_do(buy: ExecutionRecord) -> None:
    untrusted = tuple(replace(a, trusted=a.venue == "deepbook") for a in buy.arrivals)
    r = analyse(replace(buy, arrivals=untrusted))
    assert r.arrival_mid == 6_499_500 and r.baseline == "deepbook" and r.forbidden_best is None
    assert (
        analyse(replace(buy, arrivals=tuple(replace(a, trusted=False) for a in buy.arrivals))).arrival_mid
        is None
    )


@pytest.mark.parametrize(
    "bad,needle",
    [
        (lambda r: replace(r, fills=r.fills + (replace(r.fills[0], side=Side.SELL),)), "fills.3"),
        (lambda r: replace(r, fills=r.fills + (replace(r.fills[0], symbol="ETH/USD"),)), "fills.3"),
        (lambda r: replace(r, fills=r.fills + (replace(r.fills[0], amount=0),)), "fills.3"),
        (lambda r: replace(r, fills=r.fills + (replace(r.fills[0], fee=-1),)), "fills.3"),
        (lambda r: replace(r, fills=r.fills + (replace(r.fills[0], price=1.5),)), "fills.3"),
        (
            lambda r: replace(
                r, fills=r.fills + (Fill("deepbook", "x", "BTC/USD", Side.BUY, 10_000_001, 1, 0, 0, 0),)
            ),
            "more was filled",
        ),
        (lambda r: replace(r, arrivals=r.arrivals + r.arrivals[:1]), "appears twice"),
        (
            lambda r: replace(
                r, arrivals=(replace(r.arrivals[0], book=replace(r.arrivals[0].book, symbol="ETH/USD")),)
            ),
            "arrivals.deepbook",
        ),
        (lambda r: replace(r, parent=replace(r.parent, symbol="DOGE/USD")), "parent.symbol"),
        (lambda r: replace(r, parent=replace(r.parent, symbol=["x"])), "parent.symbol"),
    ],
)
def test_inconsistent_records_are_refused_with_the_field(buy: ExecutionRecord, bad, needle: str) -> None:  # noqa: ANN001
    with pytest.raises(RecordError, match=needle.replace(".", r"\.")):
        analyse(bad(buy))


@pytest.mark.parametrize(
    "value,places,text",
    [
        (Fraction(1, 200), 2, "0.01"),
        (Fraction(-1, 200), 2, "-0.01"),
        (Fraction(1, 201), 2, "0.00"),
        (Fraction(-1, 300), 2, "0.00"),
        (Fraction(25, 10), 0, "3"),
        (Fraction(-25, 10), 0, "-3"),
        (7, 1, "7.0"),
    ],
)
def test_fixed_rounds_half_away_from_zero(value: Fraction, places: int, text: str) -> None:
    assert fixed(value, places) == text


def test_fills_beyond_the_limit_price_are_reported_not_hidden(buy: ExecutionRecord) -> None:
    assert analyse(buy).limit_breaches == ()
    # the limit is USD 65,000.00: fastlane's fill at 65,005.00 breached it (deepbook's at 65,000.00 did not)
    r = analyse(replace(buy, parent=replace(buy.parent, limit_price=6_500_000)))
    assert [(f.venue, f.price) for f in r.limit_breaches] == [("fastlane", 6_500_500)]
    sell = replace(buy.fills[0], side=Side.SELL)
    s = replace(buy, parent=replace(buy.parent, side=Side.SELL, limit_price=6_500_001), fills=(sell,))
    assert analyse(s).limit_breaches == (sell,)
    assert analyse(replace(s, parent=replace(s.parent, limit_price=None))).limit_breaches == ()
    assert summarise([analyse(buy), r, analyse(s)])["USD"].limit_breach_orders == 2


def test_venue_usage_over_a_period_by_hand(buy: ExecutionRecord, sell: ExecutionRecord) -> None:
    rows = {u.venue: u for u in venue_usage([analyse(buy), analyse(sell)])}
    total = 3_250_100 + 649_925
    deep, fast = rows["deepbook"], rows["fastlane"]
    assert (deep.orders_used, deep.notional, deep.fees) == (2, 1_950_000 + 324_950, 1_950 + 325)
    assert (fast.orders_used, fast.notional, fast.fees) == (2, 1_300_100 + 324_975, 651 + 163)
    assert deep.share == Fraction(2_274_950, total) and fast.share == Fraction(1_625_075, total)
    assert (fast.baseline, fast.best_alone, deep.baseline, deep.best_alone) == (2, 1, 0, 0)
    assert (rows["thirdex"].blocked, rows["thirdex"].best_alone, rows["thirdex"].notional) == (1, 1, 0)
    assert (rows["slowex"].untrusted, rows["slowex"].orders_used) == (1, 0)
    assert {u.quote for u in rows.values()} == {"USD"}
    assert [u.venue for u in venue_usage([analyse(buy), analyse(sell)], start_ms=sell.parent.created_at)] == [
        "deepbook",
        "fastlane",
    ]


def test_a_fill_on_a_venue_without_an_arrival_book_still_appears(buy: ExecutionRecord) -> None:
    # fastlane's book was not fetched at the first decision (it joined in a later round)
    r = analyse(replace(buy, arrivals=tuple(a for a in buy.arrivals if a.venue != "fastlane")))
    rows = {v.venue: v for v in r.venues}
    assert rows["fastlane"].status == "used" and rows["fastlane"].filled == 20_000_000
    assert rows["fastlane"].notional == 1_300_100 and rows["fastlane"].mid is None
    assert not rows["fastlane"].alone_complete and "no arrival book" in rows["fastlane"].note
    assert sum(v.share for v in r.venues) == 1 and r.baseline == "deepbook"
    assert r.slippage_vs_mid_bps is None  # no mid for that fill's venue
