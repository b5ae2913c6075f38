"""``GET /v1/deposit-instructions/{asset}``: where and how to deposit ETH, USDC or USDT."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel

from api.deps import ChainIdDep, CurrentClient, DeploymentDep, LedgerDep
from api.errors import responses
from api.schemas import AssetInfo, DepositAsset, asset_of
from keeper.clients import DepositsUnavailable, deposit_instructions

router = APIRouter(prefix="/v1", tags=["deposits"], responses=responses(401, 403, 422, 503))


class DepositInstructionsOut(BaseModel):
    """Call ``method`` on ``vault_address`` with your ``client_ref``; follow ``steps`` in order."""

    client_id: str
    asset: AssetInfo
    chain_id: int
    vault_address: str
    token_address: str | None
    client_ref: str
    method: str
    steps: list[str]


@router.get("/deposit-instructions/{asset}", response_model=DepositInstructionsOut,
            summary="How to deposit an asset")
def get_deposit_instructions(
    client: CurrentClient,
    ledger: LedgerDep,
    deployment: DeploymentDep,
    chain_id: ChainIdDep,
    asset: Annotated[DepositAsset, Path(description=f"One of {', '.join(DepositAsset)}")],
) -> DepositInstructionsOut:
    """The Vault address, the call to make and your bytes32 reference; 503 until deployed."""
    try:
        ins = deposit_instructions(ledger, client, asset_of(asset), deployment, chain_id)
    except DepositsUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return DepositInstructionsOut(
        client_id=client.id, asset=AssetInfo.of(ins.asset), chain_id=ins.chain_id,
        vault_address=ins.vault_address, token_address=ins.token_address,
        client_ref=ins.client_ref, method=ins.method, steps=list(ins.steps),
    )
