"""Deploy and wire the Strongroom contract set (idempotent).

    .venv/bin/ape run deploy --network ethereum:mainnet-fork:foundry

Owners and roles come from the test mnemonic (scripts.deployments.local_config), except the
vault's CUSTOMER: the keeper's SoftHSM key "eth-hot" under the data folder (funded with gas); the
deployer is ape test account 0. Addresses go to <deployments_dir>/<chain_id>.json (.data/deployments unless
STRONGROOM_DEPLOYMENTS_DIR says otherwise). Re-running with a matching file sends no transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.deployments import deploy_system, deployments_path  # noqa: E402


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--deployments", "path", default=None, help="Deployments file to read and write.")
def cli(network, path):
    """Deploy Multisigs, Timelock, Whitelist, Vault and Escrow and write the deployments file."""
    from ape import accounts, chain
    from ape.exceptions import APINotImplementedError

    from keeper.config import load_settings
    from keeper.flows import ISSUANCE_KEY
    from keeper.keys.hsm import ensure_local_token
    from keeper.staking import STAKING_KEY
    from scripts.stack import GAS_KEYS, hot_address, key_address, stack_config

    deployer = accounts.test_accounts[0]
    hsm = ensure_local_token(load_settings().data_dir)
    hot, issuance = hot_address(hsm), key_address(hsm, ISSUANCE_KEY)  # the keeper's HSM keys
    staker = key_address(hsm, STAKING_KEY)
    for who in (key_address(hsm, label) for label in GAS_KEYS):
        try:
            chain.provider.set_balance(who, 10**20)
        except APINotImplementedError:
            click.echo(f"fund {who} with gas: this provider cannot set balances")
    record = deploy_system(deployer, stack_config(hot), path)
    click.echo(f"vault customer and cold sweeper (HSM eth-hot): {hot}")
    click.echo(f"issuance address (HSM eth-issuance, deposits only): {issuance}")
    click.echo(f"staking address (HSM eth-staking, our pool positions): {staker}")
    click.echo(f"deployments: {deployments_path(chain.chain_id, path)}")
    for name, address in sorted(record["addresses"].items()):
        click.echo(f"  {name:16} {address}")
    click.echo(f"transactions sent: {record['transactions_sent']}")
