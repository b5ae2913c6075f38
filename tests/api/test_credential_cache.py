"""Verified API keys are cached for a few seconds (``app.state.credentials``): a revoked key is
refused once its cache entry is older than the TTL; wrong keys are never cached; the cache holds
key digests, never keys."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import api.deps
import keeper.clients as clients
from api.main import create_app
from keeper.ledger import make_engine
from strongroom_testkit.apiworld import World

CredentialCache = api.deps.CredentialCache


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_key_is_refused_within_the_ttl(world: World) -> None:
    app = create_app(world.settings())
    clock = Clock()
    app.state.credentials = CredentialCache(ttl_s=5.0, clock=clock)
    with TestClient(app) as api:
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 200
        engine = make_engine(world.url)
        with Session(engine) as s:
            assert clients.revoke_key(s, world.alice.key.key_id) is True
        engine.dispose()
        clock.now += 4.9  # inside the bound the cached verification still answers
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 200
        clock.now += 0.2  # past it the key is checked again, and refused
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 401
        clock.now += 60  # and never comes back
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 401
        assert api.get("/v1/me", headers=world.bob.headers).status_code == 200


def test_wrong_keys_are_not_cached_and_keys_are_kept_as_digests(world: World) -> None:
    app = create_app(world.settings())
    with TestClient(app) as api:
        bad = world.alice.key.api_key[:-4] + "0000"
        for _ in range(3):
            assert api.get("/v1/me", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
        cache = app.state.credentials
        assert cache._entries == {}
        assert api.get("/v1/me", headers=world.alice.headers).status_code == 200
        assert len(cache._entries) == 1
        assert world.alice.key.api_key.encode() not in b"".join(cache._entries)


def test_the_cache_is_bounded() -> None:
    clock = Clock()
    cache = CredentialCache(ttl_s=5.0, max_entries=3, clock=clock)
    for i in range(10):
        cache.put(f"sr_{i}", object())  # type: ignore[arg-type]
        assert len(cache._entries) <= 3
    assert cache.get("sr_9") is not None and cache.get("sr_0") is None
