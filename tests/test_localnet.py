"""The local mainnet: served state, real addresses, fast start from the dump."""

from __future__ import annotations

import json

import pytest

from keeper.assets import USDC, USDT
from scripts import localnet

pytestmark = pytest.mark.fork


def test_manifest_matches_current_sources():
    assert localnet.is_fresh(), "state dump is stale: setup should have rebuilt it"
    manifest = json.loads(localnet.MANIFEST_FILE.read_text())
    assert manifest["chain_id"] == 1
    assert manifest["tokens"]["USDC"]["address"] == USDC.address
    assert manifest["tokens"]["USDT"]["address"] == USDT.address


def test_upstream_is_chain_1_with_tokens_at_real_addresses():
    url = localnet.upstream_url()
    assert int(localnet.rpc(url, "eth_chainId"), 16) == 1
    for asset in (USDC, USDT):
        assert len(localnet.rpc(url, "eth_getCode", [asset.address, "latest"])) > 2


def test_fork_sees_upstream_state(chain, usdc, usdt):
    assert chain.chain_id == 1
    assert usdc.decimals() == 6
    assert usdt.decimals() == 6
    assert usdc.symbol() == "USDC"
    assert usdt.symbol() == "USDT"
