"""Property-based fuzzing of the trading routes with their vendors running (fork tier).

``tests/api/test_fuzz.py`` fuzzes every other route in process; the trading routes
(``/v1/orders/*``, ``/v1/transfers(/batch)``, ``/v1/withdrawals``, ``/stablecoin/notify-deposit``,
``/v1/hooks/issuer``) need core banking and the issuer, so they are fuzzed here with the real
ones: the local ATLAS and the local issuer as processes (the issuer minting on the fork), a vault
deployed on the fork whose CUSTOMER is the SoftHSM ``eth-hot`` key (so withdrawals are
configured), and Alice funded (USD on ATLAS, USDC in the sub-ledger, the bank's inventory
stocked). Schemathesis generates bodies, headers (``Idempotency-Key``) and path parameters
from the OpenAPI document. No answer may be a 5xx, and every answer must match its documented
status code, content type and schema. The issuer webhook is also fuzzed with validly signed
arbitrary JSON objects, so generated events reach the order service, not only the signature
check. Example counts are modest: the suite must stay fast.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

import keeper.clients as clients
from api.main import create_app
from keeper.assets import token_addresses
from keeper.deployments import Deployment
from keeper.flows import HOT_KEY, INVENTORY_CLIENT
from keeper.integrations.corebanking import ATLAS_KEY_FILE, AtlasOpsClient
from keeper.integrations.issuer import ISSUER_KEY_FILE, ISSUER_WEBHOOK_SECRET_FILE
from keeper.integrations.issuer.webhook import signed_headers
from keeper.keys import Keyring
from keeper.keys.hsm import ensure_local_token
from keeper.keys.secrets import Secret, write_secret_file
from keeper.ledger import Ledger, TransferSpec
from keeper.roles import VaultRole
from scripts import deployments as dep
from strongroom_testkit.apiworld import World, build_world
from strongroom_testkit.fuzzing import CHECKS, TRADING, asgi_schema
from strongroom_testkit.services import Atlas, Issuer, fork_minter_key, make_atlas, start_issuer

pytestmark = pytest.mark.fork

USDC = 10**6
WEBHOOK_SECRET = "whsec-" + "f" * 32


@dataclass
class TradingWorld:
    """The world, Alice's all-scope key, the webhook secret and the vendor processes."""

    world: World
    headers: dict[str, str]
    atlas: Atlas
    issuer: Issuer


@pytest.fixture(scope="module")
def trading_world(tmp_path_factory: pytest.TempPathFactory, project: Any, accounts: Any,
                  chain: Any, rpc_url: str) -> Iterator[TradingWorld]:
    """A deployed vault paying from the HSM hot key, ATLAS and the issuer running, Alice funded."""
    tmp = tmp_path_factory.mktemp("fuzz-trading")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STRONGROOM_DEPLOYMENTS_DIR", raising=False)
        world = build_world(tmp)
    ring = Keyring.from_hsm(ensure_local_token(world.data_dir), labels=(HOT_KEY,))
    hot = ring.eth_address(HOT_KEY)
    ring.close()
    admin = accounts[0]
    vault, _ = dep.deploy_open_vault(project, admin, accounts[2])
    vault.setRoles(hot, VaultRole.CUSTOMER, sender=admin)
    chain.provider.set_balance(hot, 10**21)
    world.deploy(Deployment(1, {"vault": vault.address}, token_addresses()).to_json())

    atlas = make_atlas(tmp / "atlas", "http://127.0.0.1:9")
    atlas.start()
    issuer = start_issuer(tmp, rpc_url, key=fork_minter_key(rpc_url, 10**9 * USDC),
                          extra=["--confirmations", "1"])
    try:
        secrets = tmp / "secrets"
        issuer_key = Path(issuer.args[issuer.args.index("--api-key-file") + 1]).read_text()
        write_secret_file(secrets / ATLAS_KEY_FILE, atlas.api_key)
        write_secret_file(secrets / ISSUER_KEY_FILE, issuer_key)
        write_secret_file(secrets / ISSUER_WEBHOOK_SECRET_FILE, WEBHOOK_SECRET)
        (tmp / "prices.json").write_text(json.dumps({
            "as_of": datetime.now(UTC).isoformat(),
            "prices": {"USDC": 100, "USDT": 100, "ETH": 300_000, "BTC": 6_000_000}}))
        customer = f"CUST-alice-{uuid.uuid4().hex[:8]}"
        with closing(AtlasOpsClient(atlas.url, Secret(atlas.ops_key))) as ops:
            ops.create_customer(customer, "Alice")
            ops.wire_in(str(uuid.uuid4()), customer, 100_000_000_00, "funding")
        ledger = Ledger(world.url, group_commit=False)
        with Session(ledger.engine) as s:
            clients.set_profile(s, world.alice.client.id, actor="test", bank_customer_id=customer,
                                kyc_valid_until=date.today() + timedelta(days=365), country="GB")
            s.commit()
            key = clients.issue_key(s, world.alice.client.id, clients.SCOPES)
        for owner, units in ((INVENTORY_CLIENT, 10**9 * USDC), (world.alice.client.id, 10**6 * USDC)):
            ledger.post(TransferSpec(f"fund-{owner}", ledger.omnibus_account("USDC", "vault"),
                                     ledger.client_account(owner, "USDC"), units))
        ledger.close()
        world_settings = world.settings().model_copy(update={
            "atlas_url": atlas.url, "issuer_url": issuer.url, "secrets_dir": secrets,
            "prices_file": tmp / "prices.json", "rpc_url": rpc_url,
            "rate_limit_per_minute": 10**9})
        world.settings = lambda: world_settings  # type: ignore[method-assign]
        yield TradingWorld(world, {"Authorization": f"Bearer {key.api_key}"}, atlas, issuer)
    finally:
        issuer.stop()
        atlas.stop()


