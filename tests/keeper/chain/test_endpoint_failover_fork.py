"""RPC fail-over with real nodes: anvil forks of the test chain kept identical block by block.

The follower reads through :class:`keeper.chain.endpoints.FailoverProvider`. Its primary node is
SIGKILLed mid-follow: it goes on with the next endpoint that is on the right chain and not behind
its cursor, credits every deposit exactly once; a fallback whose hash at the cursor differs sends
it down the reorg path before it posts anything from that node.
"""

from __future__ import annotations

import logging

import pytest
from chainworld import LyingNode
from web3 import Web3

from keeper.chain import Follower, FollowerConfig
from keeper.chain.endpoints import FailoverProvider, NoHealthyEndpointError
from keeper.chain.follower import ForeignChainError
from keeper.ledger import Ledger
from strongroom_testkit.keepers import DEPOSITOR, Nodes, start_node

pytestmark = pytest.mark.fork
WEI = 10**15


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


def credited(ledger: Ledger, client: str) -> int:
    return ledger.balance(ledger.client_account(client, "ETH")).credit_balance


@pytest.fixture
def fork_block(w3, vault) -> int:
    """The test chain's head once the vault is deployed: the nodes fork there."""
    return int(w3.eth.block_number)


def follower_on(urls: list[str], ledger: Ledger, vault: str, start: int,
                chain_id: int) -> tuple[Follower, FailoverProvider]:
    provider = FailoverProvider(urls, chain_id=chain_id, timeout=5, retry_after=600)
    cfg = FollowerConfig(vault=vault, confirmations=0, start_block=start, range_size=1,
                         lease_seconds=30)
    return Follower(Web3(provider), ledger, cfg), provider


def test_primary_killed_mid_follow_the_next_sound_endpoint_takes_over_exactly_once(
        rpc_url, w3, vault, fork_block, ledger, caplog):
    chain_id = int(w3.eth.chain_id)
    a, b = start_node(rpc_url, fork_block), start_node(rpc_url, fork_block)
    other = start_node(rpc_url, fork_block, chain_id=chain_id + 1000)  # another chain
    nodes = Nodes([a, b])
    try:
        for c in range(2):
            ledger.register_client_ref(ref(700 + c), f"f{c}")
        want = {"f0": 0, "f1": 0}
        for i in range(6):
            nodes.deposit(vault.address, ref(700 + i % 2), (i + 1) * WEI)
            want[f"f{i % 2}"] += (i + 1) * WEI
        f, provider = follower_on([a.url, other.url, b.url], ledger, vault.address,
                                  fork_block + 1, chain_id)
        for _ in range(3):
            assert f.step() == 1  # one deposit per block
        assert provider.url == a.url
        a.kill()  # the primary dies mid-follow; the chain goes on at the others
        for i in range(6, 9):
            nodes.deposit(vault.address, ref(700 + i % 2), (i + 1) * WEI)
            want[f"f{i % 2}"] += (i + 1) * WEI
        with caplog.at_level(logging.WARNING, logger="keeper.chain.endpoints"):
            f.run_until_synced()
        assert provider.url == b.url
        assert f.cursor()[0] == int(b.w3.eth.block_number)  # type: ignore[index]
        assert {c: credited(ledger, c) for c in want} == want
        assert ledger.count_source_postings("vault") == 9  # each deposit once
        om = ledger.balance(ledger.omnibus_account("ETH", f"vault:{vault.address.lower()}"))
        assert om.debits_posted - om.credits_posted == b.w3.eth.get_balance(vault.address)
        assert "on chain" in provider.endpoints[1].reason  # the other chain was refused
        assert any(a.url in r.message for r in caplog.records)  # the skip is logged
        assert [k for k, _, _ in ledger.alerts() if k == "reorg"] == []
        assert ledger.verify_invariants() == []
        b.kill()  # nothing left: the follower fails, posts nothing, keeps its cursor
        with pytest.raises(NoHealthyEndpointError):
            f.step()
        assert ledger.count_source_postings("vault") == 9
    finally:
        nodes.stop()
        other.kill()


def test_fallback_with_another_hash_at_the_cursor_takes_the_reorg_path(
        rpc_url, w3, vault, fork_block, ledger):
    chain_id = int(w3.eth.chain_id)
    a, d = start_node(rpc_url, fork_block), start_node(rpc_url, fork_block)
    behind = start_node(rpc_url, fork_block)  # never mines: behind the cursor
    nodes = Nodes([a, d])
    try:
        for c in range(3):
            ledger.register_client_ref(ref(710 + c), f"g{c}")
        nodes.deposit(vault.address, ref(710), 5 * WEI)
        nodes.deposit(vault.address, ref(710), 7 * WEI)
        nodes.diverge(vault.address, {a.url: (ref(711), 11 * WEI), d.url: (ref(712), 13 * WEI)})
        nodes.mine(2)
        f, provider = follower_on([a.url, behind.url, d.url], ledger, vault.address,
                                  fork_block + 1, chain_id)
        f.run_until_synced()
        assert (credited(ledger, "g1"), credited(ledger, "g2")) == (11 * WEI, 0)
        a.kill()
        f.run_until_synced()
        assert provider.url == d.url
        assert "behind" in provider.endpoints[1].reason  # refused: head below the cursor
        kinds = [k for k, _, _ in ledger.alerts()]
        assert kinds.count("reorg") == 1  # the switch found another hash at the cursor
        assert [credited(ledger, f"g{c}") for c in range(3)] == [12 * WEI, 0, 13 * WEI]
        g1 = ledger.balance(ledger.client_account("g1", "ETH"))
        assert (g1.credits_posted, g1.debits_posted) == (11 * WEI, 11 * WEI)  # reversed
        pos, pos_hash, _ = f.cursor()  # type: ignore[misc]
        assert pos == int(d.w3.eth.block_number)
        assert pos_hash == d.rpc("eth_getBlockByNumber", [hex(pos), False])["hash"].lower()
        om = ledger.balance(ledger.omnibus_account("ETH", f"vault:{vault.address.lower()}"))
        assert om.debits_posted - om.credits_posted == d.w3.eth.get_balance(vault.address)
        assert ledger.verify_invariants() == []
    finally:
        nodes.stop()
        behind.kill()


