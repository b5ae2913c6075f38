"""Client pages: balances, transactions (keyset pages), statements (PDF download) and deposit
instructions. A client login sees its own client only: the client id comes from the session,
never from the request; another client's transaction id is 404 like a missing one. Each page
calls the service its API route calls (``keeper.clients``), nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.console.core import audit, engine_of, page_router, render, require
from keeper.assets import ASSETS, DEPOSITABLE
from keeper.clients import (
    Client,
    DepositsUnavailable,
    InvalidCursor,
    TransactionFilter,
    balances,
    deposit_instructions,
    get_client,
    monthly_statements,
    statement_pdf,
    transaction,
    transactions,
)
from keeper.console import CLIENT, User
from keeper.deployments import read_deployment
from keeper.ledger import Ledger

router = page_router(prefix="/client")
ClientUser = Annotated[User, Depends(require(CLIENT))]
PAGE_SIZE = 25
MONTHS_LISTED = 12
MIN_YEAR, MAX_YEAR = 2000, 2100


def _ledger(request: Request) -> Ledger:
    return request.app.state.ledger


def _client(request: Request, user: User) -> Client:
    with Session(engine_of(request)) as s:
        found = get_client(s, user.client_id or "")
    if found is None:  # the client was removed under a live login
        raise HTTPException(403, "this login is not bound to a client")
    return found


@router.get("/balances")
def balances_page(request: Request, user: ClientUser) -> Response:
    """Posted, available and incoming balance per asset."""
    rows = balances(_ledger(request), user.client_id or "")
    return render(request, "client/balances.html", {"rows": rows})


@router.get("/transactions")
def transactions_page(
    request: Request, user: ClientUser,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    asset: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """The client's movements, newest first, :data:`PAGE_SIZE` per page (keyset cursor)."""
    symbol = asset if asset in ASSETS else None
    try:
        page = transactions(_ledger(request), user.client_id or "",
                            TransactionFilter(symbol, None, None, None), cursor=cursor or None,
                            limit=PAGE_SIZE)
    except InvalidCursor:
        raise HTTPException(400, "this page link is not valid; start from the first page") \
            from None
    return render(request, "client/transactions.html", {
        "page": page, "assets": ASSETS, "asset": symbol, "first": cursor is None})


@router.get("/transactions/{transfer_id}")
def transaction_page(request: Request, user: ClientUser,
                     transfer_id: Annotated[str, Path(max_length=160)]) -> Response:
    """One of the client's movements (another client's id: 404)."""
    found = transaction(_ledger(request), user.client_id or "", transfer_id)
    if found is None:
        raise HTTPException(404, "no such transaction")
    return render(request, "client/transaction.html", {"t": found, "asset": ASSETS[found.asset]})


def _recent_months(now: datetime, n: int) -> list[tuple[int, int]]:
    out, y, m = [], now.year, now.month
    for _ in range(n):
        out.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


@router.get("/statements")
def statements_page(request: Request, user: ClientUser) -> Response:
    """The last :data:`MONTHS_LISTED` months, each downloadable as a PDF."""
    return render(request, "client/statements.html",
                  {"months": _recent_months(datetime.now(UTC), MONTHS_LISTED)})


@router.get("/statements/{year}/{month}.pdf")
async def statement_download(
    request: Request, user: ClientUser,
    year: Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR)],
    month: Annotated[int, Path(ge=1, le=12)],
) -> Response:
    """The month's statement of every asset as a PDF (the API's statement service). Audited."""
    client = await run_in_threadpool(_client, request, user)
    bank = request.app.state.settings.bank_name

    def build() -> bytes:
        st = monthly_statements(_ledger(request), client.id, year, month)
        return statement_pdf(client.name, client.id, year, month, st, bank_name=bank,
                             generated_at=datetime.now(UTC))

    pdf = await run_in_threadpool(build)
    await run_in_threadpool(audit, request, "console.statement_download",
                            {"client_id": client.id, "year": year, "month": month},
                            {"bytes": len(pdf)})
    name = f"statement-{year}-{month:02d}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/deposit")
def deposit_page(request: Request, user: ClientUser,
                 asset: Annotated[str, Query(max_length=16)] = "USDC") -> Response:
    """Where and how to deposit an asset (the API's deposit-instructions service)."""
    settings = request.app.state.settings
    chosen = DEPOSITABLE.get(asset)
    if chosen is None:
        raise HTTPException(404, "no deposit instructions for that asset")
    client = _client(request, user)
    try:
        ins = deposit_instructions(_ledger(request), client, chosen,
                                   read_deployment(settings.deployments_dir, settings.chain_id),
                                   settings.chain_id)
        problem = None
    except DepositsUnavailable as exc:
        ins, problem = None, str(exc)
    return render(request, "client/deposit.html", {
        "ins": ins, "problem": problem, "assets": list(DEPOSITABLE.values()), "asset": chosen})
