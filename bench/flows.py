"""Banking flows benchmark, end to end over HTTP (the API as its own uvicorn process).

Prints:
* on-us transfers through ``POST /v1/transfers/batch`` (compliance screening and the request
  audit on, real SQLite or PostgreSQL): transfers/s sustained over every batch, and p50/p99 of
  one batch request; goal (FR-022/SC-018) >= 10,000 transfers/s with p99 < 200 ms per batch;
* buy orders end to end through ``POST /v1/orders/buy`` (pre-flight, screening, the local ATLAS
  debit over HTTP, delivery from the bank's inventory in the sub-ledger): orders/s and p50/p99.

Run: .venv/bin/python bench/flows.py [--batches N] [--batch-size N[,N...]] [--buys N]
     [--workers N] [--instances N] [--concurrency N] [--postgres | --db-url URL]

``--workers``: API processes (uvicorn workers on one port; on SQLite they share one writer,
taking turns through its writer queue); ``--instances``: API instances on their own ports, the
batches spread over them as a load balancer would;
``--concurrency``: batch requests in flight at once (each sender thread its own key).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import httpx  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import keeper.clients as clients  # noqa: E402
from keeper.config import environment  # noqa: E402
from keeper.flows import INVENTORY_CLIENT  # noqa: E402
from keeper.integrations.corebanking import ATLAS_KEY_FILE, AtlasOpsClient  # noqa: E402
from keeper.integrations.issuer import ISSUER_KEY_FILE, ISSUER_WEBHOOK_SECRET_FILE  # noqa: E402
from keeper.keys.secrets import Secret, write_secret_file  # noqa: E402
from keeper.ledger import Ledger, TransferSpec  # noqa: E402
from keeper.schema import upgrade_all  # noqa: E402
from strongroom_testkit import free_port  # noqa: E402
from strongroom_testkit.services import make_atlas  # noqa: E402

USDC = 10**6


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]


def setup(folder: Path, db_url: str, beneficiaries: int, atlas_url: str, atlas_key: str,
          ops: AtlasOpsClient) -> tuple[dict[str, str], list[str]]:
    """Clients (a sender with a trade key and ``beneficiaries`` receivers, all KYC'd), the
    sender's USDC and the bank's inventory; returns (sender headers, beneficiary ids)."""
    upgrade_all(db_url)
    ledger = Ledger(db_url, group_commit=False)
    try:
        with Session(ledger.engine) as s:
            sender = clients.create_client(s, ledger, "Bench Sender")
            clients.set_profile(s, sender.id, actor="bench", bank_customer_id="BENCH-SENDER",
                                kyc_valid_until=date.today() + timedelta(days=365), country="GB")
            ids = []
            for n in range(beneficiaries):
                c = clients.create_client(s, ledger, f"Bench Receiver {n}")
                clients.set_profile(s, c.id, actor="bench",
                                    kyc_valid_until=date.today() + timedelta(days=365), country="GB")
                ids.append(c.id)
            s.commit()
            key = clients.issue_key(s, sender.id, (clients.CUSTOMER_TRADE, clients.CLIENT_READ))
        vault = ledger.omnibus_account("USDC", "vault")
        ledger.post(TransferSpec("bench-fund", vault, ledger.client_account(sender.id, "USDC"),
                                 10**12 * USDC))
        ledger.post(TransferSpec("bench-inventory", vault,
                                 ledger.client_account(INVENTORY_CLIENT, "USDC"), 10**9 * USDC))
    finally:
        ledger.close()
    ops.create_customer("BENCH-SENDER", "Bench Sender")
    ops.wire_in(str(uuid.uuid4()), "BENCH-SENDER", 10**13, "bench funding")
    secrets = folder / "secrets"
    write_secret_file(secrets / ATLAS_KEY_FILE, atlas_key)
    write_secret_file(secrets / ISSUER_KEY_FILE, "bench-issuer-" + uuid.uuid4().hex)
    write_secret_file(secrets / ISSUER_WEBHOOK_SECRET_FILE, "bench-webhook-" + uuid.uuid4().hex)
    (folder / "prices.json").write_text(json.dumps({
        "as_of": datetime.now(UTC).isoformat(), "prices": {"USDC": 100, "USDT": 100,
                                                         "ETH": 300_000, "BTC": 6_000_000}}))
    return {"Authorization": f"Bearer {key.api_key}"}, ids


def start_api(folder: Path, db_url: str, atlas_url: str,
              workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """The API as its own process, configured through its environment like a deployment."""
    port = free_port()
    env = {**os.environ, **environment(
        data_dir=folder, database_url=db_url, atlas_url=atlas_url,
        issuer_url="http://127.0.0.1:9", secrets_dir=folder / "secrets",
        prices_file=folder / "prices.json", rate_limit_per_minute=1_000_000,
        buy_daily_limit_cents=10**12)}
    log = (folder / "api.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port),
                             "--workers", str(workers), "--log-level", "warning"], cwd=ROOT,
                            env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"API exited: {(folder / 'api.log').read_text()[-2000:]}")
        try:
            httpx.get(f"{url}/docs", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("API did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its children (the API's workers): what
    the API spent, whatever else the shared machine runs meanwhile."""
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d.name) == pid or int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def bench_transfers(http: httpx.Client | list[httpx.Client], headers: dict[str, str],
                    ids: list[str], batches: int, size: int, concurrency: int = 1,
                    api_pid: int | list[int] | None = None) -> None:
    """Batches of on-us transfers (``concurrency`` requests in flight): rate over all of them,
    p50/p99 per request, and the API's CPU per transfer (a figure the machine's other load
    changes much less than the wall-clock rate). One warm-up batch of ``size`` runs first and
    is not counted: the API's first batch of a size compiles statements and fills caches (about
    twice a warm batch's time), and with a few batches it alone would be the p99.

    ``http`` may be one client per API instance (``--instances``): batch ``b`` goes to
    instance ``b % len(http)``, as a load balancer would spread them."""
    lat: list[float] = []
    https = http if isinstance(http, list) else [http]
    pids = api_pid if isinstance(api_pid, list) else [api_pid] if api_pid else []

    def one(b: int) -> int:
        items = [{"to_client_id": ids[(b * size + i) % len(ids)], "asset": "USDC", "units": "1"}
                 for i in range(size)]
        start = time.perf_counter()
        r = https[b % len(https)].post("/v1/transfers/batch", json={"items": items},
                      headers={**headers, "Idempotency-Key": f"bench-{uuid.uuid4().hex}"})
        lat.append(time.perf_counter() - start)
        if r.status_code != 201:
            raise RuntimeError(f"batch {b}: {r.status_code} {r.text[:300]}")
        return len(r.json()["orders"])

    for b in range(len(https)):  # a warm-up batch per instance (its own items): not counted
        one(batches + b)
    lat.clear()
    cpu0 = sum(map(cpu_seconds, pids))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(one, range(batches)))
    total = time.perf_counter() - t0
    cpu = sum(map(cpu_seconds, pids)) - cpu0
    print(f"transfers: {done:,} in {batches} batches of {size:,} ({concurrency} in flight; "
          f"after {len(https)} uncounted warm-up batch(es)): "
          f"{done / total:,.0f} transfers/s sustained; per batch p50 "
          f"{statistics.median(lat) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms "
          f"(goal >= 10,000/s, p99 < 200 ms); API CPU {cpu * 1e6 / max(done, 1):,.0f} us a "
          f"transfer = {done / cpu if cpu else 0:,.0f} transfers per API CPU-second")


