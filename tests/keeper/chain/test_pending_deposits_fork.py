"""Unconfirmed deposits on the fork: seen with 0..N-1 confirmations, then credited once and gone;
a reorg drops or moves a sighting; clients see only their own; hostile tokens, forged logs and a
failing pass never halt anything."""

from __future__ import annotations

from typing import Any

import pytest
from chainworld import BIG, LyingNode
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3

from api.main import create_app
from keeper.chain import Follower, FollowerConfig, unconfirmed_deposits
from keeper.chain import events as ev
from keeper.chain.migrate import upgrade as chain_upgrade
from keeper.chain.pending import FAILED_ALERT
from keeper.ledger import Ledger
from strongroom_testkit import mine
from strongroom_testkit.apiworld import build_world

pytestmark = pytest.mark.fork
USD = 10**6
N = 3


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def migrated(url: str) -> Any:
    """A ledger on ``url`` with the chain schema (sightings) migrated too."""
    chain_upgrade(url)
    ledger = Ledger(url)
    yield ledger
    ledger.close()


@pytest.fixture
def lg(ledger_url: str) -> Any:
    """The follower tests' SQLite ledger."""
    yield from migrated(ledger_url)


@pytest.fixture
def lg_any(db_url: str) -> Any:
    """The same on SQLite and on PostgreSQL."""
    yield from migrated(db_url)


def follower(w3: Any, ledger: Ledger, vault: Any, usdc: Any = None, alerts: list | None = None,
             confirmations: int = N) -> Follower:
    tokens = {usdc.address: "USDC"} if usdc is not None else {}
    cfg = FollowerConfig(vault=vault.address, tokens=tokens, confirmations=confirmations,
                         start_block=w3.eth.block_number + 1, holder="pending-test")
    sink = (lambda k, m: alerts.append(k)) if alerts is not None else None
    return Follower(w3, ledger, cfg, on_alert=sink)


def seen(ledger: Ledger, client: str) -> list[tuple[int, int, int, int]]:
    """(amount, block, confirmations, required) of ``client``'s unconfirmed deposits."""
    return [(s.amount, s.block_number, s.confirmations, s.required_confirmations)
            for s in unconfirmed_deposits(ledger, client)]


def credited(ledger: Ledger, client: str, asset: str) -> int:
    return ledger.balance(ledger.client_account(client, asset)).credit_balance


def test_pending_with_0_to_n_minus_1_confirmations_then_credited_once(w3, lg, vault, accounts):
    lg.register_client_ref(ref(1), "alice")
    f = follower(w3, lg, vault)
    tx = vault.depositEth(ref(1), value=2 * 10**18, sender=accounts[3])
    for blocks_on_top in range(N):
        f.run_until_synced()
        assert seen(lg, "alice") == [(2 * 10**18, tx.block_number, blocks_on_top, N)]
        assert credited(lg, "alice", "ETH") == 0  # nothing is credited before N confirmations
        mine(w3, 1)
    # the step that credits commits the cursor; the sighting is hidden from then on, before any
    # pass has removed it
    assert f.step() == 1
    assert credited(lg, "alice", "ETH") == 2 * 10**18 and seen(lg, "alice") == []
    f.run_until_synced()
    mine(w3, 2)
    f.run_until_synced()
    assert seen(lg, "alice") == []
    assert credited(lg, "alice", "ETH") == 2 * 10**18  # once
    assert lg.verify_invariants() == []


def test_reorg_drops_a_sighting_or_moves_it(w3, lg_any, vault, accounts):
    lg = lg_any
    lg.register_client_ref(ref(2), "bob")
    f = follower(w3, lg, vault)
    tx = vault.depositEth(ref(2), value=10**18, sender=accounts[4])
    mine(w3, 1)
    f.run_until_synced()
    assert seen(lg, "bob") == [(10**18, tx.block_number, 1, N)]
    depth = w3.eth.block_number - tx.block_number + 1
    assert "error" not in w3.provider.make_request("anvil_reorg", [depth, []])
    f.run_until_synced()
    assert seen(lg, "bob") == []  # dropped by the reorg: no longer pending
    # a deposit re-included by a reorg one block later: same deposit, new block and confirmations
    tx = vault.depositEth(ref(2), value=5, sender=accounts[4])
    mine(w3, 1)
    f.run_until_synced()
    assert seen(lg, "bob") == [(5, tx.block_number, 1, N)]
    data = vault.depositEth.encode_input(ref(2))
    req = {"from": accounts[4].address, "to": vault.address, "value": hex(5),
           "data": data if isinstance(data, str) else "0x" + bytes(data).hex(), "gas": hex(200_000)}
    assert "error" not in w3.provider.make_request("anvil_reorg", [2, [[req, 1]]])
    f.run_until_synced()
    assert seen(lg, "bob") == [(5, tx.block_number + 1, 0, N)]
    mine(w3, N)
    f.run_until_synced()
    assert seen(lg, "bob") == [] and credited(lg, "bob", "ETH") == 5
    assert lg.verify_invariants() == []


