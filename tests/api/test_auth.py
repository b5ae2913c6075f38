"""API keys: digest-only storage, one indistinguishable 401 for every failure, revocation, scopes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import keeper.clients as clients
from keeper.clients.models import ApiKeyRow
from strongroom_testkit.apiworld import World

ROUTES = ["/v1/me", "/v1/balances", "/v1/statements/USDC/2026/1", "/v1/deposit-instructions/ETH"]
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "missing or invalid credentials"}}


def _bad_headers(world: World) -> dict[str, dict[str, str]]:
    key = world.alice.key.api_key
    prefix, key_id, secret = key.split("_", 2)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    return {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "other scheme": {"Authorization": f"Basic {key}"},
        "malformed": {"Authorization": "Bearer not-a-key"},
        "unknown key id": {"Authorization": f"Bearer {prefix}_{'0' * 16}_{secret}"},
        "wrong secret": {"Authorization": f"Bearer {prefix}_{key_id}_{flipped}"},
        "digest as key": {"Authorization": f"Bearer {clients.key_digest(key)}"},
    }


@pytest.mark.parametrize("route", ROUTES)
def test_every_failure_is_the_same_401(api: TestClient, world: World, route: str) -> None:
    for why, headers in _bad_headers(world).items():
        r = api.get(route, headers=headers)
        assert r.status_code == 401, why
        assert r.json() == UNAUTHORIZED, why
        assert r.headers["www-authenticate"] == "Bearer", why


def test_revoked_key_is_401_and_other_keys_still_work(api: TestClient, world: World) -> None:
    engine = create_engine(world.url)
    with Session(engine) as s:
        spare = clients.issue_key(s, world.alice.client.id, label="spare")
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 200
        assert clients.revoke_key(s, world.alice.key.key_id) is True
        assert clients.revoke_key(s, world.alice.key.key_id) is False
    engine.dispose()
    cache = api.app.state.credentials  # verified keys are cached for ttl_s: let it pass
    cache.clock = lambda: time.monotonic() + cache.ttl_s
    r = api.get("/v1/me", headers=world.alice.headers)
    assert r.status_code == 401 and r.json() == UNAUTHORIZED
    r = api.get("/v1/me", headers={"Authorization": f"Bearer {spare.api_key}"})
    assert r.status_code == 200 and r.json()["key"]["key_id"] == spare.key_id
    assert api.get("/v1/me", headers=world.bob.headers).status_code == 200


def test_only_the_sha256_digest_is_stored(world: World) -> None:
    engine = create_engine(world.url)
    with Session(engine) as s:
        rows = s.scalars(select(ApiKeyRow)).all()
        assert {r.key_id for r in rows} == {world.alice.key.key_id, world.bob.key.key_id}
        for party in (world.alice, world.bob):
            row = s.get(ApiKeyRow, party.key.key_id)
            assert row is not None and row.client_id == party.client.id
            assert row.key_sha256 == clients.key_digest(party.key.api_key)
            stored = " ".join(str(v) for v in (row.key_id, row.key_sha256, row.scopes, row.label))
            assert party.key.api_key.split("_", 2)[2] not in stored
    engine.dispose()


def test_keys_are_random_256_bit_secrets(world: World) -> None:
    a, b = world.alice.key.api_key, world.bob.key.api_key
    assert a != b and a.startswith("sr_") and b.startswith("sr_")
    secret = a.split("_", 2)[2]
    assert len(secret) == 43  # 32 bytes, base64url without padding


def test_a_key_without_the_scope_is_403(api: TestClient, world: World) -> None:
    engine = create_engine(world.url)
    token = "sr_" + "ab" * 8 + "_" + "k" * 43
    with Session(engine) as s:  # a key of a future scope, written as issue_key would
        s.add(ApiKeyRow(key_id="ab" * 8, client_id=world.alice.client.id,
                        key_sha256=clients.key_digest(token), scopes="partner:read",
                        created_at=datetime.now(UTC)))
        s.commit()
    engine.dispose()
    r = api.get("/v1/balances", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert "customer:read" in r.json()["error"]["message"]


def test_issue_key_refuses_unknown_scopes_and_clients(world: World) -> None:
    engine = create_engine(world.url)
    with Session(engine) as s:
        with pytest.raises(clients.InvalidScope):
            clients.issue_key(s, world.alice.client.id, ["admin:everything"])
        with pytest.raises(clients.InvalidScope):
            clients.issue_key(s, world.alice.client.id, [])
        with pytest.raises(clients.UnknownClient):
            clients.issue_key(s, "no-such-client")
        with pytest.raises(clients.UnknownKey):
            clients.revoke_key(s, "0" * 16)
    engine.dispose()
