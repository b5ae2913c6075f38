"""Transactions, one transaction and pending deposits: own data only, cursors bound to their
client and filters, amounts as exact decimal strings."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from keeper.ledger import Kind, Ledger, TransferSpec
from strongroom_testkit.apiworld import BIG, World


def _all_pages(api: TestClient, headers: dict[str, str], **params: object) -> list[dict]:
    items, cursor = [], None
    for _ in range(50):
        r = api.get("/v1/transactions", headers=headers,
                    params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_pages_walk_every_own_movement_once_newest_first(api: TestClient, world: World) -> None:
    items = _all_pages(api, world.alice.headers, limit=2)
    assert [i["id"] for i in items] == ["a-eth-1", "a-wd-1", "a-dep-2", "a-dep-1"]
    by = {i["id"]: i for i in items}
    assert by["a-dep-1"]["amount"] == str(BIG) and by["a-dep-1"]["kind"] == "deposit"
    assert by["a-wd-1"]["amount"] == "-4" and by["a-wd-1"]["kind"] == "withdrawal"
    assert by["a-eth-1"]["asset"]["symbol"] == "ETH" and by["a-eth-1"]["amount"] == str(10**21 + 1)
    assert all(isinstance(i["amount"], str) for i in items)
    assert {i["id"] for i in _all_pages(api, world.bob.headers)} == world.bob.transfer_ids


def test_filters(api: TestClient, world: World) -> None:
    h = world.alice.headers
    assert [i["id"] for i in _all_pages(api, h, asset="ETH")] == ["a-eth-1"]
    assert [i["id"] for i in _all_pages(api, h, kind="withdrawal")] == ["a-wd-1"]
    assert [i["id"] for i in _all_pages(api, h, asset="USDC", kind="deposit", limit=1)] == \
        ["a-dep-2", "a-dep-1"]
    assert _all_pages(api, h, **{"from": "2999-01-01T00:00:00Z"}) == []
    assert len(_all_pages(api, h, **{"from": "2000-01-01", "to": "2999-01-01"})) == 4
    assert _all_pages(api, h, asset="BTC") == []  # Bob's BTC is not visible through a filter


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"asset": "DOGE"}, {"kind": "theft"}, {"from": "yesterday"},
    {"cursor": "x" * 201},
])
def test_bad_parameters_are_422(api: TestClient, world: World, params: dict) -> None:
    r = api.get("/v1/transactions", headers=world.alice.headers, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_a_cursor_works_only_for_its_client_and_filters(api: TestClient, world: World) -> None:
    r = api.get("/v1/transactions", headers=world.alice.headers, params={"limit": 1})
    cursor = r.json()["next_cursor"]
    assert cursor
    # Bob replays Alice's cursor: refused, and nothing of Alice's comes back
    rb = api.get("/v1/transactions", headers=world.bob.headers, params={"cursor": cursor})
    assert rb.status_code == 400 and "a-" not in rb.text
    # the same cursor with other filters is refused too
    rf = api.get("/v1/transactions", headers=world.alice.headers,
                 params={"cursor": cursor, "asset": "USDC"})
    assert rf.status_code == 400
    # forged / garbage cursors are a clean 400, never a 500
    forged = base64.urlsafe_b64encode(json.dumps({"v": 1, "b": 10**30, "f": "x"}).encode())
    for bad in ("!!!", "e30", forged.decode(), base64.urlsafe_b64encode(b"[]").decode()):
        rg = api.get("/v1/transactions", headers=world.alice.headers, params={"cursor": bad})
        assert rg.status_code == 400, (bad, rg.text)
        assert rg.json()["error"]["code"] == "bad_request"


def test_one_transaction_is_404_for_anyone_elses_id(api: TestClient, world: World) -> None:
    r = api.get("/v1/transactions/a-dep-1", headers=world.alice.headers)
    assert r.status_code == 200 and r.json()["amount"] == str(BIG)
    theirs = api.get("/v1/transactions/a-dep-1", headers=world.bob.headers)
    missing = api.get("/v1/transactions/no-such-id", headers=world.bob.headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json() | {} and theirs.json()["error"]["message"] == \
        missing.json()["error"]["message"]
    # a hold is not a posted movement
    assert api.get("/v1/transactions/a-hold-1", headers=world.alice.headers).status_code == 404


def test_pending_deposits_are_own_open_incoming_holds(api: TestClient, world: World) -> None:
    lg = Ledger(world.url, group_commit=False)
    try:
        acc = lg.client_account(world.bob.client.id, "USDT")
        lg.post(TransferSpec("b-in-hold", lg.omnibus_account("USDT", "vault"), acc, BIG,
                             Kind.PENDING))
    finally:
        lg.close()
    rb = api.get("/v1/deposits/pending", headers=world.bob.headers).json()
    assert [(i["id"], i["amount"], i["status"]) for i in rb["items"]] == \
        [("b-in-hold", str(BIG), "pending")]
    ra = api.get("/v1/deposits/pending", headers=world.alice.headers).json()
    assert ra["items"] == []  # Alice's outgoing hold is not a deposit, Bob's is not hers


def test_reads_need_a_key(api: TestClient) -> None:
    for path in ("/v1/transactions", "/v1/transactions/a-dep-1", "/v1/deposits/pending"):
        assert api.get(path).status_code == 401


def test_a_self_made_cursor_with_a_huge_position_is_400_not_500(api: TestClient,
                                                                world: World) -> None:
    from keeper.clients.portfolio import TransactionFilter

    digest = TransactionFilter().digest(world.alice.client.id)
    for b in (2**64, 10**30, -1, 0, "1", 1.5, True):
        raw = json.dumps({"v": 1, "b": b, "f": digest}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        r = api.get("/v1/transactions", headers=world.alice.headers, params={"cursor": cursor})
        assert r.status_code == 400, (b, r.status_code, r.text)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                  "0001-01-01T00:00:00", "9999-12-31T23:59:59Z"])
def test_extreme_dates_are_answered_not_500(api: TestClient, world: World, when: str) -> None:
    for key in ("from", "to"):
        r = api.get("/v1/transactions", headers=world.alice.headers, params={key: when})
        assert r.status_code in (200, 422), (key, when, r.status_code, r.text)
