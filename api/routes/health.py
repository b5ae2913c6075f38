"""Liveness and readiness: is the database reachable, is the chain reachable."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import EngineDep, SettingsDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Component status; ``ok`` only when every component answers."""

    ok: bool
    database: bool
    chain_id: int | None


@router.get("/health", response_model=Health)
def health(engine: EngineDep, settings: SettingsDep) -> Health:
    """Report whether the database and the Ethereum node answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_ok = True
    except Exception:  # noqa: BLE001 - reported, not raised
        db_ok = False
    chain_id: int | None
    try:
        from web3 import HTTPProvider, Web3

        chain_id = int(Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 2})).eth.chain_id)
    except Exception:  # noqa: BLE001 - reported, not raised
        chain_id = None
    return Health(ok=db_ok and chain_id is not None, database=db_ok, chain_id=chain_id)
