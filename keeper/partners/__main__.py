"""``python -m keeper.partners {sync,verify,balances,breaks}``: partner custody from a shell.

``sync`` pulls and verifies (honouring a rate limit's back-off), ``verify`` does the same now,
``balances`` prints the last verified holdings with their age and stale flag (no partner call),
``breaks`` lists what verification found. The partner is the configured one
(``partner_url`` and the 0600 ``partner-api.key`` under the secrets folder) unless ``--url`` and
``--api-key-file`` are given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from web3 import Web3

from keeper.config import Settings
from keeper.keys.secrets import Secret, read_private_file
from keeper.ledger import Ledger
from keeper.partners.client import WarpClient
from keeper.partners.configured import PARTNER_NAME, partner_from_settings, whitelist
from keeper.partners.service import PartnerCustody


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (1 when breaks were found by sync/verify)."""
    p = argparse.ArgumentParser(prog="python -m keeper.partners", description=__doc__)
    p.add_argument("command", choices=["sync", "verify", "balances", "breaks"])
    p.add_argument("--url", help="partner API URL (default: the configured one)")
    p.add_argument("--api-key-file", type=Path, help="0600 file holding the partner API key")
    p.add_argument("--whitelist", default=None, help="comma-separated withdrawal destinations")
    p.add_argument("--retries", type=int, default=3, help="retries of a failed partner call")
    args = p.parse_args(argv)
    settings = Settings()
    if args.url:
        if args.api_key_file is None:
            p.error("--url needs --api-key-file")
        partner = WarpClient(args.url, Secret(read_private_file(args.api_key_file)),
                             name=PARTNER_NAME, retries=max(0, args.retries))
    else:
        partner = partner_from_settings(settings)
    if partner is None:
        print("no partner configured (partner_url)", file=sys.stderr)
        return 2
    allowed = whitelist(settings) if args.whitelist is None else args.whitelist.split(",")
    ledger = Ledger(settings.database_url, group_commit=False)
    try:
        w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30}))
        custody = PartnerCustody(ledger, partner, w3, confirmations=settings.confirmations,
                                 whitelist=allowed)
        if args.command in ("sync", "verify"):
            result = custody.sync(force=args.command == "verify")
            print(json.dumps({"status": result.status, "verified": result.verified,
                              "pending": result.pending, "new_breaks": result.breaks,
                              "reconciliation_seconds": round(result.seconds, 3),
                              "error": result.error}))
            return 1 if result.breaks else 0
        if args.command == "balances":
            for h in custody.holdings():
                print(json.dumps({"client": h.client_ref, "asset": h.asset, "units": str(h.units),
                                  "address": h.address, "stale": h.stale,
                                  "as_of": h.as_of.isoformat() if h.as_of else None,
                                  "age_s": None if h.age_s is None else round(h.age_s, 1)}))
            return 0
        for b in custody.store.breaks():
            print(json.dumps({"id": b["id"], "kind": b["kind"], "client": b["client_ref"],
                              "tx_hash": b["tx_hash"], "detail": b["detail"],
                              "at": str(b["created_at"])}))
        return 0
    finally:
        partner.close()
        ledger.close()


if __name__ == "__main__":
    sys.exit(main())
