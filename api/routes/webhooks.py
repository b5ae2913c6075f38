"""Client webhooks: ``POST/GET /v1/webhooks``, ``DELETE /v1/webhooks/{id}``,
``GET /v1/webhooks/{id}/deliveries``. A client sees and changes only its own endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import CurrentClient, EngineDep, SettingsDep
from api.errors import not_found, responses
from keeper.notifications import (
    EVENTS,
    MAX_ENDPOINTS,
    Endpoint,
    TargetRefused,
    TooManyEndpoints,
    UnknownEndpoint,
    create_endpoint,
    delete_endpoint,
    delivery_log,
    list_endpoints,
    master_secret,
)

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=responses(401, 403, 422))
EndpointId = Annotated[str, Path(max_length=40)]


class WebhookIn(BaseModel):
    """Where to send events: an https URL on a public address."""

    url: str = Field(min_length=1, max_length=2048, examples=["https://hooks.example.com/strongroom"])


class WebhookOut(BaseModel):
    """A registered endpoint. Events: ``deposit.credited``, ``order.completed``,
    ``order.failed``, ``withdrawal.confirmed``, ``withdrawal.delayed``."""

    id: str
    url: str
    events: list[str]
    created_at: datetime

    @classmethod
    def of(cls, ep: Endpoint) -> WebhookOut:
        """From the domain's endpoint."""
        return cls(id=ep.id, url=ep.url, events=sorted(EVENTS), created_at=ep.created_at)


class WebhookCreatedOut(WebhookOut):
    """The new endpoint and its signing secret, shown this once: verify each delivery's
    ``X-Strongroom-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""

    secret: str


class WebhookListOut(BaseModel):
    """The client's endpoints, oldest first."""

    items: list[WebhookOut]


class DeliveryAttemptOut(BaseModel):
    """One delivery attempt: HTTP status (null: no answer), latency, error."""

    event_id: str
    event: str
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    at: datetime
    delivery_status: str


class DeliveryLogOut(BaseModel):
    """Newest attempts first."""

    webhook_id: str
    items: list[DeliveryAttemptOut]


@router.post("/webhooks", status_code=201, response_model=WebhookCreatedOut,
             responses=responses(409), summary="Register a webhook endpoint")
def post_webhook(body: WebhookIn, client: CurrentClient, engine: EngineDep,
                 settings: SettingsDep) -> WebhookCreatedOut:
    """Register ``url`` (https, public address) for the client's events; the signing secret
    is in this answer only."""
    try:
        created = create_endpoint(engine, client.id, body.url,
                                  master=master_secret(settings.secrets_dir),
                                  allow_loopback=settings.webhook_allow_loopback)
    except TargetRefused as exc:
        raise HTTPException(422, str(exc)) from None
    except TooManyEndpoints:
        raise HTTPException(409, f"at most {MAX_ENDPOINTS} webhook endpoints") from None
    return WebhookCreatedOut(**WebhookOut.of(created.endpoint).model_dump(),
                             secret=created.secret)


@router.get("/webhooks", response_model=WebhookListOut, summary="The client's webhook endpoints")
def get_webhooks(client: CurrentClient, engine: EngineDep) -> WebhookListOut:
    """Every active endpoint of the client (no secrets)."""
    return WebhookListOut(items=[WebhookOut.of(ep) for ep in list_endpoints(engine, client.id)])


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response,
               responses=responses(404), summary="Remove a webhook endpoint")
def remove_webhook(webhook_id: EndpointId, client: CurrentClient, engine: EngineDep) -> Response:
    """Stop sending to the endpoint (undelivered events to it are dropped)."""
    try:
        delete_endpoint(engine, client.id, webhook_id)
    except UnknownEndpoint:
        raise not_found("webhook") from None
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryLogOut,
            responses=responses(404), summary="Delivery log of a webhook endpoint")
def get_deliveries(webhook_id: EndpointId, client: CurrentClient, engine: EngineDep,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DeliveryLogOut:
    """The newest delivery attempts to the endpoint."""
    try:
        log = delivery_log(engine, client.id, webhook_id, limit=limit)
    except UnknownEndpoint:
        raise not_found("webhook") from None
    return DeliveryLogOut(webhook_id=webhook_id, items=[
        DeliveryAttemptOut.model_validate(a, from_attributes=True) for a in log])
