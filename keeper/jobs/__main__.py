"""A keeper process: ``python -m keeper.jobs run [--only JOB,...] [--local-hsm]``.

Runs the scheduled jobs (:class:`keeper.jobs.KeeperJobs`) from the settings (database, RPC
endpoints with their fallbacks, the deployments record of ``settings.chain_id``) until SIGTERM or
SIGINT, then stops cleanly (running jobs finish, the leases are released so a standby takes over
at once). Start several on one PostgreSQL database: one leads (``jobs:scheduler`` lease, fenced),
the others stand by and take over within ``jobs_lease_seconds`` of the leader's death.

``--only`` runs a subset of the catalog (e.g. ``follow,expire_holds``); ``--local-hsm`` signs with
the data folder's SoftHSM token (the local stack's), which the audit anchor and the chain sender
need. Exit codes: 0 stopped cleanly, 2 bad arguments or no deployments record for the chain.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from keeper.config import load_settings
from keeper.deployments import read_deployment
from keeper.jobs.catalog import JOBS
from keeper.jobs.runner import KeeperJobs

log = logging.getLogger("keeper.jobs")


def main(argv: list[str] | None = None) -> int:
    """Run a keeper until SIGTERM/SIGINT; see the module doc."""
    parser = argparse.ArgumentParser(prog="python -m keeper.jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the keeper's scheduled jobs until stopped")
    run.add_argument("--only", default="", help="comma-separated job names (default: all)")
    run.add_argument("--local-hsm", action="store_true",
                     help="sign with the data folder's SoftHSM token")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - {j.name for j in JOBS})
    if unknown:
        print(f"unknown job(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    deployment = read_deployment(settings.deployments_dir, settings.chain_id)
    if deployment is None:
        print(f"no usable deployments record for chain {settings.chain_id} in "
              f"{settings.deployments_dir}", file=sys.stderr)
        return 2
    hsm = None
    if args.local_hsm:
        from keeper.keys.hsm import ensure_local_token

        hsm = ensure_local_token(settings.data_dir)
    jobs = [j for j in JOBS if not names or j.name in names]
    keeper = KeeperJobs(settings, deployment, jobs=jobs, hsm=hsm)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    keeper.start()
    log.info("keeper %s started: %d job(s), lease %.1f s", keeper.scheduler.holder, len(jobs),
             keeper.scheduler.lease_ttl)
    stop.wait()
    keeper.stop()
    log.info("keeper %s stopped", keeper.scheduler.holder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
