"""``python -m keeper.treasury.rebalance``: the rebalancer's plan and decisions as JSON.

* ``plan`` (default): what a run would do now (the tier view of the deployed vault at the
  follower's block, the policy's targets and bands, cooldowns applied), recording and sending
  nothing: the dry run an operator reads before anything moves;
* ``decisions``: each asset's last recorded decision (action, drift before and after, moves,
  cost, the binding constraint of a refusal).

Exit codes: 0 printed, 2 nothing deployed (``plan``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from keeper.config import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m keeper.treasury.rebalance",
                                     description="Treasury rebalancing plan (JSON)")
    parser.add_argument("command", nargs="?", default="plan", choices=("plan", "decisions"))
    args = parser.parse_args(argv)
    from keeper.ledger import make_engine
    from keeper.treasury.rebalance.runner import last_decisions

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        if args.command == "decisions":
            print(json.dumps(last_decisions(engine), indent=2, sort_keys=True))
            return 0
        from web3 import HTTPProvider, Web3

        from keeper.chain import ChainReader
        from keeper.deployments import read_deployment
        from keeper.treasury.rebalance.jobs import build_rebalancer
        from keeper.treasury.tiers.jobs import view_at  # not on the tiers' surface yet

        w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
        deployment = read_deployment(settings.deployments_dir, settings.chain_id)
        if deployment is None or deployment.vault is None:
            print("nothing deployed on this chain: no vault to rebalance", file=sys.stderr)
            return 2
        _, view = view_at(settings, engine, ChainReader(w3), deployment.vault)
        plan = build_rebalancer(settings, engine, w3, lambda: view.holdings).preview()
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True))
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
