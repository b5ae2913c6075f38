"""Web console page bench: server time p50/p99 of every console page (goal p99 < 50 ms).

Builds a world (``strongroom_testkit.browser.console_world``: two clients, one login per role)
with ``--postings`` more postings for the first client, signs in each login through the form,
finds every console page its role reaches by following the links of its pages (so the
compliance and treasury pages are measured once they exist), and requests each ``--n`` times
in-process. Server time is measured inside the ASGI app (from the request reaching the app to
the last body byte sent), so the client's own work is not counted. Prints p50/p99 per page and
the p99 of a bare FastAPI route measured the same way in the same run (the baseline).

The signer queue reads the chain; without ``--rpc`` it lists no multisig (no chain here).
Figures measured while other processes share the machine's cores are high; say so.

Usage: python bench/console.py [--n 200] [--postings 5000] [--rpc URL --chain-id N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests: strongroom_testkit
warnings.filterwarnings("ignore", category=DeprecationWarning)

LINK = re.compile(r'href="(/console/[^"#]*)"')
SKIP = re.compile(r"/console/(login|logout|static/)")
MAX_PAGES_PER_ROLE = 40
PDF_REQUESTS = 5  # a statement PDF of thousands of lines takes seconds (the statements service)
Scope = MutableMapping[str, Any]


class Timed:
    """ASGI wrapper recording each request's server time (seconds) by path."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app, self.times = app, []  # type: ignore[var-annotated]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def sending(message: MutableMapping[str, Any]) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append(time.perf_counter() - start)

        await self.app(scope, receive, sending)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _more_postings(world: Any, n: int) -> None:
    from keeper.ledger import Kind, Ledger, TransferSpec

    lg = Ledger(world.url, group_commit=False)
    try:
        om = lg.omnibus_account("USDC", "vault")
        mine = lg.client_account(world.alice.client.id, "USDC")
        for start in range(0, n, 500):
            lg.post_all([TransferSpec(f"bench-{i}", om, mine, 1_000_000 + i, Kind.SINGLE)
                         for i in range(start, min(n, start + 500))])
    finally:
        lg.close()


def _crawl(client: Any, start: str) -> list[str]:
    seen, queue = [], [start]
    while queue and len(seen) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in seen:
            continue
        r = client.get(path)
        if r.status_code != 200:
            continue
        seen.append(path)
        if r.headers.get("content-type", "").startswith("text/html"):
            for link in LINK.findall(r.text):
                link = link.replace("&amp;", "&")
                if not SKIP.search(link) and link not in seen and link not in queue:
                    queue.append(link)
    return seen


def _template(path: str) -> str:
    """A page's name for the table: ids and cursors folded."""
    p = urlsplit(path)
    name = re.sub(r"/0x[0-9a-fA-F]{64}", "/{hash}", p.path)
    name = re.sub(r"/statements/\d{4}/\d{1,2}\.pdf", "/statements/{y}/{m}.pdf", name)
    name = re.sub(r"/transactions/[^/]+$", "/transactions/{id}", name)
    return name + ("?" + re.sub(r"=[^&]+", "=…", p.query) if p.query else "")


def main() -> None:
    """Run the bench and print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="requests per page")
    ap.add_argument("--postings", type=int, default=5000, help="extra postings of alice")
    ap.add_argument("--rpc", help="JSON-RPC URL (signer queue reads the chain)")
    ap.add_argument("--chain-id", type=int, default=1)
    args = ap.parse_args()

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.main import create_app
    from strongroom_testkit.browser import LOGINS, console_world, form_login

    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    cw = console_world(tmp)
    cw.world.deploy()
    _more_postings(cw.world, args.postings)
    extra = {"rpc_url": args.rpc, "chain_id": args.chain_id} if args.rpc else {}
    app = create_app(cw.settings(**extra))
    timed = Timed(app)
    results: dict[str, list[float]] = {}
    with TestClient(timed, follow_redirects=False) as client:  # type: ignore[arg-type]
        for login in ["alice", *LOGINS]:
            form_login(client, login)
            home = client.get("/console/").headers.get("location", "/console/me")
            pages = _crawl(client, home) + ["/console/me"]
            for path in pages:
                name = _template(path)
                if name in results:
                    continue
                timed.times.clear()
                for _ in range(PDF_REQUESTS if path.endswith(".pdf") else args.n):
                    client.get(path)
                results[name] = list(timed.times)
    bare = FastAPI()
    bare.get("/bare")(lambda: {"ok": "yes"})
    timed_bare = Timed(bare)
    with TestClient(timed_bare) as client:  # type: ignore[arg-type]
        for _ in range(args.n):
            client.get("/bare")
    print(f"console pages, server time over {args.n} requests each ({PDF_REQUESTS} per PDF) "
          f"({args.postings} extra postings; goal p99 < 50 ms)")
    print(f"{'page':<52} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, times in results.items():
        print(f"{name:<52} {_pct(times, 0.5):8.2f} {_pct(times, 0.99):8.2f} "
              f"{statistics.fmean(times) * 1000:8.2f}")
    base = timed_bare.times
    print(f"{'(baseline: bare FastAPI route)':<52} {_pct(base, 0.5):8.2f} {_pct(base, 0.99):8.2f} "
          f"{statistics.fmean(base) * 1000:8.2f}")
    worst = max(results, key=lambda k: _pct(results[k], 0.99))
    print(f"slowest p99: {worst} {_pct(results[worst], 0.99):.2f} ms")


if __name__ == "__main__":
    main()
