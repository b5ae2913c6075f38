"""``GET /v1/statements/{asset}/{year}/{month}``: a month of movements with running balance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import CurrentClient, LedgerDep
from api.errors import responses
from api.schemas import AssetInfo, AssetSymbol, BaseUnits, asset_of
from keeper.clients import statement as client_statement

router = APIRouter(prefix="/v1", tags=["statements"], responses=responses(401, 403, 422))

MIN_YEAR, MAX_YEAR = 2000, 2100


class StatementLineOut(BaseModel):
    """One posted movement: ``amount`` signed (+ credit to you, - debit), ``balance`` after it."""

    at: datetime
    transfer_id: str
    kind: str
    reference: str | None
    amount: BaseUnits
    balance: BaseUnits


class StatementOut(BaseModel):
    """A calendar month (UTC) of posted movements, opening and closing balances included."""

    client_id: str
    asset: AssetInfo
    year: int
    month: int
    opening_balance: BaseUnits
    closing_balance: BaseUnits
    lines: list[StatementLineOut]


@router.get("/statements/{asset}/{year}/{month}", response_model=StatementOut,
            summary="Monthly statement of one asset")
def get_statement(
    client: CurrentClient,
    ledger: LedgerDep,
    asset: Annotated[AssetSymbol, Path(description="Asset symbol, e.g. USDC")],
    year: Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="Calendar year (UTC)")],
    month: Annotated[int, Path(ge=1, le=12, description="Month, 1 to 12")],
) -> StatementOut:
    """Posted movements of ``asset`` in ``year``-``month`` with the running balance after each."""
    a = asset_of(asset)
    st = client_statement(ledger, client.id, a, year, month)
    return StatementOut(
        client_id=client.id, asset=AssetInfo.of(a), year=year, month=month,
        opening_balance=st.opening_balance, closing_balance=st.closing_balance,
        lines=[StatementLineOut(at=ln.at, transfer_id=ln.transfer_id, kind=ln.kind,
                                reference=ln.reference, amount=ln.amount, balance=ln.balance)
               for ln in st.lines],
    )
