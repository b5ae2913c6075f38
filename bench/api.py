"""API latency bench: p50/p99 at a fixed arrival rate from a separate load-generator process.

Goal (issue 13): p99 < 25 ms at 500 requests/s and within 2x of a bare FastAPI endpoint.
The API runs as ``uvicorn api.main:app`` (one process, SQLite WAL + synchronous=FULL, the
real middleware: audit record, request id, rate-limit upsert, authentication) on a seeded
database; the bare app is a FastAPI app with one JSON route, in its own uvicorn process. The load
generator (``--load``, started as a child process) sends requests on a fixed schedule (request i
at t0 + i/rate, open loop) over keep-alive connections with httpx + asyncio and measures latency
from the *scheduled* time, so a stalled server is not hidden by a stalled client (no coordinated
omission). Targets: the bare route, GET /v1/balances with an API key and with a JWT, and
GET /v1/transactions when that route exists. Usage:
  python bench/api.py [--rate 500] [--seconds 6] [--postgres] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/bare")
def bare() -> dict[str, str]:
    return {"ok": "yes"}
"""


# ----------------------------------------------------------------------------- load generator
async def _load(url: str, headers: dict[str, str], rate: float, seconds: float) -> dict:
    import httpx

    n = int(rate * seconds)
    lat: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:
        for _ in range(50):  # warm the connections and the server's caches
            await client.get(url)
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.05

        async def one(i: int) -> None:
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                r = await client.get(url)
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            lat.append(loop.time() - due)
            if key != "200":
                errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = loop.time() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"n": n, "achieved_rps": n / elapsed, "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3,
            "max_ms": lat[-1] * 1e3, "errors": errors}


def _run_load(url: str, headers: dict[str, str], rate: float, seconds: float) -> dict:
    """Run the load generator in its own process; its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--headers", json.dumps(headers),
         "--rate", str(rate), "--seconds", str(seconds)],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- servers
def _serve(args: list[str], env: dict[str, str], port: int, probe: str) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {args} did not come up")


def _seed(url: str, data: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Migrate, create a client with postings; (API key headers, JWT headers)."""
    from sqlalchemy.orm import Session

    import keeper.auth as auth
    import keeper.clients as clients
    from keeper.ledger import Ledger, TransferSpec
    from keeper.schema import upgrade_all

    upgrade_all(url)
    lg = Ledger(url, group_commit=False)
    try:
        with Session(lg.engine) as s:
            client = clients.create_client(s, lg, "Bench Capital")
            key = clients.issue_key(s, client.id)
            oc = auth.create_oauth_client(s, client.id, [clients.CLIENT_READ])
            for i, asset in enumerate(["USDC", "USDT", "ETH", "BTC"] * 25):
                lg.post(TransferSpec(f"bench-{i}", lg.omnibus_account(asset, "vault"),
                                     lg.client_account(client.id, asset), 10**6 + i))
            tokens = auth.TokenService(data / "secrets", 900)
            token = tokens.issue(s, oc.oauth_client_id, oc.client_secret, None).access_token
    finally:
        lg.close()
    return ({"Authorization": f"Bearer {key.api_key}"}, {"Authorization": f"Bearer {token}"})


def main() -> None:
    """Run the bench (or, with ``--load``, be the load generator)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--postgres", action="store_true", help="run the API on PostgreSQL")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the API")
    p.add_argument("--load", help=argparse.SUPPRESS)
    p.add_argument("--headers", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(_load(args.load, json.loads(args.headers), args.rate,
                                            args.seconds))))
        return
    from strongroom_testkit import free_port

    with tempfile.TemporaryDirectory(prefix="strongroom-bench-api-") as tmp:
        data = Path(tmp)
        pg = None
        if args.postgres:
            from strongroom_testkit.postgres import PostgresCluster
            pg = PostgresCluster().start()
            url = pg.create_database("bench_api")
        else:
            url = f"sqlite:///{data / 'strongroom.db'}"
        key_h, jwt_h = _seed(url, data)
        from keeper.config import environment

        env = {**os.environ, **environment(data_dir=data, database_url=url,
                                           rate_limit_per_minute=10**9, chain_id=1)}
        (data / "bare_app.py").write_text(BARE_APP)
        api_port, bare_port = free_port(), free_port()
        api = _serve(["api.main:app", "--workers", str(args.workers)], env, api_port,
                     "/openapi.json")
        bare = _serve(["--app-dir", str(data), "bare_app:app"], env, bare_port, "/bare")
        try:
            import httpx
            paths = httpx.get(f"http://127.0.0.1:{api_port}/openapi.json").json()["paths"]
            base = f"http://127.0.0.1:{api_port}"
            targets = [("bare FastAPI GET /bare", f"http://127.0.0.1:{bare_port}/bare", {}),
                       ("GET /v1/balances (API key)", f"{base}/v1/balances", key_h),
                       ("GET /v1/balances (JWT)", f"{base}/v1/balances", jwt_h)]
            if "/v1/transactions" in paths:
                targets.append(("GET /v1/transactions (API key)", f"{base}/v1/transactions",
                                key_h))
            backend = "PostgreSQL" if pg else "SQLite WAL synchronous=FULL"
            print(f"API on {backend}, {args.workers} uvicorn worker(s); {args.rate:.0f} req/s for "
                  f"{args.seconds:.0f} s per target")
            results = {}
            for name, url_, headers in targets:
                r = _run_load(url_, headers, args.rate, args.seconds)
                results[name] = r
                print(f"  {name:34s} p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  "
                      f"max {r['max_ms']:7.2f} ms  achieved {r['achieved_rps']:5.0f}/s  "
                      f"non-200 {r['errors'] or 0}")
            bare_p99 = results[targets[0][0]]["p99_ms"]
            for name, _, _ in targets[1:]:
                p99 = results[name]["p99_ms"]
                print(f"  {name}: p99 {p99 / bare_p99:.2f}x bare "
                      f"(goal < 25 ms: {'met' if p99 < 25 else 'NOT met'}; "
                      f"within 2x bare: {'met' if p99 <= 2 * bare_p99 else 'NOT met'})")
        finally:
            for proc in (api, bare):
                proc.terminate()
                proc.wait(timeout=30)
            if pg is not None:
                pg.stop()


if __name__ == "__main__":
    main()
