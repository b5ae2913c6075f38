"""USD amounts on the issuer's wire (decimal strings) <-> USDC base units (integers).

The one home of the conversion: the issuer API speaks ``"1000000.00"`` (USD, at most six
decimals, USDC's own precision); everything else in Strongroom is integer base units. No floats.
"""

from __future__ import annotations

import re

from keeper.assets import USDC

DECIMALS = USDC.decimals
_AMOUNT = re.compile(rf"^(0|[1-9][0-9]{{0,14}})(?:\.([0-9]{{1,{DECIMALS}}}))?$")


def to_units(amount: str, *, allow_zero: bool = False) -> int:
    """Parse a positive USD decimal string (e.g. ``"12.5"``) into base units (``12500000``).

    Refuses (``ValueError``) signs, exponents, spaces, more than six decimals, more than 15
    integer digits and zero (unless ``allow_zero``, for balances): an amount the token could not
    represent exactly is never rounded.
    """
    match = _AMOUNT.fullmatch(amount) if isinstance(amount, str) else None
    if match is None:
        raise ValueError("amount must be a positive decimal string with at most "
                         f"{DECIMALS} decimals")
    whole, frac = match.group(1), match.group(2) or ""
    units = int(whole) * 10**DECIMALS + int(frac.ljust(DECIMALS, "0"))
    if units == 0 and not allow_zero:
        raise ValueError("amount must be greater than zero")
    return units


def to_amount(units: int) -> str:
    """Format base units as the issuer's USD decimal string (``12500000`` -> ``"12.500000"``)."""
    if not isinstance(units, int) or isinstance(units, bool) or units < 0:
        raise ValueError("units must be a non-negative integer")
    whole, frac = divmod(units, 10**DECIMALS)
    return f"{whole}.{frac:0{DECIMALS}d}"
