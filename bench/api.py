"""API latency bench: p50/p99 at fixed arrival rates from a separate load-generator process.

Goal (issue 13): p99 < 25 ms at 500 requests/s and within 2x of a bare FastAPI endpoint measured
in the same run. The API runs as ``uvicorn api.main:app`` (SQLite WAL + synchronous=FULL, or
PostgreSQL; the real middleware: request id, audit record, rate limit, authentication) on a
seeded database; the bare app is a FastAPI app with one JSON route, in its own uvicorn process.

The rate limit stays on at its real value (``rate_limit_per_minute``, 100 by default): every run
of a target gets its own block of clients, each with its own API key and postings, used round
robin so that no client goes past 80% of its limit in a run; the bench prints how many.

Load generator (``--load``, a child process): open loop, request i is due at t0 + i/rate, its
latency is measured from that *due* time, so a stalled server is not hidden by a stalled client
(no coordinated omission). It speaks HTTP/1.1 itself over a fixed set of keep-alive connections
(``--connections``): each connection takes the next due request from one queue, writes a
pre-built request and reads the answer by its ``Content-Length``. An earlier httpx-based generator
was itself the bottleneck: once a backlog formed, httpcore's pool work grew with the number of
queued requests and the generator spent the cores while the server sat idle in ``select``.
Before the clock starts, every connection and every credential of the run is used once: the API
verifies a key on its first request and caches it for 5 s, so keys expiring inside the run are
measured (a steady state), a process's first sight of each key is not (a cold start).

Usage: python bench/api.py [--rates 50,250,500] [--seconds 5] [--workers 1,2] [--jwt]
       [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit

BARE_APP = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/bare")
def bare() -> dict[str, str]:
    return {"ok": "yes"}
"""
WARM_PER_CONNECTION = 2
POSTINGS_PER_CLIENT = 60  # more than one default page of /v1/transactions (50)
HEADROOM = 0.45  # share of a client's per-minute limit one run may use (--headroom)


# ----------------------------------------------------------------------------- load generator
async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> int:
    """Send one pre-built request; read the whole answer; its status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _load(url: str, auths: list[str], rate: float, seconds: float, conns: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [(f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 + (f"Authorization: {a}\r\n" if a else "") + "\r\n").encode()
                for a in auths or [""]]
    n = int(rate * seconds)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    lat: list[float] = []
    errors: dict[str, int] = {}
    opened = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(conns)))
    # warm every connection, and the server for every credential of the run: its first request
    # verifies the key (then cached for seconds), which a server in steady state has done
    for i in range(max(conns * WARM_PER_CONNECTION, len(requests))):
        await _exchange(*opened[i % conns], requests[i % len(requests)])
    t0 = loop.time() + 0.05
    cpu0 = time.process_time()

    async def schedule() -> None:
        for i in range(n):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, t0 + i / rate))
        for _ in range(conns):
            queue.put_nowait(None)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (item := await queue.get()) is not None:
            i, due = item
            try:
                key = str(await _exchange(reader, writer, requests[i % len(requests)]))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                key = type(exc).__name__
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            lat.append(loop.time() - due)
            if key != "200":
                errors[key] = errors.get(key, 0) + 1
        writer.close()

    await asyncio.gather(schedule(), *(connection(r, w) for r, w in opened))
    elapsed = loop.time() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {"n": n, "achieved_rps": n / elapsed, "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3,
            "max_ms": lat[-1] * 1e3, "errors": errors,
            "gen_cpu_ms": (time.process_time() - cpu0) * 1e3 / n}


def _run_load(url: str, auths: list[str], rate: float, seconds: float, conns: int) -> dict:
    """Run the load generator in its own process; its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", url, "--rates", str(rate), "--seconds", str(seconds),
         "--connections", str(conns)],
        input=json.dumps(auths), check=True, capture_output=True, text=True)
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


