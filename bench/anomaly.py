"""Anomaly detection bench: a seeded event stream at realistic rates with injected suspicious
patterns; detection rate (goal 100 %), false positives on the clean background, and detection
latency p50/p99 (SC-008: 100 % within 30 s; aim < 1 s in the pipeline itself).

Set-up (not timed): a migrated SQLite database; ``--clients`` clients with 40 days of history
(withdrawals around each client's own typical amount to its 1-3 known destinations, logins and
movements around its habitual hour) written to the audit trail with past timestamps, and the
pipeline run over it once (its alerts are the *warm-up* false positives).

Live (timed, ``--seconds`` of wall time): a writer thread appends events as they happen, stamped
with the current time, at these rates per second: chain transfers ``--chain-rate`` (random
payments among 50,000 addresses, a third of them to five exchange deposit wallets, which fan-in
ignores), API reads 8, withdrawals 0.5, logins 0.3, on-us movements 0.2, signing requests 0.05,
failed authentications 0.03. Audit events go through :class:`keeper.audit.AuditTrail` (one
commit each, as the API's writer would); chain transfers are inserted into the transfer mirror's
table (the mirror's own reads from a node are not part of this bench). Injected, ``--instances``
of each kind at random moments: volume spike (20x a client's typical withdrawal), a large
withdrawal to a new address (by an institutional client for whom the amount is usual), a login
twelve hours from a client's habit, a burst of 8 signing requests in 20 s, 15 failed
authentications in 10 s, a peel chain (4 hops, 90 % forwarded each), a fan-in (6 senders in
15 s). The pipeline runs every ``--tick`` seconds (the keeper's job: 1 s).

Figures: an injected instance is detected when an alert's forensic chain holds one of its
events; an alert holding no injected event is a false positive. Latency: the alert's detection
time minus its tripping event's time; "pipeline" is the time of a pass itself (read, judge,
commit). The machine is shared: figures measured while others run are pessimistic.

Usage: python bench/anomaly.py [--seconds 60] [--clients 200] [--instances 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from sqlalchemy import insert  # noqa: E402

from keeper.audit import AuditRecord, AuditTrail  # noqa: E402
from keeper.audit import upgrade as upgrade_audit  # noqa: E402
from keeper.forensics import (  # noqa: E402
    AnomalyPipeline,
    AuditSource,
    ChainSource,
    default_detectors,
    stored_alerts,
)
from keeper.forensics import upgrade as upgrade_forensics  # noqa: E402
from keeper.forensics.models import TransferRow  # noqa: E402
from keeper.ledger import make_engine  # noqa: E402
from keeper.ledger import upgrade as upgrade_ledger  # noqa: E402

U = 10**6
EXCHANGES = [f"0x{'e' * 38}{i:02x}" for i in range(5)]
KINDS = ("volume_spike", "new_destination_large", "unusual_hours", "signing_burst",
         "auth_failure_burst", "peel_chain", "fan_in")


def addr(n: int) -> str:
    """A distinct address for ``n``."""
    return "0x" + f"{n:040x}"


@dataclass
class Client:
    """A simulated client: habitual hour, typical withdrawal, known destinations."""

    name: str
    hour: int
    typical: int
    dests: list[str]


@dataclass
class Truth:
    """Injected instances (kind -> list of event-key sets) and every injected key."""

    instances: dict[str, list[set[str]]] = field(default_factory=lambda: {k: [] for k in KINDS})
    keys: set[str] = field(default_factory=set)

    def add(self, kind: str, keys: set[str]) -> None:
        """Record one injected instance of ``kind`` made of events ``keys``."""
        self.instances[kind].append(keys)
        self.keys |= keys


def order(client: Client, kind: str, units: int, at: datetime, to: str = "") -> AuditRecord:
    """The audit record of an order's creation (what the flows write)."""
    oid = f"o{random.getrandbits(48):x}"
    return AuditRecord("flows", "flows.order.create", {"order_id": oid},
                       {"order_id": oid, "client_id": client.name, "kind": kind, "asset": "USDC",
                        "units": str(units), "data": {"to": to} if to else {}}, at=at)


