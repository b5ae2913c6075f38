"""``GET /v1/transactions`` (cursor pages, filters), ``/v1/transactions/{id}`` and
``/v1/deposits/pending`` (open incoming holds and deposits seen on chain, not yet confirmed): the
authenticated client's own movements only."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel

from api.deps import CurrentClient, LedgerDep, read_ledger
from api.errors import not_found, responses
from api.schemas import AssetInfo, AssetSymbol, BaseUnits
from keeper.assets import ASSETS
from keeper.chain import Sighting, unconfirmed_deposits
from keeper.clients import InvalidCursor, TransactionFilter, pending_deposits, transaction, transactions
from keeper.clients.portfolio import MAX_LIMIT
from keeper.ledger import CATEGORIES, ClientPosting

router = APIRouter(prefix="/v1", tags=["transactions"], responses=responses(401, 403, 422))

TransactionKind = StrEnum("TransactionKind", {c: c for c in CATEGORIES})  # type: ignore[misc]
TransactionKind.__doc__ = "What a movement was for the client."


class TransactionOut(BaseModel):
    """One movement of the client's account: ``amount`` signed (+ credit to you, - debit)."""

    id: str
    asset: AssetInfo
    kind: str
    status: str
    amount: BaseUnits
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, p: ClientPosting) -> TransactionOut:
        """From a ledger posting as its client sees it."""
        return cls.model_validate(cls.fields_of(p))

    @staticmethod
    def fields_of(p: ClientPosting) -> dict[str, Any]:
        """The fields of :meth:`of` (a page validates all of its items in one call: 76 -> 44 us
        for 50 items, against one model built at a time)."""
        return {"id": p.transfer_id, "asset": AssetInfo.of(ASSETS[p.asset]), "kind": p.category,
                "status": p.status, "amount": p.amount, "reference": p.reference,
                "created_at": p.created_at}


class TransactionPageOut(BaseModel):
    """Newest first; pass ``next_cursor`` (with the same filters) for the next page."""

    client_id: str
    items: list[TransactionOut]
    next_cursor: str | None


class UnconfirmedDepositOut(BaseModel):
    """A deposit to the vault seen on chain, credited once ``confirmations`` (blocks on top of
    its block, as of ``seen_at``) reach ``required_confirmations``; a reorg may still drop it."""

    id: str
    asset: AssetInfo
    amount: BaseUnits
    tx_hash: str
    block_number: int
    confirmations: int
    required_confirmations: int
    seen_at: datetime

    @classmethod
    def of(cls, s: Sighting) -> UnconfirmedDepositOut:
        """From a chain sighting of the client's deposit."""
        return cls(id=f"{s.tx_hash}:{s.log_index}", asset=AssetInfo.of(ASSETS[s.asset]),
                   amount=s.amount, tx_hash=s.tx_hash, block_number=s.block_number,
                   confirmations=s.confirmations, required_confirmations=s.required_confirmations,
                   seen_at=s.seen_at)


class PendingDepositsOut(BaseModel):
    """Incoming credits not yet posted to the balance (``items``, open holds, oldest first) and
    deposits seen on chain, not yet confirmed (``unconfirmed``, oldest block first)."""

    client_id: str
    items: list[TransactionOut]
    unconfirmed: list[UnconfirmedDepositOut]


def _utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC (naive: taken as UTC); an instant beyond datetime's range in UTC (year 1
    at +01:00, year 9999 at -01:00) is clamped to that range's end."""
    if value is None or value.tzinfo is None:
        return value and value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


@router.get("/transactions", response_model=TransactionPageOut, responses=responses(400),
            summary="Movements, newest first (cursor pages)")
async def list_transactions(
    request: Request,
    client: CurrentClient,
    asset: Annotated[AssetSymbol | None, Query(description="Only this asset")] = None,
    kind: Annotated[TransactionKind | None, Query(description="Only this kind")] = None,
    since: Annotated[datetime | None, Query(alias="from",
                                            description="Created at or after (UTC if naive)")] = None,
    until: Annotated[datetime | None, Query(alias="to",
                                            description="Created before (UTC if naive)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=200,
                                        description="next_cursor of the previous page")] = None,
) -> Response:
    """The client's posted movements matching the filters, ``limit`` per page."""
    flt = TransactionFilter(asset.value if asset else None, kind.value if kind else None,
                            _utc(since), _utc(until))
    try:
        page = await read_ledger(request, transactions, client.id, flt, cursor=cursor,
                                 limit=limit)
    except InvalidCursor as exc:
        raise HTTPException(400, str(exc)) from None
    out = TransactionPageOut.model_validate({
        "client_id": client.id, "next_cursor": page.next_cursor,
        "items": [TransactionOut.fields_of(p) for p in page.items]})
    # serialised once, here: FastAPI would validate the page against its own model again
    return Response(out.model_dump_json(), media_type="application/json")


@router.get("/transactions/{transaction_id}", response_model=TransactionOut,
            responses=responses(404), summary="One movement")
async def get_transaction(request: Request, client: CurrentClient,
                          transaction_id: Annotated[str, Path(max_length=160)]) -> TransactionOut:
    """One of the client's posted movements (another client's id is 404, as a missing one)."""
    found = await read_ledger(request, transaction, client.id, transaction_id)
    if found is None:
        raise not_found("transaction")
    return TransactionOut.of(found)


@router.get("/deposits/pending", response_model=PendingDepositsOut,
            summary="Incoming credits not yet posted, deposits not yet confirmed")
def get_pending_deposits(client: CurrentClient, ledger: LedgerDep) -> PendingDepositsOut:
    """Incoming holds on the client's accounts, not yet posted to the balance, and the client's
    vault deposits seen on chain with fewer confirmations than required."""
    return PendingDepositsOut(
        client_id=client.id,
        items=[TransactionOut.of(p) for p in pending_deposits(ledger, client.id)],
        unconfirmed=[UnconfirmedDepositOut.of(s) for s in unconfirmed_deposits(ledger, client.id)
                     if s.asset in ASSETS])