def bench_buys(http: httpx.Client, headers: dict[str, str], buys: int) -> None:
    """Sequential buy orders end to end (ATLAS debit over HTTP + inventory delivery)."""
    if buys <= 0:
        return
    lat: list[float] = []
    states: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(buys):
        start = time.perf_counter()
        r = http.post("/v1/orders/buy", json={"asset": "USDC", "fiat_cents": "10000"},
                      headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        lat.append(time.perf_counter() - start)
        state = r.json()["state"] if r.status_code == 201 else f"HTTP {r.status_code}"
        states[state] = states.get(state, 0) + 1
    total = time.perf_counter() - t0
    print(f"buys: {buys} orders end to end: {buys / total:,.1f} orders/s (one client, sequential); "
          f"p50 {statistics.median(lat) * 1000:.0f} ms, p99 {pct(lat, 0.99) * 1000:.0f} ms; "
          f"outcomes {states}")


def main() -> None:
    """Set up, run both benchmarks, tear down."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--batch-size", default="10000",
                    help="items per batch; a comma-separated list runs each size in turn")
    ap.add_argument("--beneficiaries", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1,
                    help="uvicorn worker processes of the API (they share one port: keep-alive "
                    "connections stay with the worker that accepted them)")
    ap.add_argument("--instances", type=int, default=1,
                    help="API instances, each its own process and port, batches spread over them "
                    "as a load balancer would (use --concurrency >= instances)")
    ap.add_argument("--concurrency", type=int, default=1, help="batch requests in flight")
    ap.add_argument("--buys", type=int, default=200)
    ap.add_argument("--db-url", default="", help="default: SQLite in a temporary folder")
    ap.add_argument("--postgres", action="store_true",
                    help="a throwaway PostgreSQL cluster (strongroom_testkit.postgres)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.batch_size.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-flows-") as tmp:
        folder = Path(tmp)
        pg = None
        if args.postgres:
            from strongroom_testkit.postgres import PostgresCluster
            pg = PostgresCluster().start()
        db_url = (pg.create_database("bench_flows") if pg else
                  args.db_url or f"sqlite:///{folder / 'strongroom.db'}")
        atlas = make_atlas(folder / "atlas", "http://127.0.0.1:9")
        atlas.start()
        apis: list[subprocess.Popen[bytes]] = []
        try:
            ops = AtlasOpsClient(atlas.url, Secret(atlas.ops_key))
            headers, ids = setup(folder, db_url, args.beneficiaries, atlas.url, atlas.api_key, ops)
            ops.close()
            urls = []
            for _ in range(args.instances):
                api, url = start_api(folder, db_url, atlas.url, args.workers)
                apis.append(api)
                urls.append(url)
            print(f"database {db_url.split(':')[0]}, {os.cpu_count()} CPUs, API in its own "
                  f"process(es) ({args.instances} instance(s) of {args.workers} worker(s)), "
                  f"load average {os.getloadavg()[0]:.1f}")
            limits = httpx.Limits(max_connections=max(args.concurrency, 1))
            https = [httpx.Client(base_url=u, timeout=300, limits=limits) for u in urls]
            try:
                for size in sizes:
                    bench_transfers(https, headers, ids, args.batches, size, args.concurrency,
                                    [a.pid for a in apis])
                bench_buys(https[0], headers, args.buys)
            finally:
                for h in https:
                    h.close()
            # the figures are only comparable on a quiet machine: say how busy it was
            print(f"load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        except RuntimeError:
            log = folder / "api.log"
            print(log.read_text()[-3000:] if log.exists() else "(no API log)", file=sys.stderr)
            raise
        finally:
            for api in apis:
                api.terminate()
                api.wait(10)
            atlas.stop()
            if pg is not None:
                pg.stop()


if __name__ == "__main__":
    main()
