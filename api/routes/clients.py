"""The authenticated client's own record: ``GET /v1/me`` and ``GET /v1/clients/{client_id}``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import CurrentPrincipal
from api.errors import not_found, responses
from keeper.clients import Principal, visible_client

router = APIRouter(prefix="/v1", tags=["clients"], responses=responses(401, 403))


class KeyOut(BaseModel):
    """The API key the request was made with (never the key itself)."""

    key_id: str
    scopes: list[str]


class ClientOut(BaseModel):
    """A client: its id, name and the bytes32 reference its deposits carry."""

    id: str
    name: str
    client_ref: str
    created_at: datetime
    key: KeyOut

    @classmethod
    def of(cls, principal: Principal) -> ClientOut:
        """Render the principal's client."""
        c = principal.client
        return cls(id=c.id, name=c.name, client_ref=c.client_ref, created_at=c.created_at,
                   key=KeyOut(key_id=principal.key_id, scopes=sorted(principal.scopes)))


@router.get("/me", response_model=ClientOut, summary="The authenticated client")
def me(principal: CurrentPrincipal) -> ClientOut:
    """The client the API key belongs to, and the key's id and scopes."""
    return ClientOut.of(principal)


@router.get(
    "/clients/{client_id}", response_model=ClientOut, summary="A client by id (only your own)",
    responses=responses(404),
)
def client_by_id(
    principal: CurrentPrincipal,
    client_id: Annotated[str, Path(max_length=64, description="Client id")],
) -> ClientOut:
    """Your own client record; any other id, existing or not, is 404."""
    if visible_client(principal, client_id) is None:
        raise not_found("client")
    return ClientOut.of(principal)
