"""The trading API over the real order service, a real local ATLAS process and the app built by
``create_app`` from its settings: buy (from the bank's inventory: no issuer call), on-us
transfers (single and batch), orders read back, notify-deposit, the issuer webhook's signature
and every refusal in the API's error shape with a stable code."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.flows import INVENTORY_CLIENT
from keeper.integrations.corebanking import ATLAS_KEY_FILE, AtlasClient, AtlasOpsClient
from keeper.integrations.issuer import ISSUER_KEY_FILE, ISSUER_WEBHOOK_SECRET_FILE
from keeper.integrations.issuer.webhook import signed_headers
from keeper.keys.secrets import Secret, write_secret_file
from keeper.ledger import Ledger, TransferSpec
from strongroom_testkit.apiworld import World, build_world
from strongroom_testkit.services import Atlas, make_atlas

USDC = 10**6  # base units of one USDC
WEBHOOK_SECRET = "whsec-" + "k" * 32


@dataclass
class Trading:
    """The app's client, the world, ATLAS and each party's keys."""

    api: TestClient
    world: World
    atlas: AtlasClient  # the platform's view (reads balances)
    trade: dict[str, dict[str, str]]  # party -> headers of a trade+read key
    read: dict[str, dict[str, str]]  # party -> headers of a read-only key
    bank: dict[str, str]  # headers of the core-banking key
    customer: dict[str, str]  # party -> ATLAS customer id

    def post(self, path: str, body: Any, party: str = "alice", key: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """POST as ``party`` with ``key`` as Idempotency-Key (a fresh one when None)."""
        h = {**(headers if headers is not None else self.trade[party])}
        h["Idempotency-Key"] = key or uuid.uuid4().hex
        return self.api.post(path, json=body, headers=h)

    def holding(self, party: str, asset: str = "USDC") -> int:
        """``party``'s posted balance read through the API."""
        r = self.api.get("/v1/balances", headers=self.read[party])
        return int(next(b["balance"] for b in r.json()["balances"] if b["asset"]["symbol"] == asset))


@pytest.fixture(scope="module")
def atlas_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Atlas]:
    """One real ATLAS process for the module (its notifications are not used here)."""
    a = make_atlas(tmp_path_factory.mktemp("atlas"), "http://127.0.0.1:9")
    a.start()
    yield a
    a.stop()


