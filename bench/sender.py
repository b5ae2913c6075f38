"""TxSender benchmark: crash-safe sends/s from the SoftHSM hot key (nonce CAS + HSM signature +
stored raw bytes + broadcast, p50/p99) and the cost of one tick over the pending intents.

Run: .venv/bin/python bench/sender.py [N] [DB_URL]   (own anvil on a free port, throw-away SoftHSM2
token and SQLite database in a tmp dir; N sends, default 200). Give a PostgreSQL URL (an empty
database) as DB_URL to measure on PostgreSQL instead.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web3 import HTTPProvider, Web3  # noqa: E402

from bench.gas import free_port, start_anvil  # noqa: E402
from keeper.chain import SenderConfig, TxSender  # noqa: E402
from keeper.chain.migrate import SCHEMA  # noqa: E402
from keeper.keys import Keyring  # noqa: E402
from keeper.keys.hsm import ensure_local_token  # noqa: E402

SINK = "0x000000000000000000000000000000000000dEaD"


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (milliseconds in, milliseconds out)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Measure and print sends/s, send p50/p99 and tick cost."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    port = free_port()
    proc = start_anvil(port)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sender-"))
    ring = Keyring.from_hsm(ensure_local_token(tmp), labels=("eth-hot",))
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{tmp / 'sender.db'}"
    try:
        SCHEMA.upgrade(url)
        w3 = Web3(HTTPProvider(f"http://127.0.0.1:{port}"))
        w3.provider.make_request("anvil_setBalance", [ring.eth_address("eth-hot"), hex(10**24)])
        sender = TxSender(url, w3, ring, "eth-hot", SenderConfig(300 * 10**9, 60))
        w3.provider.make_request("evm_setAutomine", [False])  # measure the sender, not mining
        lat = []
        start = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            sender.send(f"bench-{i}", SINK, b"", value=1, gas=21_000)
            lat.append((time.perf_counter() - t0) * 1000)
        wall = time.perf_counter() - start
        t0 = time.perf_counter()
        sender.tick()  # all pending, none due for a bump: receipt look-ups + re-broadcasts
        tick_pending = (time.perf_counter() - t0) * 1000
        w3.provider.make_request("anvil_mine", ["0x1"])
        t0 = time.perf_counter()
        done = sender.tick()
        tick_mined = (time.perf_counter() - t0) * 1000
        backend = url.split(":", 1)[0]
        print(f"TxSender on {backend}, SoftHSM2 eth-hot key, local anvil, {n} sends")
        print(f"  sends/s            {n / wall:8.1f}")
        print(f"  send p50 / p99 ms  {statistics.median(lat):8.2f} / {pct(lat, 0.99):.2f}")
        print(f"  tick, {n} pending  {tick_pending:8.1f} ms")
        print(f"  tick, {n} mined    {tick_mined:8.1f} ms ({len(done)} settled)")
        sender.close()
    finally:
        ring.close()
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
