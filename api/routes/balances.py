"""``GET /v1/balances``: the authenticated client's holding of every custodied asset."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import CurrentClient, read_ledger
from api.errors import responses
from api.schemas import AssetInfo, BaseUnits
from keeper.clients import balances as client_balances

router = APIRouter(prefix="/v1", tags=["balances"], responses=responses(401, 403))


class BalanceOut(BaseModel):
    """Holding of one asset, in base units (strings): see ``asset.decimals`` to display."""

    asset: AssetInfo
    balance: BaseUnits
    available: BaseUnits
    pending_credits: BaseUnits


class BalancesOut(BaseModel):
    """Every custodied asset, zero where the client holds none."""

    client_id: str
    balances: list[BalanceOut]


@router.get("/balances", response_model=BalancesOut, summary="Balances per asset")
async def get_balances(request: Request, client: CurrentClient) -> BalancesOut:
    """Posted balance, available balance (after open holds) and incoming holds per asset."""
    rows = await read_ledger(request, client_balances, client.id)
    return BalancesOut(client_id=client.id, balances=[
        BalanceOut(asset=AssetInfo.of(r.asset), balance=r.balance, available=r.available,
                   pending_credits=r.pending_credits)
        for r in rows
    ])