@pytest.fixture(scope="module")
def trading_api(trading_world: TradingWorld) -> Iterator[TestClient]:
    """A client of the app with core banking, the issuer and withdrawals configured (one
    lifespan for the module: the app's ledger and audit trail close at its end)."""
    app = create_app(trading_world.world.settings())
    assert app.state.orders is not None and app.state.orders.sender is not None
    with TestClient(app) as api:
        yield api


@pytest.fixture(scope="module")
def trading_app(trading_api: TestClient) -> FastAPI:
    """The app under fuzzing."""
    return trading_api.app  # type: ignore[return-value]


@pytest.fixture(scope="module")
def trading_schema(trading_app: FastAPI) -> schemathesis.BaseSchema:
    """The app's own OpenAPI schema, loaded in process."""
    return asgi_schema(trading_app)


schema = schemathesis.pytest.from_fixture("trading_schema").include(path_regex=TRADING)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_trading_routes_no_server_errors(case: schemathesis.Case,
                                         trading_world: TradingWorld) -> None:
    case.call_and_validate(headers=trading_world.headers, checks=CHECKS)


JSON_LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
REFERENCE = st.text(max_size=30) | st.text(max_size=30).map(lambda t: "ord_" + t)
EVENT = st.fixed_dictionaries(
    {}, optional={"event_id": st.text(max_size=40) | st.integers(),
                  "type": st.sampled_from(["mint.completed", "mint.failed", "burn.completed",
                                           "burn.failed"]) | st.text(max_size=20),
                  "mint_id": JSON_LEAF, "burn_id": JSON_LEAF, "status": JSON_LEAF,
                  "reference": REFERENCE | JSON_LEAF,
                  "data": st.dictionaries(st.text(max_size=10), JSON_LEAF, max_size=4)},
)
NOT_AN_OBJECT = JSON_LEAF | st.lists(JSON_LEAF, max_size=3)


@given(event=EVENT | NOT_AN_OBJECT)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_signed_issuer_events_never_fail_the_server(trading_api: TestClient, event: Any) -> None:
    """A validly signed JSON object of any shape is received (200); any other JSON is 422."""
    body = json.dumps(event).encode()
    r = trading_api.post("/v1/hooks/issuer", content=body, headers={
        "Content-Type": "application/json", **signed_headers(WEBHOOK_SECRET.encode(), body)})
    if isinstance(event, dict):
        assert (r.status_code, r.json()) == (200, {"status": "received"})
    else:
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), r.text
