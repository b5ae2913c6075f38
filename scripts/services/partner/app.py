"""The partner's HTTP API: sub-accounts, reports, withdrawals; an admin surface for faults.

``/v1`` needs the bearer API key and is rate limited; ``/admin`` needs the admin token.
Amounts on the wire are decimal strings of integer base units.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Annotated, Any

from eth_utils import is_checksum_address, to_checksum_address
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from keeper.partners.chainscan import ASSETS
from scripts.services.common.web import add_fault_routes, guards
from scripts.services.partner import reports
from scripts.services.partner.chain import PartnerChain
from scripts.services.partner.faults import FaultConfig, Faults
from scripts.services.partner.store import Conflict, Store

ClientRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class AccountRequest(BaseModel):
    """``POST /v1/accounts`` body."""

    model_config = ConfigDict(extra="forbid")
    client_ref: ClientRef


class WithdrawalRequest(BaseModel):
    """``POST /v1/withdrawals`` body."""

    model_config = ConfigDict(extra="forbid")
    client_ref: ClientRef
    asset: str = Field(pattern="^(ETH|USDC|USDT)$")
    amount: str = Field(pattern=r"^[1-9][0-9]{0,30}$")
    to: str


class Whitelist(BaseModel):
    """``PUT /admin/whitelist`` body."""

    model_config = ConfigDict(extra="forbid")
    addresses: list[str]


def _units_available(store: Store, client_ref: str, asset: str) -> int:
    mine = store.txs(client_ref=client_ref)
    total: dict[str, int] = defaultdict(int)
    for t in mine:
        if t["kind"] == "deposit" and t["status"] == "confirmed":
            total[t["asset"]] += int(t["units"])
        elif t["kind"] == "withdrawal" and t["status"] in ("pending", "sent", "confirmed"):
            total[t["asset"]] -= int(t["units"])
            total["ETH"] -= int(t["fee"])
    return total[asset]


async def _trickle(count: int = 30) -> AsyncIterator[bytes]:
    for _ in range(count):
        await asyncio.sleep(0.2)
        yield b" "


def create_app(store: Store, chain: PartnerChain, faults: Faults, *, api_key: str,
               admin_token: str, whitelist: set[str]) -> FastAPI:
    """The FastAPI app."""
    app = FastAPI(title="Warp Data (local partner)", docs_url=None, redoc_url=None, openapi_url=None)
    allowed = {a.lower() for a in whitelist}

    bearer, admin = guards(api_key, admin_token)

    @app.middleware("http")
    async def injected_faults(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await call_next(request)
        if faults.config.maintenance:
            return JSONResponse({"detail": "scheduled maintenance"}, 503, headers={"Retry-After": "1"})
        wait = faults.admit()
        if wait is not None:
            return JSONResponse({"detail": "rate limit exceeded"}, 429,
                                headers={"Retry-After": str(wait)})
        reply = await call_next(request)
        if request.method == "POST" and reply.status_code < 300 and faults.lose_reply():
            return JSONResponse({"detail": "internal error"}, 500)
        return reply

    def as_of() -> int:
        return int(store.meta("as_of_block", "0") or 0)

    def report(body: dict[str, Any]) -> Response:
        kind = faults.config.hostile
        if kind == "not_json":
            return Response(b"<html>oops</html>", 200, media_type="application/json")
        if kind == "deep_json":  # nesting deeper than any parser's recursion
            return Response(b"[" * 200_000 + b"]" * 200_000, 200, media_type="application/json")
        if kind == "trickle":  # one byte every 0.2 s: each read is quick, the reply endless
            return StreamingResponse(_trickle(), media_type="application/json")
        if kind == "huge_body":  # streamed, no Content-Length: the reader must cap it
            return StreamingResponse(iter([b" " * 1024 * 1024] * 64), media_type="application/json")
        return JSONResponse(body if kind is None else reports.hostile(kind, body))

    def rendered() -> list[dict[str, Any]]:
        rng = random.Random(f"{faults.config.seed}:invent")
        return reports.transactions(store, faults.config, rng, as_of())

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness and the reported block."""
        return {"status": "ok", "as_of_block": as_of()}

    @app.post("/v1/accounts", dependencies=[Depends(bearer)])
    def open_account(body: AccountRequest) -> JSONResponse:
        """Open (once) the client's segregated sub-account and its deposit address."""
        row, fresh = store.add_account(body.client_ref, chain.address(body.client_ref))
        address = row["address"]
        if faults.config.hostile == "foreign_address":  # claims one of OUR addresses
            address = to_checksum_address(sorted(allowed)[0]) if allowed else address
        return JSONResponse({"client_ref": row["client_ref"], "address": address},
                            201 if fresh else 200)

    @app.get("/v1/accounts", dependencies=[Depends(bearer)])
    def list_accounts() -> dict[str, Any]:
        """Every sub-account and its deposit address."""
        return {"accounts": [{"client_ref": a["client_ref"], "address": a["address"]}
                             for a in store.accounts()]}

    @app.get("/v1/balances", dependencies=[Depends(bearer)])
    def balances() -> Response:
        """Each sub-account's balance per asset as of ``as_of_block``."""
        return report({"as_of_block": as_of(),
                       "balances": reports.balances(rendered(), store.accounts())})

    @app.get("/v1/transactions", dependencies=[Depends(bearer)])
    def transactions(after: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> Response:
        """Confirmed transactions with their tx hashes, in sequence order, after ``after``."""
        rows = [t for t in rendered() if t["seq"] > after][:limit]
        nxt = rows[-1]["seq"] if len(rows) == limit else None
        return report({"as_of_block": as_of(), "transactions": rows, "next_after": nxt})

    @app.post("/v1/withdrawals", dependencies=[Depends(bearer)])
    def withdraw(body: WithdrawalRequest, idempotency_key: IdemKey = None) -> JSONResponse:
        """Accept a withdrawal to a whitelisted address once per Idempotency-Key."""
        try:
            key = str(uuid.UUID(idempotency_key or ""))
        except ValueError:
            raise HTTPException(400, "Idempotency-Key header must be a UUID") from None
        digest = hashlib.sha256(json.dumps(body.model_dump(), sort_keys=True).encode()).hexdigest()
        old = store.tx_by("idem_key", key)
        if old is not None:
            if old["request_hash"] != digest:
                raise HTTPException(409, "Idempotency-Key already used for a different request")
            return JSONResponse(reports.tx_json(old), 200)
        account = store.account(body.client_ref)
        if account is None:
            raise HTTPException(404, "no such account")
        if not is_checksum_address(body.to) or body.to.lower() not in allowed:
            raise HTTPException(422, "destination is not whitelisted")
        if int(body.amount) > _units_available(store, body.client_ref, body.asset):
            raise HTTPException(422, "insufficient funds")
        try:
            row, fresh = store.insert_tx({
                "id": "wd_" + uuid.uuid4().hex, "client_ref": body.client_ref, "kind": "withdrawal",
                "asset": body.asset, "units": body.amount, "from_addr": account["address"].lower(),
                "to_addr": body.to.lower(), "status": "pending", "idem_key": key,
                "request_hash": digest})
        except Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        return JSONResponse(reports.tx_json(row), 201 if fresh else 200)

    @app.get("/v1/withdrawals/{wd_id}", dependencies=[Depends(bearer)])
    def get_withdrawal(wd_id: str) -> dict[str, Any]:
        """One withdrawal."""
        row = store.tx_by("id", wd_id)
        if row is None or row["kind"] != "withdrawal":
            raise HTTPException(404, "no such withdrawal")
        return reports.tx_json(row)

    add_fault_routes(app, faults, FaultConfig, admin)

    @app.put("/admin/whitelist", dependencies=[Depends(admin)])
    def put_whitelist(body: Whitelist) -> dict[str, Any]:
        """Replace the withdrawal whitelist."""
        allowed.clear()
        allowed.update(a.lower() for a in body.addresses)
        return {"addresses": sorted(allowed)}

    @app.get("/admin/stats", dependencies=[Depends(admin)])
    def stats() -> dict[str, Any]:
        """Request counters and every withdrawal (for tests and operators)."""
        return {"requests": faults.requests, "rate_limited": faults.rate_limited,
                "withdrawals": [reports.tx_json(t) for t in store.txs()
                                if t["kind"] == "withdrawal"],
                "assets": list(ASSETS)}

    return app
