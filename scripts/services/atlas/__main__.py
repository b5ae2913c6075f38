"""``python -m scripts.services.atlas --port N --db PATH [--platform-url URL] ...``: run ATLAS.

Keys come from files readable by their owner only (``--api-key-file`` for the platform,
``--ops-key-file`` for the bank's staff, ``--platform-key-file`` for ATLAS's own calls to the
platform); their contents are never printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from keeper.config import LOOPBACK
from keeper.integrations.corebanking.wire import Faults
from scripts.services.atlas.app import create_app
from scripts.services.atlas.notifier import Notifier
from scripts.services.atlas.store import Store
from scripts.services.common.secrets import read_secret

ANY_KEY = 1  # ATLAS keys: any non-empty value (the bank's keys, not generated here)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m scripts.services.atlas", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default=LOOPBACK)
    p.add_argument("--db", type=Path, required=True, help="SQLite database file")
    p.add_argument("--api-key-file", type=Path, required=True)
    p.add_argument("--ops-key-file", type=Path, required=True)
    p.add_argument("--platform-url", help="where deposit notifications go")
    p.add_argument("--platform-key-file", type=Path)
    p.add_argument("--notify-backoff-s", type=float, default=1.0)
    p.add_argument("--notify-max-attempts", type=int, default=8)
    p.add_argument("--notify-timeout-s", type=float, default=5.0)
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--error-when", choices=("before", "after"), default="before")
    p.add_argument("--maintenance", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted."""
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s atlas %(levelname)s %(message)s")
    faults = Faults(latency_ms=args.latency_ms, error_rate=args.error_rate,
                    error_when=args.error_when, maintenance=args.maintenance, seed=args.seed)
    store = Store(f"sqlite:///{args.db}")
    app = create_app(store, api_key=read_secret(args.api_key_file, ANY_KEY),
                     ops_key=read_secret(args.ops_key_file, ANY_KEY), faults=faults)
    notifier = None
    if args.platform_url:
        platform_key = read_secret(args.platform_key_file, ANY_KEY) if args.platform_key_file else None
        notifier = Notifier(store, args.platform_url, backoff_s=args.notify_backoff_s,
                            max_attempts=args.notify_max_attempts, timeout_s=args.notify_timeout_s,
                            api_key=platform_key)
        notifier.start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        if notifier is not None:
            notifier.stop()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
