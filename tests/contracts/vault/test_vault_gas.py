"""Gas of the vault's hot paths, printed for the report (figures, not timing)."""

from __future__ import annotations

from scripts.deployments import ETH

USD = 10**6
ETHER = 10**18


def op(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_withdrawal_gas(funded_vault, who, usdc_t, usdt_t):
    v = funded_vault
    figures = {}
    for name, token, amount in (("eth", ETH, ETHER), ("usdc", usdc_t.address, 1000 * USD),
                                ("usdt", usdt_t.address, 1000 * USD)):
        v.withdraw(token, who.dest.address, amount, op(900 + len(figures)), sender=who.customer)
        tx = v.withdraw(token, who.dest.address, amount, op(950 + len(figures)),
                        sender=who.customer)
        figures[name] = tx.gas_used
    print("withdraw gas_used (warm day bucket):", figures)
    assert all(0 < g < 200_000 for g in figures.values())
