"""Staking test helpers: one pool deployment per test module (through the deploy function
``scripts/deploy.py`` uses), its role holders, and revert reasons read with ``eth_call`` (ape
takes seconds to report a reverted transaction on a fork)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from keeper.chain.revert import call_revert_reason
from keeper.staking.deploy import PoolConfig, deploy_staking_pool
from keeper.staking.models import StakingOpRow

HOUR = 3600
DAY = 24 * HOUR
EPOCH = HOUR
LOCKUP = DAY
UNBONDING = 2 * DAY
SINK = "0x000000000000000000000000000000000000dEaD"


@dataclass(frozen=True)
class PoolWorld:
    """A deployed pool and who holds which role (ape accounts)."""

    pool: Any
    admin: Any
    rewarder: Any
    slasher: Any
    guardian: Any
    stakers: tuple[Any, ...]
    block: int  # the deployment's block (where a mirror starts)


def deploy_pool(project: Any, accounts: Any, reward_per_epoch: int = 0) -> PoolWorld:
    """A pool with 1 h epochs, a 1-day lock-up and 2-day unbonding; accounts[1..4] hold ADMIN,
    REWARDER, SLASHER and GUARDIAN, accounts[5..8] are stakers; accounts[0] deploys and keeps
    nothing."""
    admin, rewarder, slasher, guardian = accounts[1], accounts[2], accounts[3], accounts[4]
    cfg = PoolConfig(admin=admin.address, rewarder=rewarder.address, slasher=slasher.address,
                     guardian=guardian.address, slash_sink=SINK, epoch_length=EPOCH,
                     lockup=LOCKUP, unbonding=UNBONDING, reward_per_epoch=reward_per_epoch)
    pool = deploy_staking_pool(project, accounts[0], cfg)
    return PoolWorld(pool, admin, rewarder, slasher, guardian,
                     tuple(accounts[i] for i in range(5, 9)), pool.creation_metadata.block)


def reason(w3: Any, contract: Any, method: str, *args: Any, sender: Any,
           value: int = 0) -> str | None:
    """None if ``contract.method(*args)`` from ``sender`` would succeed now, else its revert
    reason (by ``eth_call`` on the pending block: nothing is sent)."""
    data = getattr(contract, method).encode_input(*args)
    call = {"from": getattr(sender, "address", sender), "to": contract.address,
            "data": "0x" + bytes(data).hex(), "value": hex(value)}
    return call_revert_reason(w3, call, "pending")


def next_epoch(chain: Any, epochs: int = 1) -> None:
    """Mine a block exactly ``epochs`` epochs of time after the pending block (so exactly
    ``epochs`` epoch boundaries are crossed, whatever the pool's genesis)."""
    chain.mine(timestamp=chain.pending_timestamp + epochs * EPOCH)


def settle(k: Any) -> None:
    """Wait for every sent operation's receipt, then drive operations and the mirror (``k``:
    anything with ``ledger``, ``service``, ``sender`` and ``mirror``)."""
    with k.ledger.engine.connect() as conn:
        ops = conn.scalars(select(StakingOpRow.op_id).where(StakingOpRow.status == "sent")).all()
    deadline = time.monotonic() + 30
    for op_id in ops:
        for tx_hash in k.service.hashes(op_id):
            while time.monotonic() < deadline:
                try:
                    k.sender.w3.eth.get_transaction_receipt(tx_hash)
                    break
                except Exception:  # noqa: BLE001 - not mined yet (automine lags under load)
                    time.sleep(0.05)
    k.service.resume()
    k.mirror.sync()