def _key(s: Session, client_id: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {clients.issue_key(s, client_id, scopes).api_key}"}


@pytest.fixture
def trading(tmp_path: Path, atlas_proc: Atlas, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trading]:
    """Alice and Bob onboarded (profile, KYC, an ATLAS account with USD 1,000,000.00), the
    bank's inventory holding 1,000,000 USDC, and the API configured with ATLAS and an issuer."""
    monkeypatch.delenv("STRONGROOM_DEPLOYMENTS_DIR", raising=False)
    world = build_world(tmp_path)
    (tmp_path / "prices.json").write_text(json.dumps({
        "as_of": datetime.now(UTC).isoformat(),
        "prices": {"USDC": 100, "USDT": 100, "ETH": 300_000, "BTC": 6_000_000}}))
    secrets = tmp_path / "secrets"
    write_secret_file(secrets / ATLAS_KEY_FILE, atlas_proc.api_key)
    write_secret_file(secrets / ISSUER_KEY_FILE, "issuer-" + uuid.uuid4().hex)
    write_secret_file(secrets / ISSUER_WEBHOOK_SECRET_FILE, WEBHOOK_SECRET)
    ops = AtlasOpsClient(atlas_proc.url, Secret(atlas_proc.ops_key))
    run = uuid.uuid4().hex[:8]
    ledger = Ledger(world.url, group_commit=False)
    trade, read, customer = {}, {}, {}
    with Session(ledger.engine) as s:
        bank_client = clients.create_client(s, ledger, "ATLAS core banking")
        bank = _key(s, bank_client.id, clients.COREBANKING)
        for name in ("alice", "bob"):
            party = getattr(world, name)
            customer[name] = f"CUST-{name}-{run}"
            clients.set_profile(s, party.client.id, actor="test", bank_customer_id=customer[name],
                                kyc_valid_until=date.today() + timedelta(days=365), country="GB")
            s.commit()
            ops.create_customer(customer[name], name.title())
            ops.wire_in(str(uuid.uuid4()), customer[name], 100_000_000, "funding")
            trade[name] = _key(s, party.client.id, clients.CUSTOMER_TRADE, clients.CLIENT_READ)
            read[name] = _key(s, party.client.id, clients.CLIENT_READ)
    ledger.post(TransferSpec("inventory-1", ledger.omnibus_account("USDC", "vault"),
                             ledger.client_account(INVENTORY_CLIENT, "USDC"), 1_000_000 * USDC))
    ledger.close()
    settings = world.settings().model_copy(update={
        "atlas_url": atlas_proc.url, "issuer_url": "http://127.0.0.1:9", "secrets_dir": secrets,
        "prices_file": tmp_path / "prices.json", "rate_limit_per_minute": 10_000})
    platform = AtlasClient(atlas_proc.url, Secret(atlas_proc.api_key))
    with TestClient(create_app(settings)) as api:
        yield Trading(api, world, platform, trade, read, bank, customer)
    ops.close()
    platform.close()


def _error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_buy_debits_core_banking_once_and_delivers(trading: Trading) -> None:
    """USD 100,000.00 buys 100,000 USDC for a USD 250.00 fee (spec 004); a replay answers the
    same order and debits nothing more; the order reads back for its owner only."""
    t = trading
    before = t.atlas.customer(t.customer["alice"]).balance_cents
    r = t.post("/v1/orders/buy", {"asset": "USDC", "fiat_cents": "10000000"}, key="buy-1")
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["kind"], order["state"], order["fee_cents"]) == ("buy", "completed", "25000")
    assert order["units"] == str(100_000 * USDC) and t.holding("alice") > 100_000 * USDC
    again = t.post("/v1/orders/buy", {"asset": "USDC", "fiat_cents": "10000000"}, key="buy-1")
    assert again.status_code == 201 and again.json()["id"] == order["id"]
    assert t.atlas.customer(t.customer["alice"]).balance_cents == before - 10_025_000
    got = t.api.get(f"/v1/orders/{order['id']}", headers=t.read["alice"])
    assert got.status_code == 200 and got.json() == order
    assert _error(t.api.get(f"/v1/orders/{order['id']}", headers=t.read["bob"])) == (404, "not_found")


def test_idempotency_key_rules(trading: Trading) -> None:
    """Missing key 400, malformed key 400, same key with another body 409; nothing created."""
    t = trading
    body = {"asset": "USDC", "fiat_cents": "5000"}
    r = t.api.post("/v1/orders/buy", json=body, headers=t.trade["alice"])
    assert _error(r) == (400, "bad_request") and "Idempotency-Key" in r.json()["error"]["message"]
    assert _error(t.post("/v1/orders/buy", body, key="bad key with spaces")) == (400, "bad_request")
    assert t.post("/v1/orders/buy", body, key="k-1").status_code == 201
    other = t.post("/v1/orders/buy", {"asset": "USDC", "fiat_cents": "5001"}, key="k-1")
    assert _error(other) == (409, "idempotency_conflict")


def test_scopes_and_hostile_amounts(trading: Trading) -> None:
    """A read-only key cannot trade (403); JSON numbers, zero, negatives and other assets are
    422 validation errors: nothing reaches the service."""
    t = trading
    body = {"asset": "USDC", "fiat_cents": "5000"}
    holding = t.holding("alice")
    assert _error(t.post("/v1/orders/buy", body, headers=t.read["alice"])) == (403, "forbidden")
    for bad in ({"asset": "USDC", "fiat_cents": 5000}, {"asset": "USDC", "fiat_cents": "0"},
                {"asset": "USDC", "fiat_cents": "-5"}, {"asset": "USDC", "fiat_cents": "1e3"},
                {"asset": "ETH", "fiat_cents": "5000"}, {"asset": "USDC", "fiat_cents": "5000",
                                                         "client_id": "bob"}):
        assert _error(t.post("/v1/orders/buy", bad)) == (422, "validation_error"), bad
    assert _error(t.post("/v1/orders/sell", {"asset": "USDC", "units": 1.5})) == (422, "validation_error")
    assert t.holding("alice") == holding