def test_a_fallback_with_none_of_the_recorded_blocks_is_refused_then_the_next_is_used(
        rpc_url, w3, vault, fork_block, ledger):
    chain_id = int(w3.eth.chain_id)
    a, b = start_node(rpc_url, fork_block), start_node(rpc_url, fork_block)
    foreign = start_node(None, fork_block + 20, chain_id=chain_id)  # same id, other history
    nodes = Nodes([a, b])
    try:
        ledger.register_client_ref(ref(740), "j0")
        for i in range(4):
            nodes.deposit(vault.address, ref(740), (i + 1) * WEI)
        f, provider = follower_on([a.url, foreign.url, b.url], ledger, vault.address,
                                  fork_block + 1, chain_id)
        f.run_until_synced()
        a.kill()
        nodes.deposit(vault.address, ref(740), 5 * WEI)
        with pytest.raises(ForeignChainError):  # refused, nothing posted or reversed
            f.step()
        assert "every stored block" in provider.endpoints[1].reason
        assert ledger.count_source_postings("vault") == 4
        f.run_until_synced()  # the next run reads through the next endpoint
        assert provider.url == b.url
        assert credited(ledger, "j0") == 15 * WEI and ledger.count_source_postings("vault") == 5
        assert [k for k, _, _ in ledger.alerts() if k == "reorg"] == []
    finally:
        nodes.stop()
        foreign.kill()


def test_a_broken_node_is_skipped_retried_later_and_request_errors_stay_answers(
        rpc_url, w3, vault, ledger, accounts):
    broken, capped = LyingNode(rpc_url, broken=True), LyingNode(rpc_url, cap=1)
    slow = LyingNode(rpc_url, delay=2)
    now = [0.0]
    provider = FailoverProvider([slow.url, broken.url, capped.url], timeout=0.5,
                                chain_id=int(w3.eth.chain_id), retry_after=60,
                                clock=lambda: now[0])
    try:
        ledger.register_client_ref(ref(720), "h0")
        start = int(w3.eth.block_number) + 1
        for i in range(3):
            vault.depositEth(ref(720), value=(i + 1) * WEI, sender=accounts[5])
        cfg = FollowerConfig(vault=vault.address, confirmations=0, start_block=start)
        f = Follower(Web3(provider), ledger, cfg)
        f.run_until_synced()
        assert provider.url == capped.url and "-32603" in provider.endpoints[1].reason
        assert "Timeout" in provider.endpoints[0].reason  # the slow node timed out
        # "more than 1 result" (-32005) is the provider's answer to a request: the reader
        # splits the range on the same node instead of abandoning it
        assert f.reader.splits > 0 and provider.switches == 1
        assert credited(ledger, "h0") == 6 * WEI
        broken.modes["broken"] = False  # repaired: tried again once its rest is over
        slow.close()  # the slow one is gone for good: refused again when its rest is over
        assert Web3(provider).eth.block_number == w3.eth.block_number
        assert provider.url == capped.url  # still resting
        now[0] = 61.0
        assert Web3(provider).eth.block_number == w3.eth.block_number
        assert provider.url == broken.url and provider.switches == 2
    finally:
        broken.close()
        capped.close()
        slow.close()


def test_a_signed_transaction_is_broadcast_to_every_endpoint(rpc_url, w3, vault, fork_block):
    a, b = start_node(rpc_url, fork_block), start_node(rpc_url, fork_block)
    nodes = Nodes([a, b])
    try:
        provider = FailoverProvider([a.url, b.url], chain_id=int(w3.eth.chain_id))
        sender = Web3(provider)
        assert sender.eth.get_transaction_count(DEPOSITOR.address) == nodes.nonce
        tx_hash = sender.eth.send_raw_transaction(nodes.raw_deposit(vault.address, ref(730), WEI))
        for n in (a, b):  # in both mempools: either node can mine it
            assert n.rpc("eth_getTransactionByHash", [tx_hash.to_0x_hex()]) is not None
        assert provider.url == a.url  # reads (nonces) stay on the endpoint in use
    finally:
        nodes.stop()
