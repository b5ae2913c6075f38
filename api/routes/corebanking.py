"""``POST /stablecoin/notify-deposit``: core banking (ATLAS) tells us of a fiat deposit a
customer earmarked to buy stablecoins (spec 004 §8.2, the spec's path).

Scope ``corebanking``. Idempotent on ``transaction_id``: the same notice answers the same order
id. 400 ``unknown_customer`` (not onboarded for stablecoins), 403 ``compliance_hold``. Amounts
are decimal strings of integer cents (:class:`keeper.integrations.corebanking.NotifyDeposit`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Security

from api.deps import get_principal
from api.errors import responses
from api.routes.orders import Orders
from keeper.clients import COREBANKING, Principal
from keeper.integrations.corebanking import NotifyDeposit, NotifyDepositAnswer

router = APIRouter(tags=["core banking"], responses=responses(400, 401, 403, 409, 422, 503))

BankPrincipal = Annotated[Principal, Security(get_principal, scopes=[COREBANKING])]


@router.post("/stablecoin/notify-deposit", response_model=NotifyDepositAnswer,
             summary="Core banking: a fiat deposit to convert into stablecoins")
def notify_deposit(notice: NotifyDeposit, _: BankPrincipal, svc: Orders) -> NotifyDepositAnswer:
    """Accept the deposit notice and answer the stablecoin order it became."""
    return svc.notify_deposit(notice)
