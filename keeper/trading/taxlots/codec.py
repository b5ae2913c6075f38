"""Rows and JSON of the tax-lot types: the one place their stored shape is spelled.

Integers (quantities, cents) are decimal strings in rows and JSON (wei exceed SQLite's integers
and JavaScript's safe integers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from keeper.trading.taxlots.engine import Kind, Lot, Method, Outcome, Piece, TaxEvent


def event_row(event: TaxEvent) -> dict[str, Any]:
    """The ``trading_taxlots_events`` columns of ``event``."""
    return {"reference": event.reference, "kind": event.kind.value, "asset": event.asset,
            "quantity": str(event.quantity), "amount": str(event.amount), "fee": str(event.fee),
            "fee_quantity": str(event.fee_quantity), "location": event.location,
            "to_location": event.to_location, "occurred_at": event.occurred_at}


def event(row: Any) -> TaxEvent:
    """The event of a ``trading_taxlots_events`` row."""
    return TaxEvent(row.reference, Kind(row.kind), row.asset, int(row.quantity),
                    int(row.occurred_at), row.location, amount=int(row.amount), fee=int(row.fee),
                    to_location=row.to_location, fee_quantity=int(row.fee_quantity))


def lot(row: Any) -> Lot:
    """The lot of a ``trading_taxlots_lots`` row."""
    return Lot(row.origin, row.location, int(row.acquired_at), int(row.quantity), int(row.basis))


def lot_json(item: Lot) -> dict[str, Any]:
    """``item`` as JSON (integers as decimal strings)."""
    return {"origin": item.origin, "location": item.location, "acquired_at": item.acquired_at,
            "quantity": str(item.quantity), "basis": str(item.basis)}


def piece_json(p: Piece) -> dict[str, Any]:
    """``p`` as JSON (integers as decimal strings)."""
    return {"origin": p.origin, "acquired_at": p.acquired_at, "quantity": str(p.quantity),
            "basis": str(p.basis), "proceeds": str(p.proceeds), "gain": str(p.gain),
            "long_term": p.long_term, "carried": str(p.carried)}


def _piece(d: Mapping[str, Any]) -> Piece:
    return Piece(d["origin"], int(d["acquired_at"]), int(d["quantity"]), int(d["basis"]),
                 int(d["proceeds"]), bool(d["long_term"]), int(d["carried"]))


def outcome_json(o: Outcome) -> dict[str, Any]:
    """``o`` as JSON, with its gains (integers as decimal strings)."""
    return {"reference": o.reference, "kind": o.kind.value, "asset": o.asset,
            "occurred_at": o.occurred_at, "location": o.location, "to_location": o.to_location,
            "quantity": str(o.quantity), "method": o.method.value,
            "fees_in_basis": o.fees_in_basis, "fee": str(o.fee), "proceeds": str(o.proceeds),
            "basis": str(o.basis), "gain": str(o.gain), "short_gain": str(o.short_gain),
            "long_gain": str(o.long_gain), "unmatched_quantity": str(o.unmatched_quantity),
            "unmatched_proceeds": str(o.unmatched_proceeds),
            "pieces": [piece_json(p) for p in o.pieces],
            "fee_pieces": [piece_json(p) for p in o.fee_pieces]}


def outcome_from_json(d: Mapping[str, Any]) -> Outcome:
    """The outcome :func:`outcome_json` wrote."""
    return Outcome(d["reference"], Kind(d["kind"]), d["asset"], int(d["occurred_at"]),
                   d["location"], int(d["quantity"]), Method(d["method"]),
                   bool(d["fees_in_basis"]), fee=int(d["fee"]), proceeds=int(d["proceeds"]),
                   basis=int(d["basis"]), pieces=tuple(_piece(p) for p in d["pieces"]),
                   fee_pieces=tuple(_piece(p) for p in d["fee_pieces"]),
                   unmatched_quantity=int(d["unmatched_quantity"]),
                   unmatched_proceeds=int(d["unmatched_proceeds"]), to_location=d["to_location"])


def outcome_row(o: Outcome) -> dict[str, Any]:
    """The ``trading_taxlots_outcomes`` columns of ``o`` (without the client)."""
    return {"asset": o.asset, "reference": o.reference, "kind": o.kind.value,
            "occurred_at": o.occurred_at, "detail": json.dumps(outcome_json(o), sort_keys=True)}


def outcome(row: Any) -> Outcome:
    """The outcome of a ``trading_taxlots_outcomes`` row (or its mapping)."""
    detail = row["detail"] if isinstance(row, Mapping) else row.detail
    return outcome_from_json(json.loads(detail))
