"""``python -m keeper.treasury.pooling``: plan, start and follow pooling runs; check the custody
topology. Output is JSON; amounts are decimal strings of base units.

* ``plan --hd-wallet W --destination D [--vault] [--funding-label L] [--max-fee-gwei N]``: the
  plan over every registered address of HD wallet ``W`` (balances read from the chain now,
  prices from the prices file); nothing is recorded.
* ``start RUN --hd-wallet W --seed-name S --destination D ...``: record the plan as run ``RUN``
  (with ``STRONGROOM_TREASURY_DRY_RUN`` on, a dry run: recorded and audited, never sent); the
  ``treasury_pooling`` job then carries it out.
* ``status RUN``: the run's transactions and their states.
* ``topology [FILE]``: the policy report of every wallet of a topology file (default: the
  example ``topology.json``); exit 3 when a wallet fails.

The fee cap defaults to twice the latest base fee plus 2 gwei. Exit codes: 0 done, 2 refused
(bad arguments, no prices, a refused run), 3 a topology wallet fails the policy.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TOPOLOGY_FILE = Path(__file__).with_name("topology.json")
GWEI = 10**9


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m keeper.treasury.pooling",
                                description="Consolidated pooling and custody topology (JSON)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("plan", "start"):
        c = sub.add_parser(name)
        if name == "start":
            c.add_argument("run_id")
            c.add_argument("--seed-name", required=True)
        c.add_argument("--hd-wallet", required=True)
        c.add_argument("--destination", required=True)
        c.add_argument("--vault", action="store_true", help="the destination is the Vault")
        c.add_argument("--funding-label", help="HSM key label paying gas top-ups")
        c.add_argument("--max-fee-gwei", type=int, help="fee cap per gas (gwei)")
    s = sub.add_parser("status")
    s.add_argument("run_id")
    t = sub.add_parser("topology")
    t.add_argument("file", nargs="?", default=str(TOPOLOGY_FILE))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI (see the module docstring); returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "topology":
        return _topology(Path(args.file))
    from keeper.config import load_settings
    from keeper.ledger import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        if args.command == "status":
            return _status(engine, args.run_id)
        return _plan_or_start(settings, engine, args)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _topology(path: Path) -> int:
    from keeper.treasury.pooling.topology import check_wallet, topology_from_json

    try:
        reports = [check_wallet(t) for t in topology_from_json(path.read_text())]
    except (OSError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps([r.as_dict() for r in reports], indent=2))
    return 0 if all(r.ok for r in reports) else 3


def _status(engine: Any, run_id: str) -> int:
    from keeper.treasury.pooling.executor import run_transactions

    try:
        txs = run_transactions(engine, run_id)
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps([{**t, "units": str(t["units"])} for t in txs], indent=2))
    return 0


def _plan_or_start(settings: Any, engine: Any, args: argparse.Namespace) -> int:
    from web3 import HTTPProvider, Web3

    from keeper.keys.hd import AddressRegistry
    from keeper.prices import PriceError, StaticPrices
    from keeper.treasury.pooling.executor import read_holdings
    from keeper.treasury.pooling.plan import PoolCosts, plan_pool

    w3 = Web3(HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    registry = AddressRegistry(engine)
    addresses = [a for _, a in registry.addresses(args.hd_wallet)]
    if not addresses:
        raise ValueError(f"HD wallet {args.hd_wallet!r} has no registered addresses")
    try:
        feed = StaticPrices.from_settings(settings)
        prices = {a: feed.price(a).cents for a in ("ETH", "USDC")}
    except PriceError as exc:
        raise ValueError(f"no usable prices: {exc}") from None
    cap = (args.max_fee_gwei * GWEI if args.max_fee_gwei
           else 2 * int(w3.eth.get_block("latest").get("baseFeePerGas") or 0) + 2 * GWEI)
    costs = PoolCosts(max_fee_wei=cap, prices_cents=prices)
    hsm = ring = None
    funding = None
    if args.funding_label or args.command == "start":
        from keeper.keys.hsm import ensure_local_token

        hsm = ensure_local_token(settings.data_dir)
    if args.funding_label:
        from keeper.keys import Keyring

        ring = Keyring.from_hsm(hsm, labels=(args.funding_label,))
        funding = ring.eth_address(args.funding_label)
    try:
        plan = plan_pool(read_holdings(w3, addresses), args.destination, costs, funding=funding,
                         vault=args.vault)
        out: dict[str, Any] = {"max_fee_wei": str(cap), **plan.report()}
        if args.command == "start":
            from keeper.keys.hsm import HsmSeedWrapper
            from keeper.treasury.pooling.executor import PoolRunner
            from keeper.treasury.pooling.keys import DepositKeys

            keys = DepositKeys(registry, HsmSeedWrapper(hsm), wallet=args.hd_wallet,
                               seed_name=args.seed_name)
            runner = PoolRunner(engine, w3, keys, funding=ring, funding_label=args.funding_label,
                                dry_run=bool(settings.treasury_dry_run))
            out = {"run": args.run_id, "recorded": runner.start(args.run_id, plan, costs),
                   "dry_run": runner.dry_run, **out}
    finally:
        if ring is not None:
            ring.close()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through main() in the tests
    sys.exit(main())
