"""Spends above the fee-rate ceiling or paying dust are refused with a clear error, changing
nothing (no change index consumed, no input locked)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keeper.btc import (
    DustPaymentError,
    FeeRateTooHighError,
    MultisigWallet,
    SpendCoordinator,
    dust_threshold,
)
from keeper.btc.wallet import address_to_script

P2WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def wallet(warm, chain):
    chain.fund(bytes(warm.script_pubkey(0, 0)), 1_000_000)
    return MultisigWallet(warm, chain, lookahead=5, max_fee_rate=500)


def test_fee_rate_above_the_ceiling_is_refused(wallet):
    coord = SpendCoordinator(wallet, wallet.source, lambda *_: None)
    with pytest.raises(FeeRateTooHighError, match="501 sat/vB exceeds the ceiling of 500"):
        coord.propose([(P2WPKH, 50_000)], 501, T0)
    assert wallet.next_change == 0 and coord.locked() == set()
    assert coord.propose([(P2WPKH, 50_000)], 500, T0).outpoints  # at the ceiling: fine


def test_dust_payments_are_refused_at_the_relay_threshold(wallet, warm):
    p2wsh = warm.address(3)
    assert dust_threshold(address_to_script(P2WPKH, warm.network)) == 294
    assert dust_threshold(address_to_script(p2wsh, warm.network)) == 330
    for addr, amount in ((P2WPKH, 293), (p2wsh, 329)):
        with pytest.raises(DustPaymentError, match=f"{amount} sat .* below the dust threshold"):
            wallet.create_psbt([(P2WPKH, 10_000), (addr, amount)], fee_rate=2)
    assert wallet.next_change == 0
    psbt = wallet.create_psbt([(P2WPKH, 294), (p2wsh, 330)], fee_rate=2)
    assert [o.nValue for o in psbt.unsigned_tx.vout][:2] == [294, 330]


def test_the_ceiling_is_a_sane_integer(warm, chain):
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="max_fee_rate"):
            MultisigWallet(warm, chain, max_fee_rate=bad)  # type: ignore[arg-type]
