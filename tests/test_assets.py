"""``keeper.assets`` is the one home of asset facts: addresses and what can be deposited."""

from __future__ import annotations

import re
from pathlib import Path

from api.schemas import DepositAsset
from keeper.assets import ASSETS, BTC, DEPOSITABLE, ETH, USDC, USDT, ZERO_ADDRESS, token_addresses

ROOT = Path(__file__).resolve().parent.parent


def test_depositable_assets_are_the_vaults() -> None:
    assert list(DEPOSITABLE) == ["ETH", "USDC", "USDT"]
    assert not BTC.is_depositable and BTC.symbol in ASSETS
    assert ETH.is_native and not USDC.is_native and ETH.address == ZERO_ADDRESS
    assert token_addresses() == {"ETH": ZERO_ADDRESS, "USDC": USDC.address, "USDT": USDT.address}
    assert {a.value for a in DepositAsset} == set(DEPOSITABLE)  # the API offers exactly those


def test_no_other_module_spells_a_token_address() -> None:
    """Token addresses come from keeper.assets; a second spelling could silently diverge."""
    literals = [a.address for a in DEPOSITABLE.values() if a.address != ZERO_ADDRESS]
    pending: set[Path] = set()
    offenders = []
    for folder in ("keeper", "api", "scripts", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "keeper/assets.py" or path in pending:
                continue
            text = path.read_text().lower()
            offenders += [f"{path.relative_to(ROOT)}: {lit}" for lit in literals
                          if re.search(lit.lower(), text)]
    assert offenders == []
