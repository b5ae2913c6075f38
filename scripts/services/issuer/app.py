"""The issuer's HTTP API (shaped like Circle's): mints, burns, reserves, and an admin surface
for failure injection. Built by :func:`create_app` around a store, a chain and a fault config."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from eth_utils import is_checksum_address, to_checksum_address
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from keeper.assets import ZERO_ADDRESS
from keeper.integrations.issuer.amounts import to_amount, to_units
from scripts.services.common.web import add_fault_routes, guards
from scripts.services.issuer.chain import IssuerChain
from scripts.services.issuer.faults import FaultConfig, Faults
from scripts.services.issuer.records import burn_json, mint_json
from scripts.services.issuer.store import Conflict, Store

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Reference = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: str
    currency: str = Field(pattern="^USD$")
    reference: Reference

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: str) -> str:
        to_units(value)
        return value


class MintRequest(_Request):
    """``POST /v1/mints`` body."""

    destination_address: str

    @field_validator("destination_address")
    @classmethod
    def _destination(cls, value: str) -> str:
        if not is_checksum_address(value) or value == ZERO_ADDRESS:
            raise ValueError("destination_address must be a checksummed, non-zero address")
        return value


class BurnRequest(_Request):
    """``POST /v1/burns`` body: the bank's transfer of ``amount`` to the redemption address."""

    source_address: str
    transfer_tx_id: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")

    @field_validator("source_address")
    @classmethod
    def _source(cls, value: str) -> str:
        if not is_checksum_address(value):
            raise ValueError("source_address must be a checksummed address")
        return value


def _digest(body: BaseModel) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()


def _idempotency_key(key: str | None) -> str:
    try:
        return str(uuid.UUID(key or ""))
    except ValueError:
        raise HTTPException(400, "Idempotency-Key header must be a UUID") from None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_app(store: Store, chain: IssuerChain, faults: Faults, *, api_key: str, admin_token: str,
               confirmations: int, block_time_s: float = 12.0) -> FastAPI:
    """The FastAPI app; ``api_key`` guards ``/v1``, ``admin_token`` guards ``/admin``."""
    app = FastAPI(title="Local stablecoin issuer", docs_url=None, redoc_url=None, openapi_url=None)

    bearer, admin = guards(api_key, admin_token)

    @app.middleware("http")
    async def injected_faults(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        if faults.config.maintenance:
            return JSONResponse({"detail": "scheduled maintenance"}, 503, headers={"Retry-After": "1"})
        if faults.api_error():
            return JSONResponse({"detail": "internal error"}, 500)
        reply = await call_next(request)
        if request.method == "POST" and reply.status_code < 300 and faults.lose_reply():
            return JSONResponse({"detail": "internal error"}, 500)
        return reply

    def accept(table: str, key: str, body: _Request, render: Any, **fields: Any) -> JSONResponse:
        """Record a new request once per Idempotency-Key: 201 when new, 200 with the same record
        when replayed, 409 when the key (or the deposit) belongs to another request."""
        now = time.time()
        try:
            row, fresh = store.insert_once(table, {
                "id": str(uuid.uuid4()), "idem_key": key, "request_hash": _digest(body),
                "reference": body.reference, "status": "pending", "created_at": now, "updated_at": now,
                **fields})
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        return JSONResponse(render(row), 201 if fresh else 200)

    def one(table: str, row_id: str) -> dict[str, Any]:
        row = store.get(table, row_id)
        if row is None:
            raise HTTPException(404, f"no such {table[:-1]}")
        return row

    @app.post("/v1/mints", dependencies=[Depends(bearer)])
    def create_mint(body: MintRequest, idempotency_key: IdemKey = None) -> JSONResponse:
        """Accept a mint: pending until the worker has minted it with its confirmations."""
        key = _idempotency_key(idempotency_key)
        fault, not_before = faults.mint_plan()
        eta = None if not_before is None else _iso(not_before + confirmations * block_time_s)
        return accept("mints", key, body, mint_json, units=str(to_units(body.amount)),
                      destination=body.destination_address, fault=fault, not_before=not_before,
                      estimated_completion=eta)

    @app.get("/v1/mints/{mint_id}", dependencies=[Depends(bearer)])
    def get_mint(mint_id: str) -> dict[str, Any]:
        """One mint."""
        return mint_json(one("mints", mint_id))

    @app.post("/v1/burns", dependencies=[Depends(bearer)])
    def create_burn(body: BurnRequest, idempotency_key: IdemKey = None) -> JSONResponse:
        """Accept a redemption of a confirmed transfer to the redemption address."""
        key = _idempotency_key(idempotency_key)
        units = to_units(body.amount)
        found = chain.find_deposit(body.transfer_tx_id, body.source_address, units)
        if found is None:
            raise HTTPException(422, "no transfer of that amount from source_address to the "
                                     "redemption address in transfer_tx_id")
        log_index, confs = found
        if confs < confirmations:
            raise HTTPException(422, "the transfer does not have its confirmations yet")
        fault, not_before = faults.burn_plan()
        return accept("burns", key, body, burn_json, units=str(units), source=body.source_address,
                      transfer_tx_id=body.transfer_tx_id.lower(), transfer_log_index=log_index,
                      fault=fault, not_before=not_before)

    @app.get("/v1/burns/{burn_id}", dependencies=[Depends(bearer)])
    def get_burn(burn_id: str) -> dict[str, Any]:
        """One redemption."""
        return burn_json(one("burns", burn_id))

    @app.get("/v1/reserves", dependencies=[Depends(bearer)])
    def reserves() -> dict[str, Any]:
        """Fiat reserves (opening + completed mints - paid redemptions) against totalSupply."""
        block = chain.head()
        opening = int(store.meta("opening_supply", "0") or 0)
        total = (opening + store.sum_units("mints", "status", "complete")
                 - store.sum_units("burns", "payout_status", "sent"))
        return {"currency": "USD", "total_reserves": to_amount(total),
                "payouts_owed": to_amount(store.sum_units("burns", "payout_status", "owed")),
                "total_supply": to_amount(chain.total_supply(block)), "block_number": block,
                "token": chain.token.address, "as_of": _iso(time.time())}

    @app.get("/v1/redemption-address", dependencies=[Depends(bearer)])
    def redemption_address() -> dict[str, Any]:
        """Where the bank sends USDC it wants redeemed (the issuer's minter, which burns it)."""
        return {"address": to_checksum_address(chain.address), "token": chain.token.address}

    add_fault_routes(app, faults, FaultConfig, admin)

    @app.post("/admin/{table}/{row_id}/release", dependencies=[Depends(admin)])
    def release(table: str, row_id: str) -> dict[str, Any]:
        """End the hold or the delay of a mint (review passed) or of a burn's fiat payout now."""
        if table not in ("mints", "burns"):
            raise HTTPException(404, "unknown resource")
        row = store.get(table, row_id)
        if row is None or row["fault"] == "fail" or row["status"] not in ("pending", "delayed") or not (
                row["fault"] == "hold" or (row["not_before"] or 0) > time.time()):
            raise HTTPException(409, "not held or delayed")
        store.update(table, row_id, fault="none", not_before=time.time())
        return {"released": row_id}

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness and the redemption (minter) address."""
        return {"status": "ok", "redemption_address": to_checksum_address(chain.address)}

    return app
