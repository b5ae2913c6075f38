"""``python -m keeper.staking``: staking positions, distribution and sync.

* ``positions [--client ID]``: per client staked balance, positions and withdrawal requests;
* ``sync``: drive unfinished operations, then mirror the pool's confirmed events;
* ``distribute``: send the pool's ``accrue()`` from the operator key (releases the ended
  epochs' rewards), then sync, so the rewards are distributed to clients now.

Settings come from the environment (``keeper.config``); the pool from the deployments record
(``staking_pool``); the operator key ``eth-staking`` from the HSM token in the data folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m keeper.staking", description=__doc__.split(
        "\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    pos = sub.add_parser("positions", help="per-client staking positions")
    pos.add_argument("--client", default=None)
    sub.add_parser("sync", help="resume operations and mirror the pool's events")
    sub.add_parser("distribute", help="accrue the pool's rewards, then sync")
    args = parser.parse_args(argv)
    from web3 import HTTPProvider, Web3

    from keeper.config import load_settings
    from keeper.keys.hsm import ensure_local_token
    from keeper.ledger import Ledger
    from keeper.staking.wiring import from_settings

    settings = load_settings()
    w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    with ExitStack() as stack:
        ledger = Ledger(settings.database_url, group_commit=False)
        stack.callback(ledger.close)
        hsm = ensure_local_token(settings.data_dir)
        staking = from_settings(settings, ledger, w3, stack, hsm=hsm)
        if staking is None or staking.service is None:
            print("no staking pool in the deployments record", file=sys.stderr)
            return 2
        out: dict[str, Any]
        if args.command == "positions":
            from keeper.staking.reports import positions
            out = positions(ledger, staking.pool, staking.service.sender.address, args.client)
        else:
            if args.command == "distribute":
                out = {"accrue": _accrue(staking.service)}
            else:
                out = {}
            staking.service.resume()
            result = staking.mirror.sync()
            out.update({"from_block": result.from_block, "to_block": result.to_block,
                        "events": result.events, "alerts": result.alerts})
        print(json.dumps(out, indent=2))
    return 0


def _accrue(service: Any) -> str:
    """Send ``accrue()`` once per minute of chain time and wait (30 s) for its receipt."""
    from keeper.staking.pool import accrue_call

    head = service.sender.w3.eth.get_block("latest")
    sent = service.sender.send(f"staking:accrue:{int(head['timestamp']) // 60}", service.pool,
                               accrue_call())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        service.sender.tick()
        state = service.sender.status(sent.intent_id)
        if state is not None and state.state != "pending":
            return state.state
        time.sleep(0.5)
    return "pending"


if __name__ == "__main__":
    raise SystemExit(main())
