"""The drill's keeper-like writer: posts steady transfers through :class:`keeper.ledger.Ledger`.

Each transfer credits a client's account from an omnibus account. A line ``ack <transfer id>
<commit latency in microseconds>`` is printed (and flushed) only after the ledger acknowledged
the transfer, i.e. after its durable commit: the drill records these lines as the postings the
business was told are safe. A refused or failed posting prints ``err <transfer id> <error>``
and is retried under a new id after a short pause (the database may be down or promoting).

Run as ``python -m scripts.dr.writer --url URL --client CLIENT --tag TAG [--rate N]``; it prints
``ready`` once its accounts are open and runs until killed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from keeper.ledger import Ledger, TransferSpec

ASSET = "USDC"
LOCATION = "vault:dr-drill"  # the omnibus location the drill's deposits come from
AMOUNT = 1_000_000  # 1 USDC per posting (base units)


def open_accounts(ledger: Ledger, client_id: str) -> tuple[int, int]:
    """(omnibus account, client account) the drill's transfers debit and credit."""
    return ledger.omnibus_account(ASSET, LOCATION), ledger.client_account(client_id, ASSET)


def run(url: str, client_id: str, tag: str, rate: float, threads: int) -> None:
    """Post ``rate`` transfers per second from ``threads`` threads (each on its own schedule,
    acknowledgements through group commit) until the process is killed."""
    ledger = Ledger(url, group_commit=True, busy_timeout=2.0, result_timeout=5.0)
    while True:
        try:
            debit, credit = open_accounts(ledger, client_id)
            break
        except Exception as exc:  # noqa: BLE001 - the database may still be starting
            print(f"err open {type(exc).__name__}", flush=True)
            time.sleep(0.05)
    out = threading.Lock()
    print("ready", flush=True)

    def worker(index: int) -> None:
        period = threads / rate
        seq = 0
        next_at = time.monotonic()
        while True:
            seq += 1
            tid = f"dr-{tag}-{index}-{seq}"
            spec = TransferSpec(tid, debit, credit, AMOUNT, reference="dr-drill")
            started = time.perf_counter()
            try:
                ledger.post(spec)
            except Exception as exc:  # noqa: BLE001 - keep posting through outages (any refusal)
                with out:
                    print(f"err {tid} {type(exc).__name__}", flush=True)
                time.sleep(0.05)
                continue
            micros = round((time.perf_counter() - started) * 1e6)
            with out:
                sys.stdout.write(f"ack {tid} {micros}\n")
                sys.stdout.flush()
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()  # behind schedule: no burst to catch up

    for i in range(threads):
        threading.Thread(target=worker, args=(i,), daemon=True).start()
    threading.Event().wait()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and post until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the primary")
    parser.add_argument("--client", required=True, help="client id whose account is credited")
    parser.add_argument("--tag", required=True, help="unique part of this writer's transfer ids")
    parser.add_argument("--rate", type=float, default=200.0, help="postings per second offered")
    parser.add_argument("--threads", type=int, default=8, help="posting threads")
    args = parser.parse_args(argv)
    run(args.url, args.client, args.tag, args.rate, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
