"""``POST /v1/withdrawals``: an on-chain withdrawal to one of the client's whitelisted addresses.

The transaction goes through the Vault (see :meth:`keeper.flows.OrderService.withdraw`); the
order's state tells whether it is queued, sent, delayed by congestion, completed or refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from api.errors import responses
from api.routes.orders import AmountIn, BoundedUnits, IdemKey, OrderOut, Orders, TradePrincipal
from api.schemas import DepositAsset

router = APIRouter(prefix="/v1", tags=["withdrawals"],
                   responses=responses(400, 401, 403, 409, 422, 503))

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="An Ethereum address")]


class WithdrawalIn(BoundedUnits):
    """Send ``units`` base units of ``asset`` to ``to_address``."""

    asset: DepositAsset
    to_address: Address
    units: AmountIn


@router.post("/withdrawals", response_model=OrderOut, status_code=201,
             summary="Withdraw on-chain to a whitelisted address")
def withdraw(body: WithdrawalIn, principal: TradePrincipal, key: IdemKey, svc: Orders) -> OrderOut:
    """An on-chain withdrawal of the caller's holding."""
    return OrderOut.of(svc.withdraw(principal.client.id, body.asset.value, body.to_address,
                                    int(body.units), idempotency_key=key))
