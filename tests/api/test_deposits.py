"""Deposit instructions: Vault from the deployments file + the client's registered client_ref."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import keeper.clients as clients
from keeper.assets import USDC, USDT, ZERO_ADDRESS
from keeper.chain import unconfirmed_deposits
from keeper.chain.models import ChainSighting
from keeper.clients.models import ClientRow
from keeper.ledger import CursorState, Ledger, make_engine
from strongroom_testkit.apiworld import BIG, VAULT, World


def test_not_deployed_is_503_with_a_clear_message(api: TestClient, world: World) -> None:
    r = api.get("/v1/deposit-instructions/USDC", headers=world.alice.headers)
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "unavailable"
    assert "not deployed on chain 1" in err["message"]
    assert str(world.data_dir) not in r.text  # no server paths in responses


def test_deployments_file_without_a_vault_is_503(api: TestClient, world: World) -> None:
    world.deploy({"chain_id": 1, "addresses": {"timelock": VAULT}})
    assert api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers).status_code == 503
    (world.data_dir / "deployments" / "1.json").write_text("{not json")
    assert api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers).status_code == 503


def test_instructions_carry_the_vault_and_own_client_ref(api: TestClient, world: World) -> None:
    world.deploy()
    refs = {}
    for party in (world.alice, world.bob):
        r = api.get("/v1/deposit-instructions/USDC", headers=party.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["client_id"] == party.client.id
        assert body["vault_address"] == VAULT
        assert body["client_ref"] == party.client.client_ref
        assert body["token_address"] == USDC.address
        assert body["method"] == "deposit(address,uint256,bytes32)"
        assert body["asset"]["decimals"] == 6 and body["chain_id"] == 1
        refs[party.client.id] = body["client_ref"]
    assert len(set(refs.values())) == 2
    # the reference shown is the one the chain follower will resolve to this client
    lg = Ledger(world.url, group_commit=False)
    registry = lg.client_refs()
    lg.close()
    assert {registry[ref] for ref in refs.values()} == set(refs)

    r = api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["method"] == "depositEth(bytes32)" and r.json()["token_address"] is None


def test_btc_has_no_vault_deposit_instructions(api: TestClient, world: World) -> None:
    world.deploy()
    r = api.get("/v1/deposit-instructions/BTC", headers=world.alice.headers)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["loc"] == ["path", "asset"]


def test_unregistered_client_ref_is_503(api: TestClient, world: World) -> None:
    """A client whose reference the ledger does not know would see deposits parked in suspense."""
    world.deploy()
    engine = make_engine(world.url)
    with Session(engine) as s:
        cid = str(uuid.uuid4())
        s.add(ClientRow(id=cid, name="Orphan", client_ref="0x" + "ab" * 32,
                        created_at=datetime.now(UTC)))
        s.commit()
    with Session(engine) as s:
        key = clients.issue_key(s, cid)
    engine.dispose()
    r = api.get("/v1/deposit-instructions/USDT",
                headers={"Authorization": f"Bearer {key.api_key}"})
    assert r.status_code == 503
    assert "deposit reference is not active" in r.json()["error"]["message"]


def test_a_record_naming_another_token_contract_gives_no_instructions(api: TestClient,
                                                                      world: World) -> None:
    """The token address a client is told to approve comes from the asset registry only: a
    deployments record that configured another "USDC" contract makes USDC deposits unavailable."""
    other = "0x" + "22" * 20
    world.deploy({"chain_id": 1, "addresses": {"vault": VAULT},
                  "tokens": {"ETH": ZERO_ADDRESS, "USDC": other, "USDT": USDT.address}})
    r = api.get("/v1/deposit-instructions/USDC", headers=world.alice.headers)
    assert r.status_code == 503, r.text
    assert other not in r.text and other.lower() not in r.text.lower()
    r = api.get("/v1/deposit-instructions/USDT", headers=world.alice.headers)
    assert r.status_code == 200 and r.json()["token_address"] == USDT.address


def test_a_record_of_another_chain_or_with_a_bad_checksum_is_refused(api: TestClient,
                                                                     world: World) -> None:
    world.deploy({"chain_id": 5, "addresses": {"vault": VAULT}, "tokens": {"ETH": ZERO_ADDRESS}})
    assert api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers).status_code == 503
    good = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55 test vector
    i = next(i for i, ch in enumerate(good) if i > 1 and ch.isalpha())
    bad = good[:i] + good[i].swapcase() + good[i + 1:]  # one letter's case flipped: a typo
    world.deploy({"chain_id": 1, "addresses": {"vault": bad}, "tokens": {"ETH": ZERO_ADDRESS}})
    assert api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers).status_code == 503
    world.deploy({"chain_id": 1, "addresses": {"vault": good}, "tokens": {"ETH": ZERO_ADDRESS}})
    r = api.get("/v1/deposit-instructions/ETH", headers=world.alice.headers)
    assert r.status_code == 200 and r.json()["vault_address"] == good


def test_unconfirmed_deposits_are_the_clients_own_above_the_followers_cursor(
        api: TestClient, world: World) -> None:
    """Sightings the follower's tip pass recorded: a client sees only those naming it, and none
    at or below the cursor (credited, or gone, since the pass)."""
    lg = Ledger(world.url, group_commit=False)
    try:
        lg.move_cursor([], expected=None, to=CursorState("vault", 8, "0x" + "08" * 32, 0))

        def sighting(party_id: str, block: int, log_index: int, asset: str, amount: int) -> dict:
            return dict(source="vault", client_id=party_id, client_ref="0x" + "00" * 32,
                        tx_hash="0x" + f"{block:064x}", log_index=log_index, block_number=block,
                        block_hash="0x" + f"{block + 1000:064x}", asset=asset,
                        token=USDC.address.lower(), amount=str(amount), sender="0x" + "55" * 20,
                        tip=12, required=12, seen_at=datetime.now(UTC))

        with Session(lg.engine) as s:
            s.add_all([ChainSighting(**sighting(world.alice.client.id, 10, 3, "USDC", BIG)),
                       ChainSighting(**sighting(world.alice.client.id, 8, 0, "USDC", 1)),
                       ChainSighting(**sighting(world.bob.client.id, 11, 0, "ETH", 5))])
            s.commit()
    finally:
        lg.close()
    mine = api.get("/v1/deposits/pending", headers=world.alice.headers).json()
    assert mine["unconfirmed"] == [{
        "id": f"0x{10:064x}:3", "asset": {"symbol": "USDC", "chain": "ethereum", "decimals": 6,
                                         "contract_address": USDC.address},
        "amount": str(BIG), "tx_hash": f"0x{10:064x}", "block_number": 10, "confirmations": 2,
        "required_confirmations": 12, "seen_at": mine["unconfirmed"][0]["seen_at"]}]
    theirs = api.get("/v1/deposits/pending", headers=world.bob.headers).json()
    assert [(u["asset"]["symbol"], u["amount"], u["confirmations"])
            for u in theirs["unconfirmed"]] == [("ETH", "5", 1)]
    assert mine["items"] == theirs["items"] == []  # no open incoming holds in this world
    lg = Ledger(world.url, group_commit=False)
    try:  # the credited row is hidden before the read's limit applies
        assert [s.block_number for s in unconfirmed_deposits(lg, world.alice.client.id,
                                                             limit=1)] == [10]
    finally:
        lg.close()
