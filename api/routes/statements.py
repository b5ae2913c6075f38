"""Monthly statements: ``GET /v1/statements/{year}/{month}`` (every asset; JSON, or a PDF with
``?format=pdf`` or ``.pdf``) and ``GET /v1/statements/{asset}/{year}/{month}`` (one asset)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import CurrentClient, LedgerDep, SettingsDep
from api.errors import responses
from api.schemas import AssetInfo, AssetSymbol, BaseUnits, asset_of
from keeper.clients import monthly_statements, statement_pdf
from keeper.clients import statement as client_statement
from keeper.ledger import Statement

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
        lines=_lines(st),
    )


class AssetStatementOut(BaseModel):
    """One asset's month: opening and closing balances and every posted movement."""

    asset: AssetInfo
    opening_balance: BaseUnits
    closing_balance: BaseUnits
    lines: list[StatementLineOut]


class MonthlyStatementOut(BaseModel):
    """A calendar month (UTC) of every asset the client holds an account in."""

    bank: str
    client_id: str
    client_name: str
    year: int
    month: int
    assets: list[AssetStatementOut]


Year = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="Calendar year (UTC)")]
Month = Annotated[int, Path(ge=1, le=12, description="Month, 1 to 12")]
PDF = {200: {"content": {"application/pdf": {}, "application/json": {}},
             "description": "The statement (PDF with format=pdf)"}}


def _lines(st: Statement) -> list[StatementLineOut]:
    return [StatementLineOut(at=ln.at, transfer_id=ln.transfer_id, kind=ln.kind,
                             reference=ln.reference, amount=ln.amount, balance=ln.balance)
            for ln in st.lines]


def _monthly(client: CurrentClient, ledger: LedgerDep, bank: str, year: int, month: int,
             fmt: str) -> Response | MonthlyStatementOut:
    statements = monthly_statements(ledger, client.id, year, month)
    if fmt == "pdf":
        pdf = statement_pdf(client.name, client.id, year, month, statements,
                            bank_name=bank, generated_at=datetime.now(UTC))
        name = f"statement-{year}-{month:02d}.pdf"
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return MonthlyStatementOut(
        bank=bank, client_id=client.id, client_name=client.name, year=year, month=month,
        assets=[AssetStatementOut(asset=AssetInfo.of(a), opening_balance=st.opening_balance,
                                  closing_balance=st.closing_balance, lines=_lines(st))
                for a, st in statements])


@router.get("/statements/{year}/{month}.pdf", response_class=Response, responses=PDF,
            summary="Monthly statement of every asset, as a PDF")
def get_monthly_statement_pdf(client: CurrentClient, ledger: LedgerDep, settings: SettingsDep,
                              year: Year, month: Month) -> Response:
    """The month's statement of every asset as a PDF."""
    return _monthly(client, ledger, settings.bank_name, year, month, "pdf")  # type: ignore[return-value]


@router.get("/statements/{year}/{month}", response_model=MonthlyStatementOut, responses=PDF,
            summary="Monthly statement of every asset")
def get_monthly_statement(
    client: CurrentClient, ledger: LedgerDep, settings: SettingsDep, year: Year, month: Month,
    fmt: Annotated[Literal["json", "pdf"], Query(alias="format")] = "json",
) -> Response | MonthlyStatementOut:
    """The month's statement of every asset the client holds: JSON, or PDF (``format=pdf``)."""
    return _monthly(client, ledger, settings.bank_name, year, month, fmt)
