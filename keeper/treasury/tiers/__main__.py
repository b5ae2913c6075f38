"""``python -m keeper.treasury.tiers``: the tier report as JSON.

* ``view`` (default): the tier view of the deployed vault at the follower's block (holdings,
  shares, drift, AUM in cents, ledger mismatches), from the keeper's settings;
* ``policy``: the validated policy file (exit 2 with the reason when it is refused);
* ``sweeps``: the planned moves (daily sweeps, weekly and top-up proposals with their SafeTxs).

Exit codes: 0 printed, 2 refused policy or nothing deployed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from keeper.config import load_settings
from keeper.treasury.tiers.policy import PolicyError, TierPolicy, policy_from_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m keeper.treasury.tiers",
                                     description="Treasury tier report (JSON)")
    parser.add_argument("command", nargs="?", default="view", choices=("view", "policy", "sweeps"))
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        policy = policy_from_settings(settings)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.command == "policy":
        print(json.dumps(policy.model_dump(), indent=2, default=str))
        return 0
    from keeper.ledger import make_engine

    engine = make_engine(settings.database_url)
    try:
        if args.command == "sweeps":
            from keeper.treasury.tiers.book import SweepBook

            rows = [{**asdict(r), "units": str(r.units)} for r in SweepBook(engine).rows()]
            print(json.dumps(rows, indent=2))
            return 0
        return _view(settings, engine, policy)
    finally:
        engine.dispose()


def _view(settings: Any, engine: Any, policy: TierPolicy) -> int:
    from web3 import HTTPProvider, Web3

    from keeper.chain import ChainReader
    from keeper.deployments import read_deployment
    from keeper.treasury.tiers.jobs import view_at

    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    if deployment is None or deployment.vault is None:
        print("nothing deployed on this chain: no vault to report on", file=sys.stderr)
        return 2
    w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    _, view = view_at(settings, engine, ChainReader(w3), deployment.vault, policy)
    print(json.dumps(view.to_json(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