def _seed(url: str, n_clients: int, secrets: Path | None = None) -> list[str]:
    """Migrate; create ``n_clients`` clients, each with postings and an API key (or, with
    ``secrets``, an OAuth client and an access token signed with the keys there); their
    ``Authorization`` values."""
    from sqlalchemy.orm import Session

    import keeper.auth as auth
    import keeper.clients as clients
    from keeper.ledger import Ledger, TransferSpec
    from keeper.schema import upgrade_all

    upgrade_all(url)
    lg = Ledger(url)  # group commit: the postings of every client in few transactions
    auths: list[str] = []
    try:
        ids, oauth = [], []
        with Session(lg.engine) as s:
            for c in range(n_clients):
                client = clients.create_client(s, lg, f"Bench Capital {c}")
                if secrets is None:
                    auths.append(f"Bearer {clients.issue_key(s, client.id).api_key}")
                else:
                    oauth.append(auth.create_oauth_client(s, client.id, [clients.CLIENT_READ]))
                ids.append(client.id)
        for oc in oauth:  # a session each: the first grant commits the signing key elsewhere
            with Session(lg.engine) as s:
                grant = auth.TokenService(secrets, 3600).issue(
                    s, oc.oauth_client_id, oc.client_secret, None)
                auths.append(f"Bearer {grant.access_token}")
        tag = "jwt" if secrets else "key"
        futures = [lg.submit(TransferSpec(f"bench-{tag}-{c}-{i}", lg.omnibus_account(asset, "vault"),
                                          lg.client_account(cid, asset), 10**6 + i))
                   for c, cid in enumerate(ids)
                   for i, asset in enumerate(["USDC", "USDT", "ETH", "BTC"]
                                             * (POSTINGS_PER_CLIENT // 4))]
        for f in futures:
            f.result()
    finally:
        lg.close()
    return auths


def clients_per_run(rate: float, seconds: float, conns: int, limit: int,
                    headroom: float = HEADROOM) -> int:
    """Clients one run needs so none passes ``headroom`` of its per-minute ``limit``."""
    return max(1, math.ceil((rate * seconds + conns * WARM_PER_CONNECTION) / (limit * headroom)))


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its children (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_s(int(c)) for c in children)


def main() -> None:
    """Run the bench (or, with ``--load``, be the load generator)."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="50,250,500", help="offered requests/s, comma-separated")
    p.add_argument("--seconds", type=float, default=5.0, help="per target and rate")
    p.add_argument("--workers", default="1", help="uvicorn worker counts, comma-separated")
    p.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    p.add_argument("--postgres", action="store_true", help="run the API on PostgreSQL")
    p.add_argument("--headroom", type=float, default=HEADROOM,
                   help="share of a client's per-minute limit one run may use (below 0.5 every "
                   "hit is counted in memory; above, the hits past half are exact upserts)")
    p.add_argument("--jwt", action="store_true",
                   help="also GET /v1/balances with OAuth access tokens (JWT)")
    p.add_argument("--load", help=argparse.SUPPRESS)
    args = p.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if args.load:
        auths = json.loads(sys.stdin.read())
        print(json.dumps(asyncio.run(_load(args.load, auths, rates[0], args.seconds,
                                            args.connections))))
        return
    from keeper.config import default, environment
    from strongroom_testkit import free_port

    limit = default("rate_limit_per_minute")
    targets = [("/v1/balances", "key"), ("/v1/transactions", "key")]
    if args.jwt:
        targets.append(("/v1/balances", "jwt"))
    workers = [int(w) for w in args.workers.split(",")]
    per_run = {r: clients_per_run(r, args.seconds, args.connections, limit, args.headroom)
               for r in rates}
    needed = {kind: sum(per_run.values()) * len(workers) * sum(k == kind for _, k in targets)
              for kind in ("key", "jwt")}
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-api-") as tmp:
        data = Path(tmp)
        pg = None
        if args.postgres:
            from strongroom_testkit.postgres import PostgresCluster
            pg = PostgresCluster().start()
            url = pg.create_database("bench_api")
        else:
            url = f"sqlite:///{data / 'strongroom.db'}"
        t = time.perf_counter()
        auths = {"key": _seed(url, needed["key"]),
                 "jwt": _seed(url, needed["jwt"], data / "secrets") if args.jwt else []}
        print(f"seeded {sum(needed.values())} clients ({POSTINGS_PER_CLIENT} postings each) in "
              f"{time.perf_counter() - t:.1f} s; rate limit {limit}/min per client kept on: "
              + ", ".join(f"{per_run[r]} clients per run at {r:.0f}/s" for r in rates))
        env = {**os.environ, **environment(data_dir=data, database_url=url, chain_id=1)}
        (data / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = _serve(["--app-dir", str(data), "bare_app:app"], env, bare_port, "/bare")
        backend = "PostgreSQL" if pg else "SQLite WAL synchronous=FULL"
        print(f"API on {backend}; {args.seconds:.0f} s per target and rate; "
              f"{args.connections} keep-alive connections; 2 shared cores (figures are low "
              f"when other work runs)")
        print("server CPU: the server process(es)' user + system CPU per request, load-independent;"
              " gen CPU: the load generator's")
        print(f"{'workers':>7} {'target':22} {'offered':>7} {'achieved':>8} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'max ms':>8} {'p99/bare':>8} {'srv CPU':>8} {'gen CPU':>8}  non-200")
        try:
            for w in workers:
                port = free_port()
                api = _serve(["api.main:app", "--workers", str(w)], env, port, "/openapi.json")
                try:
                    for rate in rates:
                        before = cpu_s(bare.pid)
                        bare_r = _run_load(f"http://127.0.0.1:{bare_port}/bare", [], rate,
                                           args.seconds, args.connections)
                        bare_r["cpu_ms"] = (cpu_s(bare.pid) - before) * 1e3 / bare_r["n"]
                        _row(w, "bare /bare", rate, bare_r, bare_r["p99_ms"])
                        for target, kind in targets:
                            mine = auths[kind][:per_run[rate]]
                            auths[kind] = auths[kind][per_run[rate]:]
                            before = cpu_s(api.pid)
                            r = _run_load(f"http://127.0.0.1:{port}{target}", mine, rate,
                                          args.seconds, args.connections)
                            r["cpu_ms"] = (cpu_s(api.pid) - before) * 1e3 / r["n"]
                            name = f"{target} (JWT)" if kind == "jwt" else target
                            _row(w, name, rate, r, bare_r["p99_ms"])
                finally:
                    api.terminate()
                    api.wait(timeout=30)
        finally:
            bare.terminate()
            bare.wait(timeout=30)
            if pg is not None:
                pg.stop()
    print("goal: p99 < 25 ms and p99/bare <= 2 at 500/s")


def _row(workers: int, target: str, rate: float, r: dict, bare_p99: float) -> None:
    print(f"{workers:>7} {target:22} {rate:>7.0f} {r['achieved_rps']:>8.0f} {r['p50_ms']:>8.2f} "
          f"{r['p99_ms']:>8.2f} {r['max_ms']:>8.1f} {r['p99_ms'] / bare_p99:>8.2f} "
          f"{r['cpu_ms']:>6.2f}ms {r['gen_cpu_ms']:>6.2f}ms  {r['errors'] or '-'}", flush=True)


if __name__ == "__main__":
    main()
