"""Compare every deployed contract's runtime code with the build artifacts.

    .venv/bin/ape run verify --network ethereum:mainnet-fork:foundry [--deployments FILE]

For each contract in the deployments file: the on-chain code must start with the artifact's
runtime bytecode and equal, byte for byte, what the artifact's deployment bytecode plus the
recorded constructor arguments produce (eth_call of the init code), which accounts for
immutables. Exits 1 on any mismatch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.deployments import (  # noqa: E402
    deployments_path,
    load_deployments,
    verify_deployments,
)


def main(path: str | None = None) -> int:
    """Check the deployments file on the connected chain; 0 = all match, 1 = mismatch, 2 = none."""
    from ape import chain, project

    file = deployments_path(chain.chain_id, path)
    state = load_deployments(file)
    if not state.get("contracts"):
        click.echo(f"no deployments in {file}", err=True)
        return 2
    problems = verify_deployments(project, chain.provider, state)
    for name, entry in sorted(state["contracts"].items()):
        status = "MISMATCH" if any(p.startswith(f"{name} ") for p in problems) else "ok"
        click.echo(f"{status:8} {name:16} {entry['contract']:10} {entry['address']}")
    for p in problems:
        click.echo(f"mismatch: {p}", err=True)
    return 1 if problems else 0


@click.command(cls=ConnectedProviderCommand)
@network_option()
@click.option("--deployments", "path", default=None, help="Deployments file to check.")
def cli(network, path):
    """Exit non-zero if any recorded contract's code differs from its artifact."""
    sys.exit(main(path))
