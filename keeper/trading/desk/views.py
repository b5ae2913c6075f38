"""The desk's answers as JSON-ready dicts, shared by the CLI and the API: integers (money and
amounts in minor units) as decimal strings, exact prices and basis points as decimal strings
with fixed places (:func:`keeper.trading.bestex.fixed`), times in ms."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from keeper.trading.bestex import OrderReport, fixed
from keeper.trading.routing import Execution
from keeper.trading.taxlots import Lot

PRICE_PLACES = 6  # VWAP and arrival mid: quote minor units per whole base unit
BPS_PLACES = 4


def _int(x: int | None) -> str | None:
    return None if x is None else str(x)


def _frac(x: Fraction | None, places: int) -> str | None:
    return None if x is None else fixed(x, places)


def order_view(ex: Execution, report: OrderReport) -> dict[str, Any]:
    """A parent order: what was asked, its status, fills, VWAP, fees, the best single venue
    baseline and the improvement on it, the cost of compliance and the venues left out."""
    p = ex.parent
    decision = ex.decision
    return {
        "id": p.id, "client_id": p.client_id, "symbol": p.symbol, "side": p.side.value,
        "amount": str(p.amount), "limit_price": _int(p.limit_price),
        "jurisdiction": p.jurisdiction, "client_type": p.client_type, "created_at": p.created_at,
        "status": ex.status, "reason": ex.reason,
        "filled": str(ex.filled), "notional": str(ex.notional), "fees": str(ex.fee),
        "all_in": str(ex.all_in),
        "vwap": _frac(report.vwap, PRICE_PLACES),
        "arrival_mid": _frac(report.arrival_mid, PRICE_PLACES),
        "slippage_vs_arrival_bps": _frac(report.slippage_vs_arrival_bps, BPS_PLACES),
        "baseline": report.baseline,
        "baseline_all_in": None if decision is None or decision.baseline is None
        else str(decision.baseline.all_in),
        "improvement": _int(report.improvement),
        "improvement_bps": _frac(report.improvement_bps, BPS_PLACES),
        "compliance_cost": _int(report.compliance_cost),
        "fills": [{"venue": f.venue, "order_id": f.order_id, "amount": str(f.amount),
                   "price": str(f.price), "cost": str(f.cost), "fee": str(f.fee),
                   "timestamp": f.timestamp} for f in ex.fills],
        "exclusions": [{"round": r.round, "venue": r.exclusion.venue,
                        "reason": r.exclusion.reason, "detail": r.exclusion.detail}
                       for r in ex.excluded],
        "blocked": [{"venue": b.venue, "rule": b.rule, "reason": b.reason}
                    for b in (decision.blocked if decision else ())],
    }


def lots_view(client_id: str, lots: dict[str, list[Lot]]) -> dict[str, Any]:
    """A client's open lots, per asset in name order, oldest first as the book keeps them."""
    return {"client_id": client_id, "lots": [
        {"asset": asset, "origin": lot.origin, "location": lot.location,
         "acquired_at": lot.acquired_at, "quantity": str(lot.quantity), "basis": str(lot.basis)}
        for asset in sorted(lots) for lot in lots[asset]]}
