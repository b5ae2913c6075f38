"""``python -m scripts.services.issuer --port N --db PATH --rpc URL --minter-key-file F ...``

Runs the local issuer: the API on 127.0.0.1:N and the worker thread. Secrets (minter key, API
key, admin token, webhook secret) come from 0600 files and are never logged. With
``--configure-minter-allowance`` it first makes its key a USDC minter on an anvil fork.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from keeper.keys.secrets import read_private_file
from scripts.services.common.options import add_webhook_options, check_webhook_options, webhook_secret
from scripts.services.common.secrets import read_secret
from scripts.services.issuer.chain import IssuerChain, configure_minter_on_fork
from scripts.services.issuer.faults import FaultConfig, Faults, parse_delay
from scripts.services.issuer.service import build


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m scripts.services.issuer", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", type=Path, required=True, help="the service's SQLite file")
    p.add_argument("--rpc", required=True, help="Ethereum JSON-RPC URL")
    p.add_argument("--minter-key-file", type=Path, required=True, help="0600 file: hex private key")
    p.add_argument("--api-key-file", type=Path, required=True, help="0600 file: the bearer API key")
    p.add_argument("--admin-token-file", type=Path, required=True, help="0600 file: admin token")
    add_webhook_options(p)
    p.add_argument("--webhook-backoff", type=float, default=1.0, help="first retry delay, seconds")
    p.add_argument("--confirmations", type=int, default=12)
    p.add_argument("--configure-minter-allowance", type=int, default=None,
                   help="fork only: impersonate the masterMinter to allow this key to mint this much")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mint-delay", type=parse_delay, default=0.0, help='seconds or "hold"')
    p.add_argument("--mint-fail-rate", type=float, default=0.0)
    p.add_argument("--burn-settle-delay", type=parse_delay, default=0.0, help='seconds or "hold"')
    p.add_argument("--burn-fail-rate", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--lost-reply-rate", type=float, default=0.0)
    p.add_argument("--maintenance", action="store_true")
    args = p.parse_args(argv)
    check_webhook_options(p, args)
    return args


def main(argv: list[str] | None = None) -> None:
    """Start the service (blocks until SIGINT/SIGTERM)."""
    args = parse_args(argv)
    api_key, admin_token = read_secret(args.api_key_file), read_secret(args.admin_token_file)
    secret = webhook_secret(args)
    try:
        chain = IssuerChain(args.rpc, read_private_file(args.minter_key_file))
    except (ValueError, TypeError):  # never echo what the file held
        raise SystemExit(f"{args.minter_key_file} does not hold a secp256k1 private key") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    faults = Faults(FaultConfig(
        seed=args.seed, mint_delay_s=args.mint_delay, mint_fail_rate=args.mint_fail_rate,
        burn_settle_delay_s=args.burn_settle_delay, burn_fail_rate=args.burn_fail_rate,
        error_rate=args.error_rate, lost_reply_rate=args.lost_reply_rate, maintenance=args.maintenance))
    if args.configure_minter_allowance is not None:
        configure_minter_on_fork(args.rpc, chain.address, args.configure_minter_allowance)
    app = build(args.db, chain, faults, api_key=api_key, admin_token=admin_token,
                confirmations=args.confirmations,
                webhook_url=args.webhook, webhook_secret=secret, webhook_backoff_s=args.webhook_backoff)
    logging.getLogger("issuer").info("issuer on 127.0.0.1:%d, minter %s", args.port, chain.address)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
