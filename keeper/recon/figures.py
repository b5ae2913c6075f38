"""The figures of a run as stored (JSON) and rendered: titled tables of display strings.

Every amount is formatted from its exact integer here, once: base units as whole units with all
their decimals (``1.500000 USDC``), US cents as dollars (``-$1,234.56``). Stored figures keep the
exact integers as decimal strings too, so nothing is ever re-parsed from a display string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keeper.assets import by_symbol


def format_units(units: int, asset: str) -> str:
    """``units`` base units of ``asset`` as an exact decimal of whole units with its symbol."""
    a = by_symbol(asset)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**a.decimals)
    text = f"{whole:,}" + (f".{frac:0{a.decimals}d}" if a.decimals else "")
    return f"{sign}{text} {a.symbol}"


def format_cents(cents: int | None) -> str:
    """US cents as dollars (``-$1,234.56``); ``n/a`` when a value could not be priced."""
    if cents is None:
        return "n/a (no price)"
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


@dataclass
class Table:
    """One titled table of a report."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


def figures(title: str, block: int | None, tables: list[Table],
            exact: dict[str, Any]) -> dict[str, Any]:
    """The stored figures of a run: a title, the pinned block, display tables and ``exact``
    values (integers as decimal strings) for machines."""
    return {"title": title, "block": block, "tables": [t.as_json() for t in tables],
            "exact": _strings(exact)}


def _strings(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(v) for v in value]
    raise TypeError(f"figures hold ints, strings and containers, not {type(value).__name__}")
