"""The keeper's background jobs, run by an APScheduler background scheduler.

* ``follow``: mirror the vault's events into the ledger (exactly once, reorg-safe) every
  ``poll_seconds``; one instance at a time, missed runs coalesced.
* ``expire_holds``: void two-phase holds whose expiry passed, every ``expiry_seconds``.

A job that raises is logged and retried at its next run: the follower commits its checkpoint with
its postings, so a failed run leaves nothing half-done.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from web3 import HTTPProvider, Web3

from keeper.chain import Follower, FollowerConfig
from keeper.config import Settings
from keeper.ledger import Ledger

log = logging.getLogger(__name__)


def follower_config(deployments: dict[str, Any], confirmations: int) -> FollowerConfig:
    """Follower settings from a deployments record written by ``scripts.deployments``."""
    tokens = {address: symbol for symbol, address in deployments.get("tokens", {}).items()}
    return FollowerConfig(
        vault=deployments["addresses"]["vault"],
        tokens=tokens,
        confirmations=confirmations,
        start_block=int(deployments.get("start_block", 0)),
    )


class KeeperJobs:
    """Owns the ledger, the follower and the scheduler that runs them."""

    def __init__(self, settings: Settings, deployments: dict[str, Any], *,
                 poll_seconds: float = 1.0, expiry_seconds: float = 60.0) -> None:
        self.ledger = Ledger(settings.database_url)
        w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
        self.follower = Follower(w3, self.ledger, follower_config(deployments, settings.confirmations),
                                 on_alert=self._alert)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(self.follow_once, "interval", seconds=poll_seconds, id="follow",
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self.ledger.expire_holds, "interval", seconds=expiry_seconds,
                               id="expire_holds", max_instances=1, coalesce=True)
        self.runs = 0
        self.failures = 0

    def follow_once(self) -> int:
        """Mirror everything that has enough confirmations; returns events applied."""
        try:
            applied = self.follower.run_until_synced()
        except Exception as exc:
            self.failures += 1
            log.warning("follow job failed (%s: %s); it will retry on its next run",
                        type(exc).__name__, exc)
            return 0
        self.runs += 1
        return applied

    @staticmethod
    def _alert(code: str, message: str) -> None:
        log.warning("keeper alert %s: %s", code, message)

    def start(self) -> None:
        """Start the scheduler (jobs run in its worker threads)."""
        self.scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler (if started), wait for running jobs, close the ledger."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.ledger.close()
