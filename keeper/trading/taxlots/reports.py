"""Realised and unrealised gains per client and period, as JSON and CSV.

Amounts are decimal strings of integers: quantities in the asset's minor units, money in US cents.
A disposal's unmatched part is listed with its quantity and proceeds and no basis or gain; an
asset without a price is listed as unpriced, never valued.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from keeper.trading.taxlots import codec
from keeper.trading.taxlots.book import TaxLotBook, unrealised
from keeper.trading.taxlots.engine import Kind, Outcome

CSV_COLUMNS = ("reference", "occurred_at", "asset", "location", "origin", "acquired_at",
               "quantity", "proceeds", "basis", "gain", "term", "fee", "fees_in_basis", "method")
_TOTALS = ("proceeds", "basis", "gain", "short_gain", "long_gain", "fees_expensed",
           "unmatched_quantity", "unmatched_proceeds", "transfer_fee_quantity")


def _totals(outcomes: list[Outcome]) -> dict[str, dict[str, str]]:
    sums: dict[str, dict[str, int]] = {}
    for o in outcomes:
        t = sums.setdefault(o.asset, dict.fromkeys(_TOTALS, 0))
        if not o.fees_in_basis and o.kind is not Kind.TRANSFER:
            t["fees_expensed"] += o.fee
        if o.kind is Kind.TRANSFER:
            t["transfer_fee_quantity"] += sum(p.quantity for p in o.fee_pieces)
            continue
        if o.kind is Kind.DISPOSE:
            for name in ("proceeds", "basis", "gain", "short_gain", "long_gain",
                         "unmatched_quantity", "unmatched_proceeds"):
                t[name] += getattr(o, name)
    return {asset: {k: str(v) for k, v in t.items()} for asset, t in sorted(sums.items())}


def realised_report(book: TaxLotBook, client_id: str, since_ms: int | None = None,
                    until_ms: int | None = None) -> dict[str, Any]:
    """``client_id``'s disposals and transfers with ``since_ms <= time < until_ms``: each with its
    pieces, gains and unmatched part, and totals per asset."""
    outcomes = book.outcomes(client_id, since_ms, until_ms)
    return {"client_id": client_id, "since_ms": since_ms, "until_ms": until_ms,
            "disposals": [codec.outcome_json(o) for o in outcomes if o.kind is Kind.DISPOSE],
            "transfers": [codec.outcome_json(o) for o in outcomes if o.kind is Kind.TRANSFER],
            "totals": _totals(outcomes)}


def unrealised_report(book: TaxLotBook, client_id: str,
                      prices: Mapping[str, int]) -> dict[str, Any]:
    """``client_id``'s open lots valued at ``prices`` (cents per whole unit, per asset)."""
    assets: dict[str, Any] = {}
    for asset, lots in book.lots_by_asset(client_id).items():
        entry: dict[str, Any] = {"lots": [codec.lot_json(x) for x in lots],
                                 "quantity": str(sum(x.quantity for x in lots)),
                                 "basis": str(sum(x.basis for x in lots))}
        price = prices.get(asset)
        if price is None:
            entry["priced"] = False
        else:
            value, _, gain = unrealised(lots, asset, price)
            entry.update(priced=True, price=str(price), value=str(value), gain=str(gain))
            for row, lot in zip(entry["lots"], lots, strict=True):  # the total is their sum
                lot_value, _, lot_gain = unrealised([lot], asset, price)
                row.update(value=str(lot_value), gain=str(lot_gain))
        assets[asset] = entry
    return {"client_id": client_id, "assets": assets}


def report(book: TaxLotBook, client_id: str, since_ms: int | None = None,
           until_ms: int | None = None, prices: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The realised report of the period, the unrealised one at ``prices``, and the client's
    policy history (method and fee treatment, who changed them and when)."""
    history = [{"method": p.method.value, "fees_in_basis": p.fees_in_basis,
                "effective_from": p.effective_from, "changed_by": p.changed_by,
                "changed_at": p.changed_at.isoformat()} for p in book.policy_history(client_id)]
    return {"realised": realised_report(book, client_id, since_ms, until_ms),
            "unrealised": unrealised_report(book, client_id, prices or {}),
            "policy_history": history}


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (references come from outside)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def realised_csv(realised: Mapping[str, Any]) -> str:
    """The disposals of a :func:`realised_report` as CSV: one row per lot piece consumed, and one
    row (term ``unmatched``, no basis or gain) for a disposal's unmatched part."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for d in realised["disposals"]:
        common = {k: d[k] for k in ("occurred_at", "asset", "fee", "fees_in_basis", "method")}
        common.update(reference=_cell(d["reference"]), location=_cell(d["location"]))
        for p in d["pieces"]:
            writer.writerow({**common, "origin": _cell(p["origin"]), "acquired_at": p["acquired_at"],
                             "quantity": p["quantity"], "proceeds": p["proceeds"],
                             "basis": p["basis"], "gain": p["gain"],
                             "term": "long" if p["long_term"] else "short"})
        if d["unmatched_quantity"] != "0":
            writer.writerow({**common, "origin": "", "acquired_at": "",
                             "quantity": d["unmatched_quantity"],
                             "proceeds": d["unmatched_proceeds"], "basis": "", "gain": "",
                             "term": "unmatched"})
    return out.getvalue()
