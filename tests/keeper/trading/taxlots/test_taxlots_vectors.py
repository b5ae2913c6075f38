"""Tax lots against vectors computed by hand (in the comments), on SQLite and PostgreSQL.

Units: BTC in satoshi (1 BTC = 10**8), ETH in wei (10**18), money in US cents. Split rule: the
part taken of a lot gets floor(basis * taken / quantity), the remainder stays with the lot.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keeper.trading.taxlots import Kind, Method, TaxLotBook

T0 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
BTC = 10**8
ETH = 10**18


def _lots(book: TaxLotBook, client: str, asset: str) -> list[tuple[str, str, int, int]]:
    return [(x.origin, x.location, x.quantity, x.basis) for x in book.lots(client, asset)]


def _pieces(outcome) -> list[tuple[str, int, int, int, bool]]:
    return [(p.origin, p.quantity, p.basis, p.proceeds, p.long_term) for p in outcome.pieces]


def _three_buys_one_sale(book: TaxLotBook, client: str):
    # a1 day 0:  1 BTC for $10,000.00 + $10.00 fee -> basis 1,001,000 c (unit 1,001,000)
    # a2 day 10: 1 BTC for $30,000.00 + $30.01 fee -> basis 3,003,001 c (the dearest)
    # a3 day 20: 1 BTC for $20,000.00 + $20.00 fee -> basis 2,002,000 c
    # d1 day 380: sell 1.5 BTC for $45,000.00, $45.00 fee -> net proceeds 4,495,500 c
    # held at d1: a1 380 days (long), a2 370 days (long), a3 360 days (short; > 365 is long)
    book.record_acquisition(client, "a1", "BTC", BTC, 1_000_000, T0, fee=1_000)
    book.record_acquisition(client, "a2", "BTC", BTC, 3_000_000, T0 + 10 * DAY, fee=3_001)
    book.record_acquisition(client, "a3", "BTC", BTC, 2_000_000, T0 + 20 * DAY, fee=2_000)
    return book.record_disposal(client, "d1", "BTC", 3 * BTC // 2, 4_500_000, T0 + 380 * DAY,
                                fee=4_500).outcome


# Proceeds 4,495,500 over 1.5 BTC: the first whole-BTC piece gets floor(4,495,500 * 1 / 1.5)
# = 2,997,000, the half-BTC piece the rest, 1,498,500. A half of a2 takes floor(3,003,001 / 2)
# = 1,501,500; 1,501,501 stays with the half that remains.
VECTORS = {
    # FIFO: a1 whole, then half of a2. Gain 4,495,500 - (1,001,000 + 1,501,500) = 1,993,000.
    Method.FIFO: dict(
        pieces=[("a1", BTC, 1_001_000, 2_997_000, True), ("a2", BTC // 2, 1_501_500, 1_498_500, True)],
        gain=1_993_000, short=0, long=1_993_000,
        left=[("a2", "custody", BTC // 2, 1_501_501), ("a3", "custody", BTC, 2_002_000)]),
    # LIFO: a3 whole (short: 2,997,000 - 2,002,000 = 995,000), then half of a2 (long:
    # 1,498,500 - 1,501,500 = -3,000). Gain 992,000.
    Method.LIFO: dict(
        pieces=[("a3", BTC, 2_002_000, 2_997_000, False), ("a2", BTC // 2, 1_501_500, 1_498_500, True)],
        gain=992_000, short=995_000, long=-3_000,
        left=[("a1", "custody", BTC, 1_001_000), ("a2", "custody", BTC // 2, 1_501_501)]),
    # HIFO: a2 whole (long: 2,997,000 - 3,003,001 = -6,001), then half of a3 (short:
    # 1,498,500 - 1,001,000 = 497,500). Gain 491,499.
    Method.HIFO: dict(
        pieces=[("a2", BTC, 3_003_001, 2_997_000, True), ("a3", BTC // 2, 1_001_000, 1_498_500, False)],
        gain=491_499, short=497_500, long=-6_001,
        left=[("a1", "custody", BTC, 1_001_000), ("a3", "custody", BTC // 2, 1_001_000)]),
}


@pytest.mark.parametrize("method", list(Method))
def test_same_trades_under_each_method(taxlots_engine, clock, client, method):
    book = TaxLotBook(taxlots_engine, default_method=method, clock=clock)
    want = VECTORS[method]
    d1 = _three_buys_one_sale(book, client)
    assert d1.method is method and d1.fees_in_basis
    assert _pieces(d1) == want["pieces"]
    assert (d1.proceeds, d1.gain, d1.short_gain, d1.long_gain) == (
        4_495_500, want["gain"], want["short"], want["long"])
    assert d1.unmatched_quantity == 0
    assert _lots(book, client, "BTC") == want["left"]
    # the stored outcome is the one returned
    assert [o for o in book.outcomes(client) if o.kind is Kind.DISPOSE] == [d1]


def test_fees_kept_out_of_bases(taxlots_engine, clock, client):
    # Bases are costs only (1,000,000 / 3,000,000 / 2,000,000), proceeds gross 4,500,000.
    # FIFO: a1 whole gets floor(4,500,000 / 1.5) = 3,000,000 (gain 2,000,000), half of a2 gets
    # 1,500,000 for a basis of 1,500,000 (gain 0). Fees 1,000 + 3,001 + 2,000 + 4,500 = 10,501
    # are reported as expenses, outside the gain.
    from keeper.trading.taxlots import reports

    book = TaxLotBook(taxlots_engine, fees_in_basis=False, clock=clock)
    d1 = _three_buys_one_sale(book, client)
    assert _pieces(d1) == [("a1", BTC, 1_000_000, 3_000_000, True),
                           ("a2", BTC // 2, 1_500_000, 1_500_000, True)]
    assert (d1.proceeds, d1.basis, d1.gain, d1.fee) == (4_500_000, 2_500_000, 2_000_000, 4_500)
    assert _lots(book, client, "BTC") == [("a2", "custody", BTC // 2, 1_500_000),
                                          ("a3", "custody", BTC, 2_000_000)]
    totals = reports.realised_report(book, client)["totals"]["BTC"]
    assert (totals["gain"], totals["fees_expensed"]) == ("2000000", "10501")


# rotki issue 5561 (https://github.com/rotki/rotki/issues/5561#issuecomment-1423338938), the
# Canada Revenue Agency example rotki's test_fees (rotkehlchen/tests/unit/test_cost_basis.py)
# runs, EUR read as USD: buy 100 ETH for 5,000.00 + 10.00 fee; sell 50 ETH for 6,000.00, 10.00
# fee; buy 50 ETH for 6,500.00 + 10.00 fee; sell 40 ETH for 3,600.00, 10.00 fee.
# Fees in bases: lot1 basis 501,000 (100 ETH), lot3 651,000 (50 ETH).
#   sale 1 (every method: only lot1): basis 501,000 * 50/100 = 250,500; net 599,000 -> 348,500
#     (rotki's ACB gives 3,485.00 too: the same single lot).
#   sale 2 FIFO: lot1's 50 left (250,500) -> 40 take 250,500 * 40/50 = 200,400; net 359,000
#     -> 158,600; lot1 keeps 10 ETH / 50,100.
#   sale 2 LIFO and HIFO (lot3 is dearer, 13,020 vs 5,010 per ETH): 651,000 * 40/50 = 520,800
#     -> 359,000 - 520,800 = -161,800; lot3 keeps 10 ETH / 130,200.
#   (rotki's ACB, which we do not offer, averages: 9,015.00 per 100 ETH -> -16.00.)
# Fees out of bases, FIFO: 600,000 - 250,000 = 350,000 and 360,000 - 200,000 = 160,000, four
# fees of 1,000 expensed: exactly rotki's expected FIFO figures (3500, 1600 and -10 per fee).
ROTKI = [
    (Method.FIFO, True, [348_500, 158_600], [("lot1", "custody", 10 * ETH, 50_100),
                                              ("lot3", "custody", 50 * ETH, 651_000)]),
    (Method.LIFO, True, [348_500, -161_800], [("lot1", "custody", 50 * ETH, 250_500),
                                               ("lot3", "custody", 10 * ETH, 130_200)]),
    (Method.HIFO, True, [348_500, -161_800], [("lot1", "custody", 50 * ETH, 250_500),
                                               ("lot3", "custody", 10 * ETH, 130_200)]),
    (Method.FIFO, False, [350_000, 160_000], [("lot1", "custody", 10 * ETH, 50_000),
                                               ("lot3", "custody", 50 * ETH, 650_000)]),
]


@pytest.mark.parametrize(("method", "fees_in", "gains", "left"), ROTKI)
def test_rotki_5561_fee_example(taxlots_engine, clock, client, method, fees_in, gains, left):
    book = TaxLotBook(taxlots_engine, default_method=method, fees_in_basis=fees_in, clock=clock)
    t = 1_677_593_073_000  # rotki's timestamps (ms), one second apart
    book.record_acquisition(client, "lot1", "ETH", 100 * ETH, 500_000, t, fee=1_000)
    s1 = book.record_disposal(client, "sale1", "ETH", 50 * ETH, 600_000, t + 1_000, fee=1_000)
    book.record_acquisition(client, "lot3", "ETH", 50 * ETH, 650_000, t + 2_000, fee=1_000)
    s2 = book.record_disposal(client, "sale2", "ETH", 40 * ETH, 360_000, t + 3_000, fee=1_000)
    assert [s1.outcome.gain, s2.outcome.gain] == gains
    assert _lots(book, client, "ETH") == left
    from keeper.trading.taxlots import reports

    totals = reports.realised_report(book, client)["totals"]["ETH"]
    assert totals["fees_expensed"] == ("0" if fees_in else "4000")


def test_transfer_moves_lots_and_is_not_a_disposal(book, client):
    # a1 day 0: 2 BTC for 4,000,001 c into "cold". Day 300: 1 BTC leaves cold for "hot", 10,000
    # sat of it the network fee. Arriving first (FIFO): 99,990,000 sat of a1 take
    # floor(4,000,001 * 99,990,000 / 200,000,000) = 1,999,800; cold keeps 100,010,000 sat /
    # 2,000,201. The fee's 10,000 sat take floor(2,000,201 * 10,000 / 100,010,000) = 200, carried
    # onto the arriving piece: hot holds 99,990,000 sat / 2,000,000; cold 1 BTC / 2,000,001.
    # Day 370: sell 1 BTC from hot for 5,000,000: 99,990,000 sat matched (held since day 0, not
    # day 300: 370 days, long) get 5,000,000 * 0.9999 = 4,999,500 -> gain 2,999,500; the 10,000
    # sat hot never held are unmatched with their 500 c of proceeds and no basis.
    book.record_acquisition(client, "a1", "BTC", 2 * BTC, 4_000_001, T0, location="cold")
    moved = book.record_transfer(client, "t1", "BTC", BTC, "cold", "hot", T0 + 300 * DAY,
                                 fee_quantity=10_000).outcome
    assert moved.kind is Kind.TRANSFER and moved.gain == 0
    assert [(p.origin, p.quantity, p.basis, p.carried) for p in moved.pieces] == [
        ("a1", 99_990_000, 1_999_800, 200)]
    assert [(p.origin, p.quantity, p.basis) for p in moved.fee_pieces] == [("a1", 10_000, 200)]
    assert _lots(book, client, "BTC") == [("a1", "cold", BTC, 2_000_001),
                                          ("a1", "hot", 99_990_000, 2_000_000)]
    assert [o.kind for o in book.outcomes(client)] == [Kind.ACQUIRE, Kind.TRANSFER]
    lots = book.lots(client, "BTC")
    assert {x.acquired_at for x in lots} == {T0}

    sale = book.record_disposal(client, "d1", "BTC", BTC, 5_000_000, T0 + 370 * DAY,
                                location="hot").outcome
    assert _pieces(sale) == [("a1", 99_990_000, 2_000_000, 4_999_500, True)]
    assert (sale.gain, sale.long_gain, sale.unmatched_quantity, sale.unmatched_proceeds) == (
        2_999_500, 2_999_500, 10_000, 500)
    assert _lots(book, client, "BTC") == [("a1", "cold", BTC, 2_000_001)]


def test_disposal_without_lots_is_reported_unmatched(book, client):
    # Nothing was ever acquired: 0.5 ETH sold for 1,000.00 with a 1.00 fee is all unmatched:
    # quantity 5 * 10**17 wei, proceeds 99,900 c, no basis, no gain invented.
    from keeper.trading.taxlots import reports

    sale = book.record_disposal(client, "d1", "ETH", ETH // 2, 100_000, T0, fee=100).outcome
    assert (sale.pieces, sale.basis, sale.gain) == ((), 0, 0)
    assert (sale.unmatched_quantity, sale.unmatched_proceeds) == (ETH // 2, 99_900)
    rep = reports.realised_report(book, client)
    assert rep["totals"]["ETH"]["unmatched_quantity"] == str(ETH // 2)
    assert rep["totals"]["ETH"]["unmatched_proceeds"] == "99900"
    rows = reports.realised_csv(rep).splitlines()
    assert rows[1].split(",")[6:11] == [str(ETH // 2), "99900", "", "", "unmatched"]