def test_refusals_keep_the_services_code(trading: Trading) -> None:
    """A buy above the single limit is 422 ``limit_single``; a withdrawal (not enabled in this
    build) 503 ``unavailable``; overdrawing a transfer 422 ``insufficient_funds``."""
    t = trading
    r = t.post("/v1/orders/buy", {"asset": "USDC", "fiat_cents": str(25_000_001)})
    assert _error(r) == (422, "limit_single")
    r = t.post("/v1/withdrawals", {"asset": "USDC", "to_address": "0x" + "ab" * 20, "units": "1"})
    assert _error(r) == (503, "unavailable")
    bob = t.world.bob.client.id
    r = t.post("/v1/transfers", {"to_client_id": bob, "asset": "USDC", "units": str(10**17)})
    assert _error(r) == (422, "insufficient_funds")


def test_transfers_single_and_batch(trading: Trading) -> None:
    """On-us transfers move exactly what they say, once; a replayed batch answers the same
    orders; an over-long batch is refused before the service."""
    t = trading
    alice, bob = t.holding("alice"), t.holding("bob")
    bob_id = t.world.bob.client.id
    r = t.post("/v1/transfers", {"to_client_id": bob_id, "asset": "USDC", "units": "7"})
    assert r.status_code == 201 and r.json()["kind"] == "transfer"
    items = [{"to_client_id": bob_id, "asset": "USDC", "units": str(n)} for n in (1, 2, 3)]
    first = t.post("/v1/transfers/batch", {"items": items}, key="batch-1")
    assert first.status_code == 201, first.text
    again = t.post("/v1/transfers/batch", {"items": items}, key="batch-1")
    ids = [o["id"] for o in first.json()["orders"]]
    assert [o["id"] for o in again.json()["orders"]] == ids and len(set(ids)) == 3
    assert (t.holding("alice"), t.holding("bob")) == (alice - 13, bob + 13)
    assert t.api.get(f"/v1/orders/{ids[2]}", headers=t.read["alice"]).json()["units"] == "3"
    too_many = {"items": [items[0]] * 10_001}
    assert _error(t.post("/v1/transfers/batch", too_many)) == (422, "validation_error")
    assert (t.holding("alice"), t.holding("bob")) == (alice - 13, bob + 13)


def test_notify_deposit_is_idempotent_on_transaction_id(trading: Trading) -> None:
    """ATLAS's notice becomes one buy order: the same ``transaction_id`` answers the same order
    id; an unknown customer is 400; a client's trade key cannot call it (403)."""
    t = trading
    notice = {"customer_id": t.customer["bob"], "transaction_id": f"TX-{uuid.uuid4().hex[:12]}",
              "amount": "100250", "currency": "USD", "reference": "buy USDC",
              "timestamp": "2026-02-01T10:30:00Z", "source_account": "ACC-1"}
    r = t.api.post("/stablecoin/notify-deposit", json=notice, headers=t.bank)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "accepted" and answer["stablecoin_order_id"]
    again = t.api.post("/stablecoin/notify-deposit", json=notice, headers=t.bank)
    assert again.json()["stablecoin_order_id"] == answer["stablecoin_order_id"]
    unknown = {**notice, "customer_id": "NOBODY", "transaction_id": "TX-unknown-1"}
    assert _error(t.api.post("/stablecoin/notify-deposit", json=unknown, headers=t.bank)) == (
        400, "unknown_customer")
    r = t.api.post("/stablecoin/notify-deposit", json=notice, headers=t.trade["alice"])
    assert _error(r) == (403, "forbidden")
    assert _error(t.api.post("/stablecoin/notify-deposit", json={**notice, "amount": 100250},
                             headers=t.bank)) == (422, "validation_error")


