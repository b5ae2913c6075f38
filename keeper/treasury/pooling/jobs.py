"""The pooling job: advance every open pooling run (referenced from ``keeper.jobs.catalog``).

Runs are started by an operator (:meth:`PoolRunner.start`, which records and audits the plan);
the job only carries them on, one :meth:`PoolRunner.advance` per run and tick, with the keys the
run was planned with: the HD deposit wallet's seed unwrapped by the keeper's HSM (in memory only)
and the funding key by its label on the same token. With ``settings.treasury_dry_run`` nothing is
sent (what was already sent is still followed to its receipt).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from keeper.keys import Keyring
from keeper.keys.hd import AddressRegistry
from keeper.treasury.pooling.executor import PoolRunner
from keeper.treasury.pooling.keys import DepositKeys
from keeper.treasury.pooling.models import PoolRun


def runner_for(engine: Engine, w3: Any, hsm: Any, run_id: str, *, dry_run: bool,
               confirmations: int = 1) -> PoolRunner:
    """A :class:`PoolRunner` holding the keys run ``run_id`` was planned with (close it)."""
    from keeper.keys.hsm import HsmSeedWrapper

    with engine.connect() as conn:
        report = json.loads(conn.scalar(select(PoolRun.report).where(PoolRun.run_id == run_id)))
    k = report["keys"]
    keys = DepositKeys(AddressRegistry(engine), HsmSeedWrapper(hsm), wallet=k["hd_wallet"],
                       seed_name=k["seed_name"], account_path=k["account_path"])
    label = k["funding_label"]
    ring = Keyring.from_hsm(hsm, labels=(label,)) if label else None
    return PoolRunner(engine, w3, keys, funding=ring, funding_label=label,
                      confirmations=confirmations, dry_run=dry_run)


def advance(run: Any) -> int:
    """Advance every open pooling run once; returns how many runs were advanced. Without an
    HSM configured there are no deposit keys, so nothing runs."""
    host = run.host
    if getattr(host, "hsm", None) is None:
        return 0
    from keeper.chain import web3_from_settings

    settings = host.settings
    engine = host.ledger.engine
    w3 = web3_from_settings(settings)  # rpc_url, then the fallbacks
    with engine.connect() as conn:
        open_runs = list(conn.scalars(select(PoolRun.run_id).where(PoolRun.status == "planned")
                                      .order_by(PoolRun.created_at)))
    for run_id in open_runs:
        runner = runner_for(engine, w3, host.hsm, run_id, dry_run=bool(settings.treasury_dry_run),
                            confirmations=max(1, int(settings.confirmations)))
        try:
            runner.advance(run_id)
        finally:
            runner.close()
            if runner.funding is not None:
                runner.funding.close()
    return len(open_runs)
