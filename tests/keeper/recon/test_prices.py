"""keeper.prices: integer cents, the rounding rule, staleness, stablecoins at face value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.prices import PriceError, StalePrice, StaticPrices, to_usd_cents, value_cents

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def feed(**cents: int) -> StaticPrices:
    """Prices observed at :data:`AS_OF`, one hour allowed."""
    return StaticPrices(cents, AS_OF)


def test_stablecoins_are_face_value_and_never_stale() -> None:
    f = feed()
    late = AS_OF + timedelta(days=30)
    assert f.price("usdc", late).cents == f.price("USDT", late).cents == 100
    assert value_cents(f, "USDC", 1_234_567, late) == 124  # 1.234567 USDC -> $1.24 (rounded up)


def test_rounding_never_understates_a_value() -> None:
    eth = feed(ETH=300_000)  # $3,000.00 per ETH
    assert value_cents(eth, "ETH", 1, AS_OF) == 1  # one wei is worth one cent, not zero
    assert value_cents(eth, "ETH", -1, AS_OF) == -1
    assert value_cents(eth, "ETH", 10**18, AS_OF) == 300_000
    assert value_cents(eth, "ETH", 0, AS_OF) == 0
    assert value_cents(feed(BTC=9_000_000), "BTC", 11_111, AS_OF) == 1_000  # 999.99 -> 1,000


@settings(max_examples=200)
@given(units=st.integers(-(2**256), 2**256), price=st.integers(0, 10**12),
       decimals=st.integers(0, 18))
def test_conversion_is_the_exact_value_rounded_away_from_zero(units, price, decimals) -> None:
    got = to_usd_cents(units, decimals, price)
    scaled = units * price  # the exact value in cents, times 10**decimals
    assert abs(got) * 10**decimals >= abs(scaled)  # never understated
    assert (abs(got) - 1) * 10**decimals < abs(scaled) or got == 0  # by less than one cent
    assert (got > 0) == (scaled > 0) and (got < 0) == (scaled < 0)


def test_a_stale_or_missing_price_is_refused() -> None:
    f = feed(ETH=300_000)
    assert f.price("ETH", AS_OF + timedelta(minutes=60)).cents == 300_000
    with pytest.raises(StalePrice):
        f.price("ETH", AS_OF + timedelta(minutes=61))
    with pytest.raises(PriceError, match="no price for BTC"):
        f.price("BTC", AS_OF)
    with pytest.raises(PriceError, match="unknown asset"):
        f.price("DOGE", AS_OF)


@pytest.mark.parametrize("body", [
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": {"ETH": 3000.5}},
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": {"ETH": "300000"}},
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": {"ETH": -1}},
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": {"ETH": True}},
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": {"DOGE": 10}},
    {"as_of": "2026-11-23T12:00:00", "prices": {"ETH": 300000}},
    {"as_of": "yesterday", "prices": {"ETH": 300000}},
    {"prices": {"ETH": 300000}},
    {"as_of": "2026-11-23T12:00:00+00:00", "prices": [300000]},
])
def test_a_malformed_price_file_is_refused(tmp_path, body) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(body))
    with pytest.raises(PriceError):
        StaticPrices.from_file(path)


def test_prices_from_the_data_folder(tmp_path) -> None:
    from keeper.config import Settings

    (tmp_path / "prices.json").write_text(json.dumps(
        {"as_of": "2026-11-23T12:00:00Z", "prices": {"eth": 250_000, "BTC": 9_000_000}}))
    f = StaticPrices.from_settings(Settings(data_dir=tmp_path))
    assert (f.price("ETH", AS_OF).cents, f.price("BTC", AS_OF).cents) == (250_000, 9_000_000)
    with pytest.raises(PriceError):
        StaticPrices.from_settings(Settings(data_dir=tmp_path / "nowhere"))


def test_prices_from_the_configured_file(tmp_path) -> None:
    """``STRONGROOM_PRICES_FILE`` (Settings.prices_file) wins over the data folder's file."""
    from keeper.config import Settings

    elsewhere = tmp_path / "feeds" / "usd.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps(
        {"as_of": "2026-11-23T12:00:00Z", "prices": {"ETH": 260_000}}))
    f = StaticPrices.from_settings(Settings(data_dir=tmp_path, prices_file=elsewhere))
    assert f.price("ETH", AS_OF).cents == 260_000
