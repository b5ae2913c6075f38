"""Hostile input is normal input: wrong keys, floats, negative or huge amounts, bad keys and
identifiers are refused and change nothing; racing debits never overdraw an account."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from keeper.integrations.corebanking import InsufficientFundsError


def trade_body(cid: str, amount: object) -> dict[str, object]:
    return {"customer_id": cid, "amount": amount, "fee": "0", "reference": "r", "asset": "USDC",
            "asset_units": "1", "ledger_transfer_id": "lt-x"}


@pytest.mark.parametrize("path,method", [("/atlas/balances", "GET"), ("/atlas/debits", "POST"),
                                         ("/atlas/wires/in", "POST"), ("/atlas/admin/faults", "PUT"),
                                         ("/atlas/gl/post-batch", "POST")])
@pytest.mark.parametrize("auth", [None, "Bearer nope", "Basic abc", "Bearer"])
def test_no_or_wrong_key_is_401(atlas, path, method, auth) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = httpx.request(method, atlas.url + path, headers=headers, json={})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_each_key_only_opens_its_own_endpoints(atlas, funded, postings) -> None:
    """The platform cannot book wires (mint fiat); staff cannot debit customers for trades."""
    cid = funded("PRIV", 100_00)
    plat = {"Authorization": f"Bearer {atlas.api_key}", "Idempotency-Key": str(uuid.uuid4())}
    staff = {"Authorization": f"Bearer {atlas.ops_key}", "Idempotency-Key": str(uuid.uuid4())}
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/wires/in", headers=plat,
                   json={"customer_id": cid, "amount": "100", "reference": "free money"})
    assert r.status_code == 401
    r = httpx.post(f"{atlas.url}/atlas/debits", headers=staff, json=trade_body(cid, "100"))
    assert r.status_code == 401
    assert postings() == before


@pytest.mark.parametrize("amount", [10.5, 100, "10.50", "-100", "0", "", "1e3", " 100", "0x10",
                                    "100000000000000001", None, True])
def test_amounts_other_than_positive_cent_strings_are_refused(atlas, funded, postings, amount) -> None:
    cid = funded("AMT", 1_000_00)
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/debits", json=trade_body(cid, amount),
                   headers={"Authorization": f"Bearer {atlas.api_key}",
                            "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 422, r.text
    assert postings() == before


@pytest.mark.parametrize("key", [None, "", "not-a-uuid", "1" * 36, str(uuid.uuid4()) + "x"])
def test_a_write_without_a_uuid_idempotency_key_is_refused(atlas, funded, postings, key) -> None:
    cid = funded("KEY", 1_000_00)
    headers = {"Authorization": f"Bearer {atlas.api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/debits", json=trade_body(cid, "100"), headers=headers)
    assert r.status_code == 422
    assert postings() == before


@pytest.mark.parametrize("extra", [{"customer_id": "../../etc"}, {"customer_id": "A" * 65},
                                   {"asset": "DAI"}, {"asset_units": "-1"}, {"surprise": 1}])
def test_malformed_fields_are_refused(atlas, funded, postings, extra) -> None:
    cid = funded("FLD", 1_000_00)
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/debits", json=trade_body(cid, "100") | extra,
                   headers={"Authorization": f"Bearer {atlas.api_key}",
                            "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 422
    assert postings() == before


def test_validation_errors_do_not_echo_the_input(atlas) -> None:
    secret = "4111 1111 1111 1111 customer secret"  # fails the id pattern
    r = httpx.post(f"{atlas.url}/atlas/debits", json=trade_body(secret, "100"),
                   headers={"Authorization": f"Bearer {atlas.api_key}",
                            "Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 422 and secret not in r.text


def test_racing_debits_never_overdraw(client, funded, postings) -> None:
    """20 concurrent buys of 100.00 against 1,000.00: exactly 10 pass, the rest are refused."""
    cid = funded("RACE", 1_000_00)
    before = postings()

    def buy(i: int) -> bool:
        try:
            client.debit_for_buy(str(uuid.uuid4()), cid, 100_00, reference=f"race {i}", asset="USDC",
                                 asset_units=100 * 10**6, ledger_transfer_id=f"lt-race-{i}")
            return True
        except InsufficientFundsError:
            return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(buy, range(20)))
    assert results.count(True) == 10
    assert client.customer(cid).balance_cents == 0
    assert postings() == before + 10
