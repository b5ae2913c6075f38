"""Hostile input to the Safe Transaction Service routes (no chain needed): every malformed
request is a 4xx in the Safe service's shape, never a 5xx, and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from api.main import create_app
from keeper.safetx.models import SafeTransaction
from strongroom_testkit.apiworld import World, build_world

SAFE = "0x000000000000000000000000000000000000dEaD"
HASH = "0x" + "ab" * 32
GOOD: dict[str, Any] = {
    "to": SAFE, "value": "1", "data": None, "operation": 0, "gasToken": None, "safeTxGas": 0,
    "baseGas": 0, "gasPrice": 0, "refundReceiver": None, "nonce": 0,
    "contractTransactionHash": HASH, "sender": SAFE, "signature": "0x" + "11" * 65,
    "origin": "x",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A migrated database; no Safe registered, no chain reachable."""
    return build_world(Path(tmp_path_factory.mktemp("safe-inputs")))


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[TestClient]:
    """The whole app in process."""
    with TestClient(create_app(world.settings()), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("field", "value"), [
    ("value", -1), ("value", 2**256), ("value", "1e18"), ("value", 1.5), ("value", True),
    ("operation", 2), ("nonce", "0x10"), ("to", SAFE.lower()), ("to", "0x123"), ("to", None),
    ("data", "0xzz"), ("data", "dead"), ("contractTransactionHash", "0x1234"),
    ("signature", "0x" + "11" * 10), ("signature", "0x" + "11" * 6000), ("origin", "o" * 201),
    ("origin", {"a": 1}), ("sender", 7), ("data", "0x" + "00" * (128 * 1024 + 1)),
    ("origin", "a\x00b"),  # PostgreSQL text cannot hold NUL: refused before any lookup
])
def test_malformed_proposals_are_422(api: TestClient, world: World, field: str,
                                     value: Any) -> None:
    r = api.post(f"/api/v2/safes/{SAFE}/multisig-transactions/", json={**GOOD, field: value})
    assert r.status_code == 422, r.text
    assert list(r.json()) == [field]
    with create_engine(world.url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(SafeTransaction.__table__)).scalar() == 0


@pytest.mark.parametrize("body", [[], "x", None, {"signature": 5}, {"signature": "0x12"}])
def test_malformed_bodies(api: TestClient, body: Any) -> None:
    r = api.post(f"/api/v2/safes/{SAFE}/multisig-transactions/", json=body)
    assert r.status_code == 422
    r = api.post(f"/api/v1/multisig-transactions/{HASH}/confirmations/", json=body)
    assert r.status_code == 400 and "signature" in r.json()
    r = api.request("DELETE", f"/api/v2/multisig-transactions/{HASH}/", json=body)
    assert r.status_code == 400


def test_unknown_and_malformed_ids(api: TestClient) -> None:
    assert api.post(f"/api/v2/safes/{SAFE}/multisig-transactions/", json=GOOD).status_code == 404
    assert api.get(f"/api/v1/safes/{SAFE}/").status_code == 404
    r = api.get(f"/api/v1/safes/{SAFE.lower()}/")
    assert r.status_code == 422 and r.json()["code"] == 1
    for path in (f"/api/v2/multisig-transactions/{HASH}/",
                 "/api/v2/multisig-transactions/0xnothex/",
                 f"/api/v1/multisig-transactions/{HASH}/confirmations/"):
        assert api.get(path).status_code == 404
    sig = {"signature": "0x" + "11" * 65}
    assert api.post(f"/api/v1/multisig-transactions/{HASH}/confirmations/",
                    json=sig).status_code == 404
    assert api.request("DELETE", f"/api/v2/multisig-transactions/{HASH}/",
                       json=sig).status_code == 404


@pytest.mark.parametrize("query", ["executed=maybe", "nonce__gte=-1", "nonce__gte=abc",
                                   "nonce__gte=99999999999999999999"])
def test_bad_list_filters_are_400(api: TestClient, query: str) -> None:
    r = api.get(f"/api/v2/safes/{SAFE}/multisig-transactions/?{query}")
    assert r.status_code == 400


DELEGATE: dict[str, Any] = {"safe": SAFE, "delegate": SAFE, "delegator": SAFE, "label": "desk",
                            "signature": "0x" + "11" * 65}


@pytest.mark.parametrize(("field", "value"), [
    ("safe", SAFE.lower()), ("safe", 7), ("delegate", None), ("delegate", "0x12"),
    ("delegator", SAFE.lower()), ("signature", "0x1234"), ("signature", None),
    ("signature", "0x" + "11" * 6000), ("label", ""), ("label", "l" * 51), ("label", None),
    ("label", "a\x00b"), ("label", 5), ("expiryDate", "tomorrow"), ("expiryDate", 5),
    ("expiryDate", "9999-12-31T23:59:59-14:00"),  # past the last representable UTC instant
])
def test_malformed_delegates_are_400(api: TestClient, world: World, field: str,
                                     value: Any) -> None:
    r = api.post("/api/v2/delegates/", json={**DELEGATE, field: value})
    assert r.status_code == 400, r.text
    assert list(r.json()) == [field]
    assert api.get("/api/v2/delegates/").json()["count"] == 0


def test_delegate_refusals_without_a_served_safe(api: TestClient) -> None:
    r = api.post("/api/v2/delegates/", json=DELEGATE)  # a Safe not served here
    assert r.status_code == 400 and "not served here" in r.json()["nonFieldErrors"][0]
    r = api.post("/api/v2/delegates/", json={**DELEGATE, "safe": None})  # owns no served Safe
    assert r.status_code == 400 and "not an owner" in r.json()["nonFieldErrors"][0]
    for body in ([], "x", None, {"delegator": SAFE}, {"delegator": SAFE, "signature": "0x12"}):
        assert api.post("/api/v2/delegates/", json=body).status_code == 400
        assert api.request("DELETE", f"/api/v2/delegates/{SAFE}/", json=body).status_code == 400
    r = api.request("DELETE", f"/api/v2/delegates/{SAFE.lower()}/", json=DELEGATE)
    assert r.status_code == 422 and r.json()["code"] == 1
    for query in ("safe=0x12", f"delegate={SAFE.lower()}", "delegator=x", "label=a%00b"):
        assert api.get(f"/api/v2/delegates/?{query}").status_code == 400, query
    assert api.get(f"/api/v2/delegates/?safe={SAFE}&label=desk").json() == {
        "count": 0, "next": None, "previous": None, "results": []}
