"""The keeper job of the signer service (``safetx`` in :data:`keeper.jobs.catalog.JOBS`)."""

from __future__ import annotations

from datetime import timedelta

from keeper.chain import SenderConfig
from keeper.deployments import read_deployment
from keeper.jobs.scheduler import JobRun
from keeper.keys import Keyring
from keeper.safetx.chain import SafeChain
from keeper.safetx.executor import SafeTxExecutor
from keeper.safetx.indexer import SafeTxIndexer
from keeper.safetx.service import SafeTxService

EXECUTOR_KEY = "safe-signer"


def tick(run: JobRun) -> int:
    """Register the deployment's multisigs, index their confirmed logs, then execute what has
    its threshold with the HSM key ``safe-signer``; returns SafeTxs sent. A keeper without an
    HSM fails the job (it escalates) rather than leave confirmed transactions unexecuted."""
    host = run.host
    settings = host.settings
    service = SafeTxService(host.ledger.engine, SafeChain(settings.rpc_url, settings.chain_id))
    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    if deployment is None and host.hsm is None:
        return 0  # nothing deployed here and no key to execute with: nothing to do
    if deployment is not None:
        service.register_deployed(deployment)
    if host.hsm is None:
        raise RuntimeError("no HSM configured: confirmed SafeTxs cannot be executed")
    keyring = Keyring.from_hsm(host.hsm, labels=(EXECUTOR_KEY,))
    try:
        executor = SafeTxExecutor(service, keyring, alert=host.ledger.raise_alert,
                                  label=EXECUTOR_KEY,
                                  max_age=timedelta(seconds=settings.safetx_max_age_s),
                                  max_gas=settings.safetx_executor_max_gas,
                                  sender_config=SenderConfig.from_settings(settings))
        SafeTxIndexer(service, quorum=executor.check_quorum, alert=host.ledger.raise_alert,
                      confirmations=settings.confirmations).run_once()
        return executor.run_once()
    finally:
        keyring.close()
