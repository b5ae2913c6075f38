"""The shared test helpers do what they say, on the fork (``strongroom_testkit``)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import strongroom_testkit as kit

pytestmark = pytest.mark.fork


def test_constants_and_free_port() -> None:
    assert (kit.HOUR, kit.DAY) == (3600, 86400)
    assert int(kit.ZERO_ADDRESS, 16) == 0 and len(kit.ZERO_ADDRESS) == 42
    port = kit.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # really free: binding it succeeds


def test_mine_and_time_travel_then_revert(w3: Any) -> None:
    snap = kit.snapshot(w3)
    head = w3.eth.get_block("latest")
    assert kit.mine(w3, 3) == head.number + 3
    target = w3.eth.get_block("latest").timestamp + kit.DAY
    kit.set_next_timestamp(w3, target)
    kit.mine(w3)
    assert w3.eth.get_block("latest").timestamp == target
    kit.increase_time(w3, kit.HOUR)
    kit.mine(w3)
    assert w3.eth.get_block("latest").timestamp >= target + kit.HOUR
    kit.revert(w3, snap)
    assert w3.eth.block_number == head.number
    with pytest.raises(RuntimeError, match="evm_revert"):
        kit.revert(w3, snap)  # a snapshot is used up by reverting to it
