"""Bring the keeper side of the local stack up on a connected ape network.

Used by ``scripts/run_stack.py`` (``make run``). The local fork is ephemeral (a new chain each
run), so the run's database and deployments live in ``.data/run/`` and start empty each time; the
HSM token under ``.data/hsm`` persists.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keeper.config import Settings, load_settings
from keeper.deployments import Deployment, deployment_path, load_deployment
from keeper.keys.hsm import HsmConfig
from scripts.bootstrap import prepare
from scripts.deployments import deploy_system, local_config


def run_dir(settings: Settings) -> Path:
    """The per-run folder (wiped at each start)."""
    return settings.data_dir / "run"


def bring_up(ape: Any, deployer: Any, fork_url: str) -> dict[str, Any]:
    """Deploy the system contracts on the fork, prepare database and HSM, start the keeper.

    Returns what the caller prints and serves: the run's ``settings`` (for the API), contract
    addresses, database, keeper description, and a ``stop`` callable that stops the keeper.
    """
    base = load_settings()
    folder = run_dir(base)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = Settings(data_dir=base.data_dir, database_url=f"sqlite:///{folder / 'strongroom.db'}",
                        rpc_url=fork_url, deployments_dir=folder / "deployments",
                        chain_id=ape.chain.chain_id)
    hsm = prepare(settings)
    path = deployment_path(settings.deployments_dir, settings.chain_id)
    deploy_system(deployer, local_config(), path=path)
    deployment = load_deployment(path, settings.chain_id)
    stop_keeper, keeper_desc = start_keeper(settings, deployment, hsm)
    return {
        "settings": settings,
        "contracts": {**deployment.addresses, "hsm_token": hsm.token_label},
        "database_display": settings.redacted_database_url(),
        "keeper": keeper_desc,
        "stop": stop_keeper,
    }


def start_keeper(settings: Settings, deployment: Deployment,
                 hsm: HsmConfig | None = None) -> tuple[Callable[[], None], str]:
    """Start the keeper's scheduled jobs (chain follower, hold expiry, alerts, audit anchoring
    with ``hsm``'s ``audit-anchor`` key); return (stop, description)."""
    from keeper.jobs import KeeperJobs

    jobs = KeeperJobs(settings, deployment, hsm=hsm)
    jobs.start()
    desc = (f"following vault {deployment.vault} on {settings.rpc_url} "
            f"({settings.confirmations} confirmations)")
    return jobs.stop, desc


def demo_deposit(ape: Any, summary: dict[str, Any], api_url: str, timeout: float = 60.0) -> str:
    """End-to-end demonstration on the fresh stack, through real parts only.

    Creates a client with an API key (written to ``.data/run/demo-api-key``, mode 0600, never
    printed), deposits 1 ETH into the vault with the client's reference from a dev account, mines
    the confirmations, waits for the keeper to credit the ledger, and reads the balance back
    through the API with the client's key. Returns a one-line description; raises if the credit
    does not show up within ``timeout`` seconds.
    """
    import json
    import os
    import time
    import urllib.request

    from sqlalchemy.orm import Session

    from keeper.clients import create_client, issue_key
    from keeper.ledger import Ledger

    settings: Settings = summary["settings"]
    ledger = Ledger(settings.database_url, group_commit=False)
    try:
        with Session(ledger.engine) as session:
            client = create_client(session, ledger, "Demo Client")
            key = issue_key(session, client.id, label="make run demo")
    finally:
        ledger.close()
    key_file = run_dir(settings) / "demo-api-key"
    key_file.write_text(key.api_key)
    os.chmod(key_file, 0o600)

    vault = ape.project.Vault.at(summary["contracts"]["vault"])
    depositor = ape.accounts.test_accounts[2]
    amount = 10**18
    vault.depositEth(bytes.fromhex(client.client_ref.removeprefix("0x")), value=amount, sender=depositor)
    ape.chain.mine(settings.confirmations)

    request = urllib.request.Request(f"{api_url}/v1/balances",  # noqa: S310 - loopback API
                                     headers={"Authorization": f"Bearer {key.api_key}"})
    deadline = time.monotonic() + timeout
    credited = "0"
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback only
            body = json.loads(resp.read())
        credited = next((row["balance"] for row in body["balances"]
                         if row["asset"]["symbol"] == "ETH"), "0")
        if int(credited) == amount:
            return (f"client {client.id} deposited 1 ETH (ref {client.client_ref[:10]}...); "
                    f"the keeper credited it after {settings.confirmations} confirmations; "
                    f"GET /v1/balances -> ETH {credited} wei (key in {key_file})")
        time.sleep(0.5)
    raise RuntimeError(f"demo deposit not credited within {timeout}s (API shows {credited})")
