"""Customer reads: each client sees exactly its own data, amounts are exact decimal strings."""

from __future__ import annotations

import json
import uuid

from fastapi.testclient import TestClient

from strongroom_testkit.apiworld import BIG, World


def test_me_is_the_keys_client(api: TestClient, world: World) -> None:
    for party in (world.alice, world.bob):
        r = api.get("/v1/me", headers=party.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == party.client.id
        assert body["name"] == party.client.name
        assert body["client_ref"] == party.client.client_ref
        assert body["key"] == {"key_id": party.key.key_id, "scopes": ["customer:read"]}
        assert party.key.api_key not in r.text


def test_balances_are_own_and_exact_strings(api: TestClient, world: World) -> None:
    r = api.get("/v1/balances", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["client_id"] == world.alice.client.id
    by = {b["asset"]["symbol"]: b for b in body["balances"]}
    assert set(by) == {"ETH", "USDC", "USDT", "BTC"}
    usdc_balance = BIG + 10 - 4
    assert by["USDC"]["balance"] == str(usdc_balance)
    assert by["USDC"]["available"] == str(usdc_balance - 3)  # the open hold of 3
    assert by["USDC"]["asset"]["decimals"] == 6
    assert by["ETH"]["balance"] == str(10**21 + 1)
    assert by["ETH"]["asset"]["decimals"] == 18
    assert by["BTC"]["balance"] == "0"  # Bob's BTC is not Alice's
    # every amount is a JSON string: a float parse could not have lost precision
    for b in body["balances"]:
        for k in ("balance", "available", "pending_credits"):
            assert isinstance(b[k], str) and b[k].lstrip("-").isdigit()
    assert float(usdc_balance) != usdc_balance  # the amount really is beyond double precision
    floats = json.loads(r.text, parse_float=lambda s: (_ for _ in ()).throw(AssertionError(s)))
    assert floats == body  # no JSON number with a fraction or exponent anywhere

    r = api.get("/v1/balances", headers=world.bob.headers)
    bob = {b["asset"]["symbol"]: b["balance"] for b in r.json()["balances"]}
    assert bob == {"ETH": "0", "USDC": "5000000", "USDT": "0", "BTC": "123"}


def test_statement_running_balance(api: TestClient, world: World) -> None:
    r = api.get(f"/v1/statements/USDC/{world.year}/{world.month}", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["client_id"] == world.alice.client.id
    assert st["asset"]["symbol"] == "USDC"
    assert st["opening_balance"] == "0"
    lines = [(ln["transfer_id"], ln["amount"], ln["balance"]) for ln in st["lines"]]
    assert lines == [
        ("a-dep-1", str(BIG), str(BIG)),
        ("a-dep-2", "10", str(BIG + 10)),
        ("a-wd-1", "-4", str(BIG + 6)),
    ]  # the open hold is not a posted movement
    assert st["closing_balance"] == str(BIG + 6)


def test_statement_of_an_earlier_month_is_empty(api: TestClient, world: World) -> None:
    r = api.get(f"/v1/statements/USDC/{world.year - 1}/{world.month}", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == [] and r.json()["closing_balance"] == "0"


def test_statements_never_show_another_clients_movements(api: TestClient, world: World) -> None:
    for me, other in ((world.alice, world.bob), (world.bob, world.alice)):
        seen: set[str] = set()
        for asset in ("ETH", "USDC", "USDT", "BTC"):
            r = api.get(f"/v1/statements/{asset}/{world.year}/{world.month}", headers=me.headers)
            assert r.status_code == 200, r.text
            seen |= {ln["transfer_id"] for ln in r.json()["lines"]}
        assert seen == me.transfer_ids
        assert not seen & other.transfer_ids


def test_another_clients_record_is_404_like_a_missing_one(api: TestClient, world: World) -> None:
    own = api.get(f"/v1/clients/{world.alice.client.id}", headers=world.alice.headers)
    assert own.status_code == 200 and own.json()["id"] == world.alice.client.id
    other = api.get(f"/v1/clients/{world.bob.client.id}", headers=world.alice.headers)
    missing = api.get(f"/v1/clients/{uuid.uuid4()}", headers=world.alice.headers)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {
        "error": {"code": "not_found", "message": "client not found"}
    }
    assert world.bob.client.name not in other.text
