"""Building the staking service and mirror from Settings (the job and the CLI).

The pool is the deployment record's ``staking_pool`` (``keeper.deployments``; the mirror starts
at the record's ``start_block``); the operator is the HSM key :data:`STAKING_KEY`, which holds
no role anywhere: all it can do is deposit, request withdrawals and claim its own positions.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from keeper.ledger import Ledger
from keeper.staking.mirror import Mirror
from keeper.staking.service import StakingService

STAKING_KEY = "eth-staking"  # the HSM key that owns our positions in the pool
POOL_NAME = "staking_pool"  # its name in the deployments record


@dataclass
class Staking:
    """The service (None without an HSM: read-only) and the mirror of one pool."""

    pool: str
    mirror: Mirror
    service: StakingService | None


def from_settings(settings: Any, ledger: Ledger, w3: Any, stack: ExitStack, *,
                  hsm: Any = None, operator: str | None = None) -> Staking | None:
    """The staking of the deployed pool, or None when the record names no pool. With ``hsm``
    the service sends from :data:`STAKING_KEY`; without it, ``operator`` (the key's address)
    is needed for the mirror alone."""
    from keeper.deployments import read_deployment

    record = read_deployment(settings.deployments_dir, settings.chain_id)
    if record is None or POOL_NAME not in record.addresses:
        return None
    pool = record.address(POOL_NAME)
    service = None
    if hsm is not None:
        from keeper.chain import SenderConfig, TxSender
        from keeper.keys import Keyring
        ring = Keyring.from_hsm(hsm, labels=(STAKING_KEY,))
        stack.callback(ring.close)
        sender = TxSender(ledger.engine, w3, ring, STAKING_KEY, SenderConfig.from_settings(settings),
                          on_alert=ledger.raise_alert)
        service = StakingService(ledger, sender, pool)
        operator = sender.address
    if operator is None:
        raise ValueError("the operator address is needed without an HSM")
    mirror = Mirror(ledger, w3, pool, operator, start_block=record.start_block,
                    confirmations=max(1, int(settings.confirmations)),
                    hashes=service.hashes if service else None)
    return Staking(pool, mirror, service)
