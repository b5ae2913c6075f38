"""A follower process for the SIGKILL fault-injection test (not a test module).

    python follower_proc.py RPC_URL DB_URL VAULT START_BLOCK RANGE_SIZE [TOKEN=SYMBOL ...]

Prints ``ready`` once imported and connected, then backfills step by step (printing the cursor
after each step; waiting out the 0.5 s lease a killed predecessor left) until caught up, prints
``synced`` and exits 0. The test kills it with SIGKILL at
random moments and starts it again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from web3 import Web3  # noqa: E402

from keeper.chain import Follower, FollowerConfig  # noqa: E402
from keeper.chain.follower import CAUGHT_UP, LEASE_HELD  # noqa: E402
from keeper.ledger import Ledger  # noqa: E402


def main(argv: list[str]) -> None:
    """Run one follower until synced."""
    rpc, db, vault, start, size, *tokens = argv
    w3 = Web3(Web3.HTTPProvider(rpc))
    lg = Ledger(db)
    cfg = FollowerConfig(vault=vault, tokens=dict(t.split("=") for t in tokens), confirmations=0,
                         start_block=int(start), range_size=int(size), lease_seconds=0.5)
    f = Follower(w3, lg, cfg)
    print("ready", flush=True)
    while (n := f.step()) != CAUGHT_UP:
        if n == LEASE_HELD:  # a killed predecessor's lease: taken over once it expires
            time.sleep(0.05)
            continue
        print("cursor", f.cursor()[0], flush=True)  # type: ignore[index]
    print("synced", flush=True)
    f.close()
    lg.close()


if __name__ == "__main__":
    main(sys.argv[1:])
