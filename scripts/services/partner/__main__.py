"""``python -m scripts.services.partner --port N --db PATH --rpc URL --key-file F ...``

Runs the local custody partner (Warp Data): the API on 127.0.0.1:N and its worker threads.
Secrets (the partner's own key secret, API key, admin token, webhook secret) come from 0600
files and are never logged.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from scripts.services.common.options import add_webhook_options, check_webhook_options, webhook_secret
from scripts.services.common.secrets import read_secret
from scripts.services.common.web import run_with
from scripts.services.partner.app import create_app
from scripts.services.partner.chain import PartnerChain
from scripts.services.partner.faults import FaultConfig, Faults
from scripts.services.partner.store import Store
from scripts.services.partner.worker import Worker


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m scripts.services.partner", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", type=Path, required=True, help="the service's SQLite file")
    p.add_argument("--rpc", required=True, help="Ethereum JSON-RPC URL")
    p.add_argument("--key-file", type=Path, required=True,
                   help="0600 file: the partner's own secret its sub-account keys derive from")
    p.add_argument("--api-key-file", type=Path, required=True, help="0600 file: the bearer API key")
    p.add_argument("--admin-token-file", type=Path, required=True, help="0600 file: admin token")
    p.add_argument("--whitelist", default="", help="comma-separated withdrawal destinations")
    add_webhook_options(p)
    p.add_argument("--confirmations", type=int, default=12)
    p.add_argument("--poll-s", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate-limit", type=int, default=None, help="requests per --rate-window-s")
    p.add_argument("--rate-window-s", type=int, default=1)
    p.add_argument("--maintenance", action="store_true")
    args = p.parse_args(argv)
    check_webhook_options(p, args)
    return args


def build(args: argparse.Namespace) -> FastAPI:
    """The app with its worker started and stopped with it."""
    api_key, admin_token = read_secret(args.api_key_file), read_secret(args.admin_token_file)
    secret = webhook_secret(args)
    chain = PartnerChain(args.rpc, read_secret(args.key_file))
    store = Store(args.db)
    head = str(chain.head())
    store.set_meta("scanned_block", head, once=True)
    store.set_meta("as_of_block", head, once=True)
    faults = Faults(FaultConfig(seed=args.seed, maintenance=args.maintenance,
                                rate_limit=args.rate_limit, rate_window_s=args.rate_window_s))
    whitelist = {a.strip() for a in args.whitelist.split(",") if a.strip()}
    worker = Worker(store, chain, confirmations=args.confirmations, webhook_url=args.webhook,
                    webhook_secret=secret, poll_s=args.poll_s)
    app = create_app(store, chain, faults, api_key=api_key, admin_token=admin_token,
                     whitelist=whitelist)
    return run_with(app, worker)


def main(argv: list[str] | None = None) -> None:
    """Start the service (blocks until SIGINT/SIGTERM)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = build(args)
    logging.getLogger("partner").info("Warp Data partner on 127.0.0.1:%d", args.port)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
