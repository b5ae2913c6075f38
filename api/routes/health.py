"""Liveness and readiness: is the database reachable, is the chain reachable, is crediting live.

``followers`` reports each chain follower's lag behind the node's head, in blocks and in seconds
of chain time (head block timestamp minus the timestamp of the last mirrored block). A follower
more than ``confirmations + STALL_BLOCKS`` behind is ``stalled``: deposits are not being credited,
and ``ok`` is false.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import EngineDep, LedgerDep, SettingsDep

router = APIRouter(tags=["health"])
STALL_BLOCKS = 30  # beyond the confirmation depth; ~6 minutes of Ethereum blocks


class FollowerLag(BaseModel):
    """How far one chain follower is behind the node's head."""

    name: str
    position: int
    lag_blocks: int | None
    lag_seconds: int | None
    stalled: bool


class Health(BaseModel):
    """Component status; ``ok`` only when every component answers and no follower stalled."""

    ok: bool
    database: bool
    chain_id: int | None
    followers: list[FollowerLag] = []


def _head(rpc_url: str) -> tuple[int, dict[str, Any]] | None:
    try:
        from web3 import HTTPProvider, Web3

        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 2}))
        return int(w3.eth.chain_id), dict(w3.eth.get_block("latest"))
    except Exception:  # noqa: BLE001 - reported, not raised
        return None


@router.get("/health", response_model=Health)
def health(engine: EngineDep, ledger: LedgerDep, settings: SettingsDep) -> Health:
    """Report whether the database and the Ethereum node answer and how far crediting lags."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_ok = True
    except Exception:  # noqa: BLE001 - reported, not raised
        db_ok = False
    head = _head(settings.rpc_url)
    chain_id = head[0] if head else None
    followers: list[FollowerLag] = []
    if db_ok:
        for cur in ledger.cursors():
            blocks = seconds = None
            if head:
                blocks = max(0, int(head[1]["number"]) - cur.position)
                if cur.position_time is not None:
                    seconds = max(0, int(head[1]["timestamp"]) - cur.position_time)
            stalled = blocks is not None and blocks > (settings.confirmations or 0) + STALL_BLOCKS
            followers.append(FollowerLag(name=cur.name, position=cur.position, lag_blocks=blocks,
                                         lag_seconds=seconds, stalled=stalled))
    ok = db_ok and chain_id is not None and not any(f.stalled for f in followers)
    return Health(ok=ok, database=db_ok, chain_id=chain_id, followers=followers)
