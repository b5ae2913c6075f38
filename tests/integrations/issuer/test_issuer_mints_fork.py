"""Mints through the local issuer service (a real subprocess) on the fork: exact amounts,
idempotency, injected failures, holds beyond review, reserves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from eth_account import Account

from keeper.assets import USDC
from keeper.integrations.issuer import (
    IssuerConflict,
    IssuerRejected,
    IssuerUnavailable,
    MintStatus,
    new_idempotency_key,
)

pytestmark = pytest.mark.fork


def fresh_address() -> str:
    return Account.create().address


def test_mint_moves_balance_and_supply_by_exactly_the_amount(issuer, usdc, w3, settle):
    dest = fresh_address()
    supply_before = usdc.totalSupply()
    units = 1_234_567_891  # 1234.567891 USDC: every one of the six decimals counts
    mint = issuer.client.create_mint(units=units, destination_address=dest, reference="BANK-MINT-1",
                                     idempotency_key=new_idempotency_key())
    assert mint.status is MintStatus.PENDING and mint.units == units and mint.estimated_completion
    done = settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.COMPLETE, done
    assert done.confirmations >= 2
    assert usdc.balanceOf(dest) == units
    assert usdc.totalSupply() - supply_before == units
    receipt = w3.eth.get_transaction_receipt(done.blockchain_tx_id)
    assert receipt["status"] == 1 and receipt["from"] == issuer.address
    assert receipt["to"].lower() == usdc.address.lower()


def test_same_idempotency_key_twice_mints_once(issuer, usdc, settle):
    dest, key = fresh_address(), new_idempotency_key()
    first = issuer.client.create_mint(units=5_000_000, destination_address=dest, reference="R-2",
                                      idempotency_key=key)
    again = issuer.client.create_mint(units=5_000_000, destination_address=dest, reference="R-2",
                                      idempotency_key=key)
    assert again.mint_id == first.mint_id
    with pytest.raises(IssuerConflict):  # same key, another amount: refused, nothing new
        issuer.client.create_mint(units=6_000_000, destination_address=dest, reference="R-2",
                                  idempotency_key=key)
    settle(lambda: issuer.client.get_mint(first.mint_id), lambda m: m.status == MintStatus.COMPLETE)
    third = issuer.client.create_mint(units=5_000_000, destination_address=dest, reference="R-2",
                                      idempotency_key=key)
    assert third.mint_id == first.mint_id and third.status is MintStatus.COMPLETE
    assert usdc.balanceOf(dest) == 5_000_000


def test_a_lost_reply_retried_with_the_same_key_mints_once(issuer, usdc, settle):
    issuer.set_faults(lost_reply_rate=1.0)  # every POST is processed, then answered 500
    dest, key = fresh_address(), new_idempotency_key()
    with pytest.raises(IssuerUnavailable):  # 4 attempts, each reply lost
        issuer.client.create_mint(units=7_000_000, destination_address=dest, reference="R-3",
                                  idempotency_key=key)
    issuer.set_faults()
    mint = issuer.client.create_mint(units=7_000_000, destination_address=dest, reference="R-3",
                                     idempotency_key=key)
    settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status == MintStatus.COMPLETE)
    assert usdc.balanceOf(dest) == 7_000_000


def test_injected_mint_failure_reports_failed_and_mints_nothing(issuer_factory, usdc, settle):
    issuer = issuer_factory("--mint-fail-rate", "1")
    dest, supply_before = fresh_address(), usdc.totalSupply()
    mint = issuer.client.create_mint(units=9_000_000, destination_address=dest, reference="R-4",
                                     idempotency_key=new_idempotency_key())
    done = settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.FAILED and done.reason and done.blockchain_tx_id is None
    assert usdc.balanceOf(dest) == 0 and usdc.totalSupply() == supply_before


def test_a_mint_the_token_refuses_fails_with_its_reason_and_sends_nothing(issuer, usdc, w3, settle):
    dest, supply_before = fresh_address(), usdc.totalSupply()
    nonce_before = w3.eth.get_transaction_count(issuer.address)
    mint = issuer.client.create_mint(units=10**9 * 10**6 + 1, destination_address=dest,  # > allowance
                                     reference="R-5", idempotency_key=new_idempotency_key())
    done = settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.FAILED and "minterAllowance" in (done.reason or "")
    assert usdc.totalSupply() == supply_before
    assert w3.eth.get_transaction_count(issuer.address) == nonce_before


def test_a_mint_to_a_blacklisted_address_fails_and_mints_nothing(issuer, usdc, accounts, chain, settle):
    dest, supply_before = fresh_address(), usdc.totalSupply()
    chain.provider.set_balance(usdc.blacklister(), 10**20)
    usdc.blacklist(dest, sender=accounts[usdc.blacklister()])
    mint = issuer.client.create_mint(units=2_000_000, destination_address=dest, reference="R-B",
                                     idempotency_key=new_idempotency_key())
    done = settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.FAILED and "blacklisted" in (done.reason or "")
    assert usdc.totalSupply() == supply_before and usdc.balanceOf(dest) == 0


@pytest.mark.parametrize("delay", ["hold", 2 * 86_400])  # review beyond 24 h: open-ended or 2 days
def test_a_held_mint_stays_pending_until_released(issuer, usdc, settle, delay):
    issuer.set_faults(mint_delay_s=delay)
    held_dest = fresh_address()
    held = issuer.client.create_mint(units=11_000_000, destination_address=held_dest, reference="R-6",
                                     idempotency_key=new_idempotency_key())
    if delay == "hold":
        assert held.estimated_completion is None
    else:  # the promised time is past the delay
        eta = datetime.strptime(held.estimated_completion, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert eta - datetime.now(UTC) > timedelta(seconds=delay - 3600)
    issuer.set_faults()
    later = issuer.client.create_mint(units=1_000_000, destination_address=fresh_address(),
                                      reference="R-7", idempotency_key=new_idempotency_key())
    # the worker has minted a later request with its confirmations: it passed the held one by
    settle(lambda: issuer.client.get_mint(later.mint_id), lambda m: m.status == MintStatus.COMPLETE)
    assert issuer.client.get_mint(held.mint_id).status is MintStatus.PENDING
    assert usdc.balanceOf(held_dest) == 0
    assert issuer.admin("POST", f"/admin/mints/{held.mint_id}/release").status_code == 200
    done = settle(lambda: issuer.client.get_mint(held.mint_id), lambda m: m.status != MintStatus.PENDING)
    assert done.status is MintStatus.COMPLETE and usdc.balanceOf(held_dest) == 11_000_000


def test_reserves_follow_mints_and_match_the_chain(issuer, usdc, settle):
    before = issuer.client.reserves()
    assert before.total_supply_units == usdc.totalSupply()
    assert before.backing_units == before.total_supply_units  # opened fully backed
    mint = issuer.client.create_mint(units=42_000_001, destination_address=fresh_address(),
                                     reference="R-8", idempotency_key=new_idempotency_key())
    settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status == MintStatus.COMPLETE)
    after = issuer.client.reserves()
    assert after.total_reserves_units - before.total_reserves_units == 42_000_001
    assert after.total_supply_units == usdc.totalSupply() == after.backing_units


MALFORMED = [
    {"amount": "1.0000001"}, {"amount": "-1"}, {"amount": "1e6"}, {"amount": 5}, {"amount": "0.00"},
    {"currency": "EUR"}, {"destination_address": "0x0000000000000000000000000000000000000000"},
    {"destination_address": USDC.address.lower()},  # not checksummed
    {"reference": "x" * 65}, {"reference": "a\nb"}, {"extra": "field"}]


def test_malformed_mint_requests_are_refused_and_record_nothing(issuer):
    good = {"amount": "1.00", "currency": "USD", "destination_address": fresh_address(),
            "reference": "R-9"}
    auth = issuer.client._http.headers["Authorization"]  # the client only builds valid requests
    key = new_idempotency_key()
    for body in MALFORMED:
        reply = httpx.post(issuer.url + "/v1/mints", json={**good, **body}, timeout=30,
                           headers={"Idempotency-Key": key, "Authorization": auth})
        assert reply.status_code == 422, (body, reply.text)
    # the key is still free: a valid request with it is created, not replayed
    ok = httpx.post(issuer.url + "/v1/mints", json=good, timeout=30,
                    headers={"Idempotency-Key": key, "Authorization": auth})
    assert ok.status_code == 201, ok.text
    for headers in ({"Authorization": auth}, {"Authorization": auth, "Idempotency-Key": "nope"},
                    {"Idempotency-Key": key, "Authorization": "Bearer wrong"}):
        assert httpx.post(issuer.url + "/v1/mints", json=good, headers=headers,
                          timeout=30).status_code in (400, 401)


def test_maintenance_answers_503_and_the_client_gives_up_as_unavailable(issuer):
    issuer.set_faults(maintenance=True)
    with pytest.raises(IssuerUnavailable) as err:
        issuer.client.reserves()
    assert err.value.status == 503
    issuer.set_faults()
    assert issuer.client.reserves().block_number > 0
    with pytest.raises(IssuerRejected):
        issuer.client.get_mint("no-such-mint")


def test_injected_5xx_follow_the_seed_and_retried_posts_create_once(issuer, usdc, settle):
    auth = {"Authorization": issuer.client._http.headers["Authorization"]}

    def pattern() -> list[int]:
        return [httpx.get(issuer.url + "/v1/reserves", headers=auth, timeout=30).status_code
                for _ in range(16)]

    issuer.set_faults(seed=7, error_rate=0.5)
    first = pattern()
    issuer.set_faults(seed=7, error_rate=0.5)  # the same seed replays the same decisions
    assert pattern() == first and set(first) == {200, 500}
    issuer.set_faults(seed=8, error_rate=0.5)
    assert pattern() != first
    issuer.set_faults(seed=7, error_rate=0.5)  # the client retries through the 500s with one key
    dest = fresh_address()
    mint = issuer.client.create_mint(units=3_000_000, destination_address=dest, reference="R-10",
                                     idempotency_key=new_idempotency_key())
    issuer.set_faults()
    settle(lambda: issuer.client.get_mint(mint.mint_id), lambda m: m.status == MintStatus.COMPLETE)
    assert usdc.balanceOf(dest) == 3_000_000


def test_the_service_configures_its_own_minter_on_a_fork_within_the_allowance(issuer_factory, usdc, settle):
    key = Account.create()
    assert not usdc.isMinter(key.address)
    issuer = issuer_factory("--configure-minter-allowance", "5000000", key="0x" + bytes(key.key).hex())
    assert issuer.address == key.address == issuer.client.redemption_address()
    assert usdc.minterAllowance(key.address) == 5_000_000
    first, second = (issuer.client.create_mint(units=units, destination_address=fresh_address(),
                                               reference=f"R-A{units}", idempotency_key=new_idempotency_key())
                     for units in (5_000_000, 1))
    done = [settle(lambda m=m: issuer.client.get_mint(m.mint_id), lambda m: m.status != MintStatus.PENDING)
            for m in (first, second)]
    assert [m.status for m in done] == [MintStatus.COMPLETE, MintStatus.FAILED]
    assert usdc.minterAllowance(key.address) == 0
