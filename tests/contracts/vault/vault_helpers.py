"""Vault test constants and helpers (a uniquely named module: `tests` is taken on sys.path)."""

from __future__ import annotations

from typing import Any

DAY = 86400
USD = 10**6
# Small limits so the tests reach them. Per token (base units): tx cap, queue threshold,
# instant budget per rolling 24 h.
ETH_LIMITS = (40 * 10**18, 10 * 10**18, 60 * 10**18)
USD_LIMITS = (400_000 * USD, 50_000 * USD, 200_000 * USD)
# Pricing (micro-USD per whole token): decimals, min, max, price. ETH at 2,000 USD.
ETH_PRICING = (18, 1_000 * USD, 4_000 * USD, 2_000 * USD)
USD_PRICING = (6, USD, USD, USD)
# Vault-wide micro-USD per rolling 24 h: withdrawals + warm sweeps, cold sweeps.
DAILY_USD = 1_000_000 * USD
COLD_USD = 2_000_000 * USD


def op(n: int) -> bytes:
    """A deterministic non-zero op id."""
    return n.to_bytes(32, "big")


def next_hour(chain: Any, hours: int = 1) -> None:
    """Mine a block `hours` hour boundaries ahead (start of that hour + 60 s)."""
    chain.mine(timestamp=(chain.pending_timestamp // 3600 + hours) * 3600 + 60)
