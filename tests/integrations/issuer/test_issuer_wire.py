"""The issuer wire format without a chain: USD strings <-> base units, webhook signatures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keeper.integrations.issuer import WebhookSignatureError, verify_webhook
from keeper.integrations.issuer.amounts import to_amount, to_units
from keeper.integrations.issuer.webhook import signed_headers


@given(st.integers(min_value=1, max_value=10**21 - 1))
def test_units_survive_the_wire_exactly(units):
    assert to_units(to_amount(units)) == units


def test_zero_is_a_balance_never_an_amount():
    assert to_units("0.000000", allow_zero=True) == 0 == to_units("0", allow_zero=True)
    with pytest.raises(ValueError):
        to_units("0.00")


@pytest.mark.parametrize("amount, units", [("1000000.00", 10**12), ("0.000001", 1), ("12.5", 12_500_000),
                                           ("999999999999999.999999", 10**21 - 1)])
def test_decimal_strings_are_read_exactly(amount, units):
    assert to_units(amount) == units


@pytest.mark.parametrize("bad", ["0", "0.000000", "-1", "+1", "1e6", "1.", ".5", "01", "1.0000001",
                                 " 1", "1 ", "1\n", "NaN", "Infinity", "1_000", "١", "1000000000000000", ""])
def test_amounts_the_token_cannot_hold_exactly_are_refused(bad):
    with pytest.raises(ValueError):
        to_units(bad)


def test_signature_binds_body_timestamp_and_secret():
    body = b'{"event_id":"mint:1:complete"}'
    headers = signed_headers(b"s3cret", body, now=1_700_000_000)
    verify_webhook(b"s3cret", headers, body, now=1_700_000_100)
    ts = headers["X-Issuer-Timestamp"]
    for case in ({**headers, "X-Issuer-Timestamp": str(int(ts) + 1)},  # timestamp moved
                 {"X-Issuer-Timestamp": ts},  # no signature
                 {**headers, "X-Issuer-Signature": headers["X-Issuer-Signature"].upper()}):
        with pytest.raises(WebhookSignatureError):
            verify_webhook(b"s3cret", case, body, now=1_700_000_000)
    with pytest.raises(WebhookSignatureError):  # a replay after the tolerance window
        verify_webhook(b"s3cret", headers, body, now=1_700_000_000 + 301)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(b"s3cret", headers, body + b" ", now=1_700_000_000)
