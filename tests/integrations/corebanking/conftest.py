"""The local ATLAS as a real subprocess on a free port, a small real HTTP receiver playing the
platform's ``/stablecoin/notify-deposit``, and the clients. After every test the service's own
ledger is read straight from its SQLite file: every posting nets to zero per currency."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from keeper.integrations.corebanking import AtlasClient, AtlasOpsClient, Faults
from keeper.keys.secrets import Secret
from strongroom_testkit import free_port
from strongroom_testkit.services import Atlas, make_atlas


@dataclass
class Receiver:
    """The platform side of the deposit notification, scripted per customer id prefix:
    ``FLAKY``: 500 on the first two tries; ``DOWN``: 500 always; ``SLOW``: sleeps past ATLAS's
    timeout on the first try; ``NEW``: 400 (not onboarded); ``HOLD``: 403 (compliance hold);
    otherwise accepted. Idempotent on ``transaction_id`` as the platform must be."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    auth: dict[str, str] = field(default_factory=dict)  # transaction id -> Authorization seen
    orders: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(body)
            tries = sum(c.get("transaction_id") == body.get("transaction_id") for c in self.calls)
        cust = str(body.get("customer_id", ""))
        if cust.startswith("SLOW") and tries == 1:
            time.sleep(1.5)  # outside the lock: the retry is answered meanwhile
            return 500, {"error": "too late"}
        with self.lock:
            if cust.startswith("DOWN") or (cust.startswith("FLAKY") and tries <= 2):
                return 500, {"error": "platform unavailable"}
            if cust.startswith("NEW"):
                return 400, {"error": "customer not onboarded for stablecoins"}
            if cust.startswith("HOLD"):
                return 403, {"error": "compliance hold"}
            order = self.orders.setdefault(body["transaction_id"], f"SC-ORD-{len(self.orders) + 1}")
            return 200, {"status": "accepted", "stablecoin_order_id": order,
                         "estimated_completion": "2026-02-01T10:45:00Z"}

    def for_tx(self, tx: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c.get("transaction_id") == tx]


@pytest.fixture(scope="session")
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A real HTTP server on loopback answering ``POST /stablecoin/notify-deposit``."""
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            rec.auth[str(body.get("transaction_id"))] = self.headers.get("Authorization", "")
            status, answer = (rec.answer(body) if self.path == "/stablecoin/notify-deposit"
                              else (404, {}))
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the caller timed out and hung up

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def atlas(tmp_path_factory: pytest.TempPathFactory, receiver: tuple[Receiver, str]) -> Iterator[Atlas]:
    """One ATLAS process for the session, notifying the test receiver."""
    a = make_atlas(tmp_path_factory.mktemp("atlas"), receiver[1])
    a.start()
    yield a
    a.stop()


@pytest.fixture
def spawn() -> Iterator[Any]:
    """``spawn(dir, platform_url)``: another ATLAS (stopped after the test)."""
    made: list[Atlas] = []

    def _spawn(d: Path, platform_url: str) -> Atlas:
        made.append(make_atlas(d, platform_url))
        return made[-1]

    yield _spawn
    for a in made:
        a.stop()


def ledger_problems(db: Path) -> list[Any]:
    """Straight from the service's SQLite file: postings whose entries do not net to zero per
    currency, currencies whose debits != credits (added in Python: no 64-bit overflow), and
    running balances that differ from the sum of their entries."""
    con = sqlite3.connect(db)
    try:
        bad = con.execute("SELECT posting_id, currency, SUM(amount) FROM atlas_entries "
                          "GROUP BY posting_id, currency HAVING SUM(amount) != 0").fetchall()
        per: dict[str, int] = {}
        sums: dict[tuple[str, str], int] = {}
        for acc, currency, amount in con.execute("SELECT account, currency, amount FROM atlas_entries"):
            per[currency] = per.get(currency, 0) + amount
            sums[(acc, currency)] = sums.get((acc, currency), 0) + amount
        kept = {(a, c): v for a, c, v in con.execute("SELECT account, currency, amount FROM atlas_balances")}
        drift = [k for k in set(sums) | set(kept) if sums.get(k, 0) != kept.get(k, 0)]
        return bad + [c for c, total in per.items() if total] + drift
    finally:
        con.close()


def count_postings(db: Path) -> int:
    """Postings in the service's database (read independently of the service)."""
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT COUNT(*) FROM atlas_postings").fetchone()[0])
    finally:
        con.close()


@pytest.fixture(autouse=True)
def balanced_after(atlas: Atlas, ops: AtlasOpsClient) -> Iterator[None]:
    """After every test: faults off, and the ledger balanced both as the service reports it and
    as its database file holds it."""
    yield
    if atlas.proc is None or atlas.proc.poll() is not None:
        atlas.start()
    ops.set_faults(Faults())
    assert ledger_problems(atlas.db) == []
    tb = ops.trial_balance()
    assert tb["unbalanced_postings"] == [] and tb["balance_drift"] == []
    assert all(v["debits"] == v["credits"] for v in tb["currencies"].values())


@pytest.fixture(scope="session")
def client(atlas: Atlas) -> Iterator[AtlasClient]:
    """The platform's client (fast backoff so retries do not slow the suite)."""
    c = AtlasClient(atlas.url, Secret(atlas.api_key), timeout_s=5, retries=3, backoff_s=0.01)
    yield c
    c.close()


@pytest.fixture(scope="session")
def ops(atlas: Atlas) -> Iterator[AtlasOpsClient]:
    """The bank staff's client."""
    c = AtlasOpsClient(atlas.url, Secret(atlas.ops_key), timeout_s=5, retries=3, backoff_s=0.01)
    yield c
    c.close()


@pytest.fixture
def funded(ops: AtlasOpsClient) -> Any:
    """``funded(prefix, cents)``: a new customer whose account received a wire of ``cents``."""

    def _make(prefix: str = "CUST", amount: int = 0) -> str:
        cid = f"{prefix}-{uuid.uuid4().hex[:10]}"
        ops.create_customer(cid, f"{prefix} Ltd")
        if amount:
            ops.wire_in(str(uuid.uuid4()), cid, amount, "opening wire")
        return cid

    return _make


def wait_for(pred: Any, timeout: float = 30.0) -> Any:
    """Poll ``pred`` until it returns something truthy (the service works in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out := pred():
            return out
        time.sleep(0.05)
    raise AssertionError("condition not reached")



@pytest.fixture
def postings(atlas: Atlas) -> Any:
    """``postings()``: how many postings the service's database holds now."""
    return lambda: count_postings(atlas.db)


@pytest.fixture
def until() -> Any:
    """``until(pred)``: :func:`wait_for`."""
    return wait_for
