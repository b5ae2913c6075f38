"""The follower behind a node that lies: ``[]`` for blocks it has not indexed, capped or silently
truncated ``eth_getLogs`` answers. The cursor never passes an uncredited deposit."""

from __future__ import annotations

import pytest
from chainworld import LyingNode
from web3 import HTTPProvider, Web3

from keeper.chain import Follower, FollowerConfig

pytestmark = pytest.mark.fork


def ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.fixture
def node(rpc_url):
    made: list[LyingNode] = []

    def make(**modes) -> LyingNode:
        made.append(LyingNode(rpc_url, **modes))
        return made[-1]

    yield make
    for n in made:
        n.close()


def behind(proxy: LyingNode, ledger, vault, start: int, **kw) -> Follower:
    w3 = Web3(HTTPProvider(proxy.url))
    return Follower(w3, ledger, FollowerConfig(vault=vault.address, confirmations=0,
                                               start_block=start, holder="k", **kw))


def deposits(vault, who, n: int) -> int:
    total = 0
    for i in range(n):
        vault.depositEth(ref(5), value=10**15 + i, sender=who.depositor)
        total += 10**15 + i
    return total


def eth(ledger, client: str) -> int:
    return ledger.balance(ledger.client_account(client, "ETH")).credit_balance


@pytest.mark.parametrize("modes", [{}, {"no_block_receipts": True}])
def test_a_node_answering_no_logs_cannot_move_the_cursor_past_deposits(
        w3, ledger, vault, who, node, modes):
    ledger.register_client_ref(ref(5), "alice")
    start = w3.eth.block_number + 1
    total = deposits(vault, who, 4)
    w3.provider.make_request("anvil_mine", ["0x3"])  # blocks with nothing for us
    proxy = node(empty_logs=True, **modes)
    f = behind(proxy, ledger, vault, start)
    f.run_until_synced()
    assert eth(ledger, "alice") == total  # recovered from the receipts of the 4 blocks
    assert f.reader.receipt_reads == 4  # the empty blocks' blooms said "nothing here"
    assert f.cursor()[0] == w3.eth.block_number


def test_without_receipts_either_the_range_fails_and_the_cursor_stays(
        w3, ledger, vault, who, node):
    ledger.register_client_ref(ref(5), "alice")
    start = w3.eth.block_number + 1
    deposits(vault, who, 2)
    proxy = node(empty_logs=True, no_receipts=True)
    f = behind(proxy, ledger, vault, start)
    with pytest.raises(RuntimeError, match="eth_getTransactionReceipt"):
        f.step()
    assert f.cursor() is None  # nothing committed: the job retries (and escalates)
    honest = behind(node(), ledger, vault, start)
    honest.run_until_synced()
    assert eth(ledger, "alice") == sum(10**15 + i for i in range(2))


@pytest.mark.parametrize("modes", [{"cap": 3}, {"truncate": 4}])
def test_capped_or_truncated_answers_split_the_range(w3, ledger, vault, who, node, modes):
    ledger.register_client_ref(ref(5), "alice")
    start = w3.eth.block_number + 1
    total = deposits(vault, who, 10)
    proxy = node(**modes)
    f = behind(proxy, ledger, vault, start, max_logs=modes.get("truncate", 10_000))
    f.run_until_synced()
    assert eth(ledger, "alice") == total
    assert ledger.count_source_postings("vault") == 10
    assert f.reader.splits > 0
    assert ledger.verify_invariants() == []