def login(client: str, at: datetime, status: int = 200) -> AuditRecord:
    """An OAuth token request."""
    return AuditRecord(client, "api.POST /oauth/token", {}, {"status": status}, at=at)


def history(rng: random.Random, clients: list[Client], now: datetime) -> list[AuditRecord]:
    """40 days of each client's habits (timestamps in the past)."""
    out: list[AuditRecord] = []
    for c in clients:
        for day in range(40, 0, -1):
            at = (now - timedelta(days=day)).replace(hour=(c.hour + rng.randint(-2, 2)) % 24)
            out.append(login(c.name, at))
            out.append(order(c, "withdraw", c.typical * rng.randint(80, 120) // 100,
                             at + timedelta(minutes=5), rng.choice(c.dests)))
    out.sort(key=lambda r: r.at or now)
    return out


class Writer(threading.Thread):
    """Appends the live stream and the injections in real time (see the module doc)."""

    def __init__(self, url: str, args: argparse.Namespace, clients: list[Client],
                 odd: list[Client], big: list[Client]) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.trail = AuditTrail(self.engine)
        self.args, self.clients, self.odd, self.big = args, clients, odd, big
        self.rng = random.Random(args.seed + 1)
        self.truth = Truth()
        self.clean = 0
        self.tx = 0

    def _audit(self, records: list[AuditRecord], injected: set[str] | None = None) -> None:
        """Append ``records``; their keys go to ``injected`` (else they count as clean)."""
        got = self.trail.append(records)
        keys = {f"audit:{a.seq}.0" for a in got}
        if injected is None:
            self.clean += len(keys)
        else:
            injected |= keys

    def _chain(self, moves: list[tuple[str, str, int]], injected: set[str] | None = None) -> None:
        """Insert mirrored transfers; their keys go to ``injected`` (else clean)."""
        now = datetime.now(UTC)
        rows, keys = [], set()
        for a, b, amount in moves:
            self.tx += 1
            h = "0x" + f"{self.tx:064x}"
            rows.append({"block_number": self.tx, "block_hash": h, "block_time": now,
                         "tx_hash": h, "log_index": 0, "asset": "USDC", "token": addr(1),
                         "sender": a, "recipient": b, "amount": str(amount)})
            keys.add(f"chain:{h}:0")
        with self.engine.begin() as conn:
            conn.execute(insert(TransferRow), rows)
        if injected is None:
            self.clean += len(keys)
        else:
            injected |= keys

    def _background(self, dt: float) -> None:
        rng, a = self.rng, self.args
        now = datetime.now(UTC)
        n = _poisson(rng, a.chain_rate * dt)
        moves = []
        for _ in range(n):
            src = addr(rng.randrange(1000, 51000))
            dst = rng.choice(EXCHANGES) if rng.random() < 1 / 3 else addr(rng.randrange(1000, 51000))
            moves.append((src, dst, int(10 ** rng.uniform(1, 6)) * U))
        if moves:
            self._chain(moves)
        recs: list[AuditRecord] = []
        for _ in range(_poisson(rng, 8 * dt)):
            recs.append(AuditRecord(rng.choice(self.clients).name, "api.GET /v1/balances", {},
                                    {"status": 200}, at=now))
        for _ in range(_poisson(rng, 0.5 * dt)):
            c = rng.choice(self.clients)
            recs.append(order(c, "withdraw", c.typical * rng.randint(80, 120) // 100, now,
                              rng.choice(c.dests)))
        for _ in range(_poisson(rng, 0.3 * dt)):
            recs.append(login(rng.choice(self.clients).name, now))
        for _ in range(_poisson(rng, 0.2 * dt)):
            c = rng.choice(self.clients)
            recs.append(order(c, "transfer", c.typical * rng.randint(50, 150) // 100, now))
        for _ in range(_poisson(rng, 0.05 * dt)):
            recs.append(AuditRecord(f"safe-owner:{addr(rng.randrange(10))}", "safetx.propose",
                                    {"safe_tx_hash": "0x" + f"{rng.getrandbits(256):064x}"}, {},
                                    at=now))
        for _ in range(_poisson(rng, 0.03 * dt)):
            recs.append(AuditRecord("anonymous", "api.GET /v1/me", {}, {"status": 401}, at=now))
        if recs:
            self._audit(recs)

    def _inject(self, kind: str, i: int) -> None:
        rng, now, keys = self.rng, datetime.now(UTC), set[str]()
        if kind == "volume_spike":
            c = self.clients[i]
            self._audit([order(c, "withdraw", c.typical * 20, now, c.dests[0])], keys)
        elif kind == "new_destination_large":
            c = self.big[i]
            self._audit([order(c, "withdraw", c.typical, now, addr(900_000 + i))], keys)
        elif kind == "unusual_hours":
            self._audit([login(self.odd[i].name, now)], keys)
        elif kind == "signing_burst":
            signer = f"safe-owner:{addr(700 + i)}"
            for j in range(8):
                self._audit([AuditRecord(signer, "safetx.propose",
                                         {"safe_tx_hash": "0x" + f"{j:064x}"}, {},
                                         at=datetime.now(UTC))], keys)
                time.sleep(2.5)
        elif kind == "auth_failure_burst":
            for _ in range(15):
                self._audit([AuditRecord("anonymous", "api.GET /v1/me", {}, {"status": 401},
                                         at=datetime.now(UTC))], keys)
                time.sleep(0.6)
        elif kind == "peel_chain":
            hops = [addr(600_000 + 10 * i + j) for j in range(5)]
            amount = 500_000 * U
            self._chain([(addr(800_000 + i), hops[0], amount)], keys)
            for j in range(4):
                time.sleep(rng.uniform(0.5, 3))
                amount = amount * 9 // 10
                self._chain([(hops[j], hops[j + 1], amount),
                             (hops[j], addr(650_000 + 10 * i + j), amount // 9)], keys)
        elif kind == "fan_in":
            collector = addr(500_000 + i)
            for j in range(6):
                self._chain([(addr(510_000 + 10 * i + j), collector, 2000 * U)], keys)
                time.sleep(2.5)
        self.truth.add(kind, keys)

    def run(self) -> None:
        a = self.args
        rng = random.Random(a.seed + 2)
        plan = sorted((rng.uniform(0.05, 0.8) * a.seconds, k, i)
                      for k in KINDS for i in range(a.instances))
        start = last = time.monotonic()
        injectors: list[threading.Thread] = []
        while time.monotonic() - start < a.seconds:
            time.sleep(0.05)
            t = time.monotonic()
            self._background(t - last)
            last = t
            while plan and plan[0][0] <= t - start:
                _, kind, i = plan.pop(0)
                th = threading.Thread(target=self._inject, args=(kind, i), daemon=True)
                th.start()
                injectors.append(th)
        for th in injectors:
            th.join()
        self.trail.close()


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, pow(2.718281828459045, -lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def strings(value: Any) -> set[str]:
    """Every string inside ``value`` (the event keys of a forensic chain among them)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value)) if value else set()
    return set()


def pct(values: list[float], q: int) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))] if s else float("nan")


def main() -> None:
    """Run the bench and print its figures."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--instances", type=int, default=5)
    p.add_argument("--chain-rate", type=float, default=5.0)
    p.add_argument("--tick", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    random.seed(a.seed)
    rng = random.Random(a.seed)
    tmp = tempfile.mkdtemp(prefix="bench-anomaly-")
    url = f"sqlite:///{tmp}/anomaly.db"
    for up in (upgrade_ledger, upgrade_audit, upgrade_forensics):
        up(url)
    now = datetime.now(UTC)
    clients = [Client(f"client-{i}", now.hour, int(10 ** rng.uniform(3, 4.5)) * U,
                      [addr(2000 + 3 * i + j) for j in range(rng.randint(1, 3))])
               for i in range(a.clients)]
    big = [Client(f"inst-{i}", now.hour, 250_000 * U, [addr(4000 + i)])
           for i in range(a.instances)]
    odd = [Client(f"night-{i}", (now.hour + 12) % 24, 5000 * U, [addr(5000 + i)])
           for i in range(a.instances)]
    engine = make_engine(url)
    t0 = time.perf_counter()
    with AuditTrail(engine) as trail:
        trail.append(history(rng, clients + big + odd, now))
    pipe = AnomalyPipeline(engine, [ChainSource(engine), AuditSource(engine)],
                           default_detectors(frozenset(EXCHANGES)), batch=5000)
    warm = pipe.run_until_idle()
    print(f"warm-up: {len(clients) + 2 * a.instances} clients x 40 days "
          f"({80 * (len(clients) + 2 * a.instances)} events) judged in "
          f"{time.perf_counter() - t0:.1f} s; warm-up alerts: {len(warm)} "
          f"{sorted(Counter(x.detector for x in warm).items())} (the institutional clients' "
          "first large withdrawals: a new destination each, by construction)")
    writer = Writer(url, a, clients, odd, big)
    writer.start()
    passes: list[float] = []
    while writer.is_alive():
        s = time.perf_counter()
        pipe.run_once()
        passes.append(time.perf_counter() - s)
        time.sleep(max(0.0, a.tick - passes[-1]))
    writer.join()
    for _ in range(3):  # what the last tick has not seen yet
        s = time.perf_counter()
        pipe.run_once()
        passes.append(time.perf_counter() - s)
    alerts = [x for x in stored_alerts(engine, limit=100_000) if x.id > max(
        (w.id for w in warm), default=0)]
    report(a, writer, alerts, passes)


def report(a: argparse.Namespace, writer: Writer, alerts: list, passes: list[float]) -> None:
    """Print detection rate, false positives and latencies."""
    truth = writer.truth
    held = [(x, strings(x.evidence) & truth.keys) for x in alerts]
    fps = [x for x, keys in held if not keys]
    print(f"live: {a.seconds:.0f} s, {writer.clean} clean events, "
          f"{len(truth.keys)} injected events in {sum(map(len, truth.instances.values()))} "
          f"instances, {len(alerts)} alerts")
    print(f"{'kind':<24}{'injected':>9}{'detected':>9}{'rate':>8}")
    total = found = 0
    for kind in KINDS:
        inst = truth.instances[kind]
        hit = sum(1 for keys in inst if any(x.detector == kind and keys & k for x, k in held))
        total, found = total + len(inst), found + hit
        print(f"{kind:<24}{len(inst):>9}{hit:>9}{100 * hit / max(len(inst), 1):>7.0f}%")
    print(f"{'all':<24}{total:>9}{found:>9}{100 * found / max(total, 1):>7.1f}%  (goal 100 %)")
    print(f"false positives: {len(fps)} alerts on {writer.clean} clean events "
          f"({100 * len(fps) / max(writer.clean, 1):.3f} %)"
          + (f": {sorted({x.detector for x in fps})}" if fps else ""))
    lat = [x.latency_s for x, keys in held if keys]
    print(f"detection latency (event -> alert, {a.tick:.1f} s tick): p50 {pct(lat, 50):.2f} s, "
          f"p99 {pct(lat, 99):.2f} s, max {max(lat, default=float('nan')):.2f} s; within 30 s: "
          f"{sum(1 for x in lat if x <= 30)}/{len(lat)} (SC-008)")
    print(f"pipeline pass: p50 {1e3 * pct(passes, 50):.1f} ms, p99 {1e3 * pct(passes, 99):.1f} ms "
          f"over {len(passes)} passes")


if __name__ == "__main__":
    main()