def test_issuer_webhook_needs_a_valid_fresh_signature(trading: Trading) -> None:
    """Unsigned, wrongly signed, stale or oversized webhooks are refused; a signed one is
    accepted (an event naming no order changes nothing)."""
    t = trading
    body = json.dumps({"event_id": "ev-1", "type": "mint.complete", "reference": "ord_unknown",
                       "mint_id": "m-1"}).encode()
    url = "/v1/hooks/issuer"
    assert _error(t.api.post(url, content=body)) == (401, "unauthorized")
    bad = signed_headers(b"another-secret-of-enough-length", body)
    assert _error(t.api.post(url, content=body, headers=bad)) == (401, "unauthorized")
    stale = signed_headers(WEBHOOK_SECRET.encode(), body, now=datetime.now(UTC).timestamp() - 3600)
    assert _error(t.api.post(url, content=body, headers=stale)) == (401, "unauthorized")
    big = b"{" + b" " * (64 * 1024) + b"}"
    r = t.api.post(url, content=big, headers=signed_headers(WEBHOOK_SECRET.encode(), big))
    assert r.status_code == 413
    ok = t.api.post(url, content=body, headers=signed_headers(WEBHOOK_SECRET.encode(), body))
    assert ok.status_code == 200 and ok.json() == {"status": "received"}


def test_trading_routes_answer_503_when_not_configured(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without core banking and issuer settings the app starts and trading answers 503."""
    monkeypatch.delenv("STRONGROOM_DEPLOYMENTS_DIR", raising=False)
    world = build_world(tmp_path)
    with Session(Ledger(world.url, group_commit=False).engine) as s:
        headers = _key(s, world.alice.client.id, clients.CUSTOMER_TRADE, clients.CLIENT_READ)
    with TestClient(create_app(world.settings())) as api:
        r = api.post("/v1/orders/buy", json={"asset": "USDC", "fiat_cents": "100"},
                     headers={**headers, "Idempotency-Key": "k"})
        assert _error(r) == (503, "unavailable")
        assert _error(api.get("/v1/orders/ord_x", headers=headers)) == (503, "unavailable")


def test_amounts_beyond_any_supply_are_refused_before_the_service(trading: Trading) -> None:
    """A 38-digit amount (valid base units, worth more than 2**63 cents) is a 422 validation
    error on every write route: it never reaches screening, whose 64-bit cents column it
    overflowed (a 500 on /v1/transfers before the bound), and nothing changes."""
    t = trading
    huge = "9" * 38
    holding = t.holding("alice")
    bob = t.world.bob.client.id
    for path, body in (("/v1/transfers", {"to_client_id": bob, "asset": "USDC", "units": huge}),
                       ("/v1/transfers/batch", {"items": [{"to_client_id": bob, "asset": "USDC",
                                                           "units": huge}]}),
                       ("/v1/orders/sell", {"asset": "USDC", "units": huge}),
                       ("/v1/orders/buy", {"asset": "USDC", "fiat_cents": huge}),
                       ("/v1/withdrawals", {"asset": "USDC", "to_address": "0x" + "ab" * 20,
                                            "units": huge})):
        assert _error(t.post(path, body)) == (422, "validation_error"), path
    assert t.holding("alice") == holding
    assert t.api.app.state.orders.resume() == 0  # nothing left half-done for the keeper


def test_notify_deposit_for_a_frozen_customer_is_a_compliance_hold(trading: Trading) -> None:
    """A deposit notice for a customer whose client compliance froze is 403 ``compliance_hold``
    and creates no order (the client's holding is unchanged)."""
    from keeper.compliance import ComplianceService, RuleSet

    t = trading
    engine = t.api.app.state.engine
    ComplianceService(engine, RuleSet.load()).freeze("officer", "sanctions review",
                                                     client_id=t.world.bob.client.id)
    holding = t.holding("bob")
    notice = {"customer_id": t.customer["bob"], "transaction_id": f"TX-{uuid.uuid4().hex[:12]}",
              "amount": "100250", "currency": "USD", "reference": "buy USDC",
              "timestamp": "2026-02-01T10:30:00Z", "source_account": "ACC-1"}
    r = t.api.post("/stablecoin/notify-deposit", json=notice, headers=t.bank)
    assert _error(r) == (403, "compliance_hold")
    assert t.holding("bob") == holding
