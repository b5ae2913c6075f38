"""The wire format's one amount parser: decimal strings of integer cents, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.integrations.corebanking.wire import (
    MAX_CENTS,
    GLBatch,
    cents,
    gl_problems,
    signed_cents,
)


@settings(max_examples=200)
@given(st.integers(0, MAX_CENTS))
def test_every_cent_amount_round_trips(n: int) -> None:
    assert cents(str(n)) == n
    assert signed_cents(str(-n)) == -n


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=25), st.floats(), st.integers(), st.none(), st.booleans()))
def test_anything_else_is_refused_or_is_canonical(value: object) -> None:
    """A value is accepted only as the canonical decimal string of what it parses to."""
    try:
        n = cents(value)
    except ValueError:
        return
    assert isinstance(value, str) and value == str(n) and 0 <= n <= MAX_CENTS


@pytest.mark.parametrize("value", ["-0", "--1", "-", "+1", "- 1", "-01"])
def test_signed_amounts_are_canonical_too(value: str) -> None:
    with pytest.raises(ValueError):
        signed_cents(value)


def test_an_overdrawn_balance_is_a_negative_amount_not_an_error() -> None:
    """Real core banking has overdrafts: reconciliation must read them, not fail on them."""
    assert signed_cents("-12345") == -12345


def test_gl_problems_lists_every_reason() -> None:
    b = GLBatch(batch_id="GL-1", posting_date="2026-02-01", entries=[
        {"account": "1100-CUSTOMER-USDC-WALLET", "debit": "0", "credit": "5", "currency": "USD",
         "description": "d", "reference": "r"},
        {"account": "X", "debit": "4", "credit": "0", "currency": "USD", "description": "d",
         "reference": "r"}])
    assert gl_problems(b) == ["entry 1: unknown GL account 'X'",
                              "unbalanced in USD: debits 4 != credits 5 cents"]
