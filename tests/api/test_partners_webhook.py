"""``POST /v1/hooks/partner``: only a correctly signed, fresh webhook asks for a partner pull;
anything else (unsigned, wrong secret, stale, replayed body under another signature, oversized)
is refused and changes nothing. The body is never used."""

from __future__ import annotations

import json
import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from keeper.partners import PARTNER_NAME, upgrade
from keeper.partners.store import PartnerStore
from keeper.partners.webhook import signed_headers
from strongroom_testkit.apiworld import World

SECRET = b"partner-webhook-secret-0123456789"
EVENT = json.dumps({"event_id": "dep_1:confirmed", "type": "deposit.confirmed",
                    "data": {"client_ref": "alice", "amount": "999999999"}}).encode()


def requested(world: World) -> object:
    """When a pull was last requested (None: never)."""
    from keeper.ledger import make_engine

    engine = make_engine(world.url)
    try:
        return PartnerStore(engine, PARTNER_NAME).state()["requested_at"]
    finally:
        engine.dispose()


def test_only_a_signed_fresh_webhook_requests_a_pull(app: FastAPI, world: World) -> None:
    upgrade(world.url)
    app.state.partner_webhook_secret = SECRET
    with TestClient(app) as api:
        hostile = [
            ({}, EVENT),
            (signed_headers(b"another-secret-entirely-000000000", EVENT), EVENT),
            (signed_headers(SECRET, EVENT, now=time.time() - 3600), EVENT),
            (signed_headers(SECRET, EVENT), EVENT.replace(b"999999999", b"1")),
            ({"X-Warp-Timestamp": "1e9", "X-Warp-Signature": "v1=00"}, EVENT),
            (signed_headers(SECRET, b"x" * 20_000), b"x" * 20_000),
        ]
        codes = [api.post("/v1/hooks/partner", content=body,
                          headers={"Content-Type": "application/json", **headers}).status_code
                 for headers, body in hostile]
        assert codes == [401, 401, 401, 401, 401, 413]
        assert requested(world) is None
        ok = api.post("/v1/hooks/partner", content=EVENT,
                      headers={"Content-Type": "application/json", **signed_headers(SECRET, EVENT)})
        assert ok.status_code == 202
        assert requested(world) is not None


def test_without_a_configured_secret_the_route_refuses(app: FastAPI, world: World) -> None:
    with TestClient(app) as api:
        reply = api.post("/v1/hooks/partner", content=EVENT,
                         headers={"Content-Type": "application/json",
                                  **signed_headers(SECRET, EVENT)})
    assert reply.status_code == 503