def test_a_client_sees_only_deposits_naming_its_own_reference(w3, vault, accounts, tmp_path):
    world = build_world(tmp_path)
    alice, bob = world.alice, world.bob
    ledger = Ledger(world.url)
    try:
        f = follower(w3, ledger, vault)
        # Alice's own address pays once for herself and once naming Bob's reference
        vault.depositEth(alice.client.client_ref, value=7, sender=accounts[5])
        vault.depositEth(bob.client.client_ref, value=11, sender=accounts[5])
        f.run_until_synced()
        with TestClient(create_app(world.settings())) as api:
            mine_ = api.get("/v1/deposits/pending", headers=alice.headers).json()
            theirs = api.get("/v1/deposits/pending", headers=bob.headers).json()
        assert [(u["amount"], u["asset"]["symbol"], u["required_confirmations"])
                for u in mine_["unconfirmed"]] == [("7", "ETH", N)]
        assert [u["amount"] for u in theirs["unconfirmed"]] == ["11"]
        assert mine_["client_id"] == alice.client.id and theirs["client_id"] == bob.client.id
        assert bob.client.client_ref not in str(mine_) and alice.client.client_ref not in str(theirs)
    finally:
        ledger.close()


class ForgingNode(LyingNode):
    """Adds forged ``Deposit`` logs to the unconfirmed pass's reads (``forge``) or refuses them
    (``refuse``); the confirmed follower's reads pass untouched."""

    forge = True
    refuse = False

    def answer(self, item: dict, forward: Any) -> dict:
        resp = super().answer(item, forward)
        if item.get("method") != "eth_getLogs" or item["params"][0]["topics"] != [ev.DEPOSIT]:
            return resp
        if self.refuse:
            return {"jsonrpc": "2.0", "id": item.get("id"),
                    "error": {"code": -32000, "message": "header not found"}}
        real = [lg for lg in resp.get("result", []) if lg["topics"][0] == ev.DEPOSIT]
        if self.forge and real:
            resp["result"] = resp["result"] + forged(real[0])
        return resp


def forged(real: dict) -> list[dict]:
    """Malformed and hostile copies of a real Deposit log (same block, other log indexes)."""
    t = real["topics"]
    spam = "0x" + "00" * 12 + "ee" * 20
    variants = [
        {"topics": t[:2]},  # too few topics
        {"data": "0x"},  # no amount word
        {"data": "0xzz"},  # not hex
        {"data": "0x" + "00" * 32},  # zero amount
        {"topics": [t[0], spam, t[2], t[3]]},  # a token nobody configured
        {"topics": [t[0], t[1], t[2], "0x" + "ab" * 32]},  # an unknown reference
    ]
    out = [{**real, **v, "logIndex": hex(0x1000 + i)} for i, v in enumerate(variants)]
    out.append({k: v for k, v in real.items() if k != "topics"} | {"logIndex": hex(0x2000)})
    return out


def test_hostile_tokens_forged_logs_and_a_failing_pass_halt_nothing(
        w3, lg, vault, usdc, who, fund_usd, project, rpc_url):
    lg.register_client_ref(ref(3), "carol")
    fund_usd(who.depositor.address, 1_000 * USD)
    fund_usd(who.attacker.address, 10 * USD)
    spam = project.TetherToken.deploy(10**12, "Spam", "SPAM", 6, sender=who.attacker)
    vault.setTokenConfig(spam.address, True, BIG, BIG, BIG, sender=who.admin)
    node = ForgingNode(rpc_url)
    try:
        alerts: list = []
        f = follower(Web3(HTTPProvider(node.url)), lg, vault, usdc, alerts)
        spam.approve(vault.address, 10**9, sender=who.attacker)
        vault.deposit(spam.address, 10**9, ref(3), sender=who.attacker)  # spam token, her ref
        usdc.transfer(vault.address, 1, sender=who.attacker)  # dust, no Deposit
        usdc.transferFrom(vault.address, who.attacker.address, 0, sender=who.attacker)
        vault.depositEth(ref(98), value=9, sender=who.attacker)  # nobody's reference
        usdc.approve(vault.address, 1_000 * USD, sender=who.depositor)
        tx = vault.deposit(usdc.address, 1_000 * USD, ref(3), sender=who.depositor)
        f.run_until_synced()
        assert [(s.asset, s.amount, s.tx_hash) for s in unconfirmed_deposits(lg, "carol")] == \
            [("USDC", 1_000 * USD, tx.txn_hash.lower())]  # only the real deposit in her asset
        # the unconfirmed reads now fail: the follower still credits, one alert per streak
        node.refuse = True
        for _ in range(2):
            mine(w3, N)
            f.run_until_synced()
        assert credited(lg, "carol", "USDC") == 1_000 * USD
        assert f.cursor()[0] == w3.eth.block_number - N
        assert alerts.count(FAILED_ALERT) == 1
        assert [a[0] for a in lg.alerts()].count(FAILED_ALERT) == 1
        assert unconfirmed_deposits(lg, "carol") == []
        node.refuse = False
        f.run_until_synced()
        assert f.tip.failing_since is None
    finally:
        node.close()
    assert "unknown_token" in alerts and "unknown_client_ref" in alerts
    assert lg.verify_invariants() == []
