"""Smart order routing bench: 1,000 seeded parent orders over the three venue simulators.

Prints (never asserts): the share of orders where the router's realised all-in price is at least
as good as / strictly better than the best single venue's for the same amount from the same
arrival books (goal >= 90 %, SC-014), the average price improvement against it (goal >= 0.2 %,
SC-017), planned vs realised all-in, routing decision latency p50/p99 per round (books ->
consensus -> plan -> policy; goal < 5 ms), the planner alone on 3 venues x 50 levels, and the
failovers and exclusions seen.

Market (``--market``): by default ``dispersed`` (``DISPERSED_PROFILES``): each venue quotes around
its own seeded, mean-reverting basis to the reference (deepbook 2 bps, thirdex 3 bps, fastlane
6 bps standard deviation; sources in ``scripts/services/venues/profile.py``), as real venues do;
``shared``: the default profiles, every venue on one shared reference (mids ~1 bp apart), what the
tests run. Venues (deepbook: 20 levels of $250k, 10 bps; fastlane: 5 levels of $40k, 5 bps;
thirdex: 10 levels of $100k, 8 bps), with their seeded faults (stale and wrong books,
thirdex's outage slots, and ``--fail-rate`` of the orders during which one venue dies after 1-3
of our fills, revived for the next order; the bench resumes the parents left unresolved at the
end). By default in this process through ``LocalVenue`` (the simulators' own engine without
HTTP on a simulated clock: 1.5 s between orders and ``--tick-ms`` (20) per venue request, so the
makers re-quote between orders and now and then between a book and the order planned on it).
``--http`` starts the three venue services (``strongroom_testkit.venues.start_venues``: own
processes, real time, latency slept, rate limits) and paces the orders at ``--rate`` a second
(deepbook allows 20 requests a second).

Order sizes: a parent's notional is log-uniform between $20k and $1.5M (``--min-usd``,
``--max-usd``): from a fraction of one fastlane level to about a third of deepbook's whole side,
the range where an institutional desk's block meets this simulated depth (the three venues show
about $6.4M a side together). Half buys, half sells; half BTC/USD, half ETH/USD; a Swiss client
(every venue allowed by the jurisdiction rules, so the comparison is routing alone).

What drives the improvement figure is printed with it: the market's assumptions (fees, depth,
spread, level step, basis per venue), the improvement per order size against that depth, and its
split into price and fees (a split order saves mostly fees: its cheaper-fee venues are also the
thinner ones).

Usage: python bench/routing.py [--orders 1000] [--seed 7] [--min-usd 20000] [--max-usd 1500000]
       [--fail-rate 0.03] [--tick-ms 20] [--market dispersed|shared] [--http [--rate 4]]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from keeper.ledger import Ledger  # noqa: E402
from keeper.ledger import migrate as ledger_migrate  # noqa: E402
from keeper.ledger.db import make_engine  # noqa: E402
from keeper.trading import migrate as trading_migrate  # noqa: E402
from keeper.trading.jurisdiction import JurisdictionPolicy  # noqa: E402
from keeper.trading.routing import (  # noqa: E402
    ChildStatus,
    ParentStatus,
    RoutedVenue,
    Router,
    RoutingStore,
    VenueInput,
    plan,
    saving,
    single_venue_costs,
)
from keeper.trading.types import MARKETS, OrderBook, ParentOrder, Side  # noqa: E402
from scripts.services.venues.faults import FaultState  # noqa: E402
from scripts.services.venues.inprocess import local_venues  # noqa: E402
from scripts.services.venues.prices import START_PRICES, maker_ladder  # noqa: E402
from scripts.services.venues.profile import (  # noqa: E402
    DEFAULT_PROFILES,
    DISPERSED_PROFILES,
    VenueProfile,
)

T0 = 1_800_000_000_000
MARKETS_BY_NAME: dict[str, dict[str, VenueProfile]] = {
    "dispersed": DISPERSED_PROFILES, "shared": DEFAULT_PROFILES}
SIZE_BUCKETS = (20_000, 100_000, 500_000, 10**12)  # USD: within one venue's top, a few levels, deep
FUNDS = {"USD": 10**13, "BTC": 10**12, "ETH": 10**24}


def pct(values: list[int], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def planner_alone(seed: int, runs: int = 2_000) -> tuple[float, float, float]:
    """Wall p50/p99 and CPU p99 (ms) of :func:`plan` on 3 venues x 50 levels (the profiles with
    50 levels)."""
    inputs = []
    for name, profile in DEFAULT_PROFILES.items():
        p50 = profile.with_(levels=50)
        bids, asks = maker_ladder(seed, p50, "BTC/USD", T0)
        inputs.append(VenueInput(name, OrderBook("BTC/USD", bids, asks, T0, name), p50.fees(),
                                 p50.latency_ms, None, 10**13))
    rng = random.Random(seed)
    times, cpu = [], []
    for _ in range(runs):
        amount = rng.randint(10**7, 50 * 10**8)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        t, c = time.perf_counter_ns(), time.thread_time_ns()
        plan(side, amount, inputs, symbol="BTC/USD")
        times.append(time.perf_counter_ns() - t)
        cpu.append(time.thread_time_ns() - c)
    return pct(times, 0.5) / 1e6, pct(times, 0.99) / 1e6, pct(cpu, 0.99) / 1e6


class InProcess:
    """The three simulators in this process on a simulated clock."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.now = T0
        self.tick = args.tick_ms
        self.venues = local_venues(args.seed, clock=self._venue_clock, funds=FUNDS,
                                   profiles=MARKETS_BY_NAME[args.market])
        self.routed = {n: RoutedVenue(v, DEFAULT_PROFILES[n].latency_ms)
                       for n, v in self.venues.items()}
        self.mode = ("in process (LocalVenue over the simulators' engine, simulated clock, "
                     f"{self.tick} ms per venue request)")

    def _venue_clock(self) -> int:  # every venue request takes --tick-ms of simulated time
        self.now += self.tick
        return self.now

    def clock(self) -> int:
        """Now, ms."""
        return self.now

    def between_orders(self, rate: float) -> None:
        """Let 1.5 s pass."""
        self.now += 1_500

    def kill(self, name: str, fills: int) -> None:
        """``name`` dies after ``fills`` more of our fills."""
        self.venues[name].sim.set_state(FaultState(die_after_fills=fills))

    def revive(self, name: str) -> bool:
        """Bring ``name`` back; whether it had died."""
        dead = self.venues[name].sim.faults.state.dead
        self.venues[name].sim.set_state(FaultState())
        return dead

    def settle_time(self) -> None:
        """Outage slots are a minute: let every venue come back."""
        self.now += 120_000

    def venue_fills(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        """What the venues recorded of our fills, per (venue, order id)."""
        out: dict[tuple[str, str], tuple[int, int, int]] = {}
        for vid, v in self.venues.items():
            for rec in v.sim.engine.fills:
                a, c, f = out.get((vid, rec.fill.order_id), (0, 0, 0))
                out[(vid, rec.fill.order_id)] = (a + rec.fill.amount, c + rec.fill.cost,
                                                 f + rec.fill.fee)
        return out

    def close(self) -> None:
        """Nothing to stop."""


class Http:
    """The three venue services (own processes, real time, latency slept, rate limits)."""

    def __init__(self, args: argparse.Namespace) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from strongroom_testkit.venues import start_venues

        d = Path(tempfile.mkdtemp(prefix="bench-venues-"))
        files = {}
        for name, profile in MARKETS_BY_NAME[args.market].items():
            files[name] = d / f"{name}.json"
            files[name].write_text(profile.to_json())
        self.procs = start_venues(d, seed=args.seed, funds=FUNDS, profiles=files)
        self.routed = {n: RoutedVenue(v.client()) for n, v in self.procs.items()}
        self.mode = ("HTTP services (python -m scripts.services.venues, real time, their latency "
                     "and rate limits)")
        self.last = time.perf_counter()

    def clock(self) -> int:
        """Now, ms."""
        return time.time_ns() // 1_000_000

    def between_orders(self, rate: float) -> None:
        """Pace to ``rate`` orders a second (deepbook allows 20 requests a second)."""
        wait = self.last + 1 / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        self.last = time.perf_counter()

    def kill(self, name: str, fills: int) -> None:
        """``name`` dies after ``fills`` more of our fills."""
        self.procs[name].set_faults(die_after_fills=fills)

    def revive(self, name: str) -> bool:
        """Bring ``name`` back; whether it had died."""
        dead = bool(self.procs[name].set_faults()["dead"])
        self.procs[name].set_faults(clear=True)
        return dead

    def settle_time(self) -> None:
        """A second for the venues' Retry-After."""
        time.sleep(1)

    def venue_fills(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        """What the venues recorded of our fills, per (venue, order id)."""
        out: dict[tuple[str, str], tuple[int, int, int]] = {}
        for vid, v in self.procs.items():
            for f in v.fills():
                a, c, fee = out.get((vid, f["order_id"]), (0, 0, 0))
                out[(vid, f["order_id"])] = (a + int(f["amount"]), c + int(f["cost"]),
                                             fee + int(f["fee"]))
        return out

    def close(self) -> None:
        """Stop the services."""
        from strongroom_testkit.venues import stop_venues

        stop_venues(self.procs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--min-usd", type=int, default=20_000)
    ap.add_argument("--max-usd", type=int, default=1_500_000)
    ap.add_argument("--fail-rate", type=float, default=0.03,
                    help="share of orders during which one venue dies after 1-3 of our fills")
    ap.add_argument("--tick-ms", type=int, default=20,
                    help="in process: simulated time each venue request takes")
    ap.add_argument("--market", choices=sorted(MARKETS_BY_NAME), default="dispersed",
                    help="dispersed: each venue on its own basis; shared: one reference price")
    ap.add_argument("--http", action="store_true", help="use the HTTP venue services")
    ap.add_argument("--rate", type=float, default=4.0, help="HTTP: parent orders per second")
    args = ap.parse_args()
    world = Http(args) if args.http else InProcess(args)
    print(f"venues: {world.mode}; {args.market} market with the profiles' seeded faults; "
          f"seed {args.seed}")
    assumptions(MARKETS_BY_NAME[args.market], args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    url = f"sqlite:///{tmp / 'routing.db'}"
    ledger_migrate.SCHEMA.upgrade(url)
    trading_migrate.SCHEMA.upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    router = Router(RoutingStore(engine), world.routed, JurisdictionPolicy(), ledger.raise_alert,
                    clock=world.clock)
    rng = random.Random(args.seed)
    decisions: list[int] = []
    cpu: list[int] = []
    killed = 0
    lo, hi = args.min_usd, args.max_usd
    wall = time.perf_counter()
    try:
        for i in range(args.orders):
            world.between_orders(args.rate)
            symbol = "BTC/USD" if rng.random() < 0.5 else "ETH/USD"
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            usd = int(lo * (hi / lo) ** rng.random())
            m = MARKETS[symbol]
            amount = usd * 100 * 10**m.base_decimals // START_PRICES[symbol]
            p = ParentOrder(f"b{args.seed}-{i}", "bench", symbol, side, amount, None, "CH",
                            "institutional", world.clock())
            victim = None
            if rng.random() < args.fail_rate:  # this venue dies after 1-3 of our fills
                victim = rng.choice(sorted(world.routed))
                world.kill(victim, rng.randint(1, 3))
            router.route(p)
            decisions.append(router.last_decision_ns)
            cpu.append(router.last_decision_cpu_ns)
            if victim is not None:  # back for the next order (resume settles it later)
                killed += world.revive(victim)
        world.settle_time()
        resumed = len(router.resume())
        elapsed = time.perf_counter() - wall
        report(router, world.venue_fills(), args, (decisions, cpu), (resumed, killed), elapsed,
               ledger)
    finally:
        ledger.close()
        engine.dispose()
        world.close()


def assumptions(profiles: dict[str, VenueProfile], args: argparse.Namespace) -> None:
    """Print the market assumptions the improvement figure depends on."""
    for name, p in profiles.items():
        print(f"  {name}: taker {p.taker_ppm / 100:g} bps (maker {p.maker_ppm / 100:g}), "
              f"{p.levels} levels x ${p.level_notional / 100:,.0f} a side "
              f"(${p.levels * p.level_notional / 100:,.0f}), spread {p.spread_ppm / 100:g} bps, "
              f"levels {p.level_step_ppm / 100:g} bps apart, re-quote noise +-{p.noise_ppm / 100:g} "
              f"bps, basis " + (f"{p.basis_ppm / 100:g} bps sd (half-life "
                                f"{p.basis_halflife_ms / 1000:g} s)" if p.basis_ppm else "none"))
    print(f"  orders: ${args.min_usd:,}-${args.max_usd:,} log-uniform (--min-usd/--max-usd)")


def drivers(comparable: list) -> None:
    """Print the improvement per order size and its split into price and fees (% of the
    baseline's all-in)."""
    for lo, hi in zip(SIZE_BUCKETS, SIZE_BUCKETS[1:], strict=False):
        rows = [ex for ex in comparable
                if lo <= ex.decision.baseline.notional / 100 < hi]
        if not rows:
            continue
        total = [ex.improvement() / ex.decision.baseline.all_in * 100 for ex in rows]
        fees = [(ex.decision.baseline.fee - ex.fee) / ex.decision.baseline.all_in * 100
                for ex in rows]
        label = f"${lo:,}-${hi:,}" if hi < 10**12 else f">= ${lo:,}"
        print(f"  size {label}: {len(rows)} orders, mean {statistics.mean(total):.4f} % "
              f"(fees {statistics.mean(fees):.4f} %, price "
              f"{statistics.mean(total) - statistics.mean(fees):.4f} %), "
              f"split {sum(len({c.venue for c in ex.children}) > 1 for ex in rows) / len(rows):.0%}")


def report(router: Router, theirs: dict[tuple[str, str], tuple[int, int, int]],
           args: argparse.Namespace,
           latency: tuple[list[int], list[int]], counts: tuple[int, int], elapsed: float,
           ledger: Ledger) -> None:
    """Print the figures."""
    (decisions, cpu), (resumed, killed) = latency, counts
    execs = [router.execution(f"b{args.seed}-{i}") for i in range(args.orders)]
    status: dict[str, int] = {}
    for ex in execs:
        status[ex.status] = status.get(ex.status, 0) + 1
    comparable = [ex for ex in execs if ex.improvement() is not None]
    no_baseline = sum(1 for ex in execs if ex.decision and ex.decision.baseline is None
                      and ex.status == ParentStatus.FILLED)
    at_least = sum(1 for ex in comparable if ex.improvement() >= 0)
    strictly = sum(1 for ex in comparable if ex.improvement() > 0)
    planned_ok = sum(1 for ex in comparable if ex.decision.restricted_amount == ex.parent.amount
                     and saving(ex.parent.side, ex.decision.restricted_all_in,
                                ex.decision.baseline.all_in) >= 0)
    pct_impr = [ex.improvement() / ex.decision.baseline.all_in * 100 for ex in comparable]
    bps_gap = [abs(ex.all_in - ex.decision.restricted_all_in) / ex.all_in * 10_000
               for ex in execs if ex.decision and ex.status == ParentStatus.FILLED
               and ex.decision.restricted_amount == ex.parent.amount and ex.all_in]
    drops = sum(1 for ex in execs for e in ex.excluded
                if e.exclusion.reason in ("unavailable", "refused"))
    feed = sum(1 for ex in execs for e in ex.excluded
               if e.exclusion.reason in ("stale", "outlier", "no_consensus", "crossed", "empty"))
    ours = {(f.venue, f.order_id): (f.amount, f.cost, f.fee) for ex in execs for f in ex.fills}
    mismatched = sum(1 for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    failed = sum(1 for ex in execs for c in ex.children if c.status == ChildStatus.FAILED)
    multi = sum(1 for ex in execs if len({c.venue for c in ex.children}) > 1)
    n = len(comparable)
    print(f"orders: {len(execs)} in {elapsed:.1f} s wall; status {status}; resumed {resumed}")
    print(f"comparable with a best single venue (filled, baseline exists): {n}; filled with no "
          f"single venue able to fill alone: {no_baseline}; split across venues: {multi}")
    if n:
        print(f"SOR at least as good as the best single venue: {at_least / n:.1%} "
              f"(goal >= 90 %); strictly better: {strictly / n:.1%}; the first plan itself, "
              f"on the arrival books: at least as good {planned_ok / n:.1%}")
        print(f"price improvement vs best single venue: mean {statistics.mean(pct_impr):.4f} % "
              f"(goal >= 0.2 %), median {statistics.median(pct_impr):.4f} %, "
              f"p90 {pct([int(x * 10_000) for x in pct_impr], 0.9) / 10_000:.4f} %")
        drivers(comparable)
        primary = []
        for ex in comparable:  # a desk without routing sends everything to its deepest venue
            deep = [VenueInput(a.venue, a.book, a.fees) for a in ex.arrivals
                    if a.venue == "deepbook"]
            alone = single_venue_costs(ex.parent.side, ex.parent.amount, deep,
                                       symbol=ex.parent.symbol)
            if alone:
                primary.append(saving(ex.parent.side, ex.all_in, alone[0].all_in)
                               / alone[0].all_in * 100)
        if primary:
            print(f"for comparison, vs always the deepest venue (deepbook, its arrival book): "
                  f"mean {statistics.mean(primary):.4f} % over {len(primary)} orders")
    if bps_gap:
        print(f"planned vs realised all-in (filled orders): mean |gap| "
              f"{statistics.mean(bps_gap):.3f} bps, max {max(bps_gap):.3f} bps")
    print(f"decision latency per round (consensus + plan + policy): wall p50 "
          f"{pct(decisions, 0.5) / 1e6:.3f} ms, p99 {pct(decisions, 0.99) / 1e6:.3f} ms "
          f"(goal < 5 ms); CPU p50 {pct(cpu, 0.5) / 1e6:.3f} ms, p99 {pct(cpu, 0.99) / 1e6:.3f} ms")
    p50, p99, c99 = planner_alone(args.seed)
    print(f"planner alone, 3 venues x 50 levels: wall p50 {p50:.3f} ms, p99 {p99:.3f} ms; "
          f"CPU p99 {c99:.3f} ms")
    print(f"failovers: venues killed mid-order {killed} (--fail-rate {args.fail_rate}); "
          f"venues dropped within a parent (down when its books were read, or failing or "
          f"refusing mid-order) {drops}, children failed {failed}, parents held "
          f"unresolved until their venue answered, then resumed: {resumed}; feed exclusions "
          f"{feed}; alerts raised {len(ledger.alerts())} (one per episode)")
    print(f"fills: {len(ours)} venue orders filled in our records, {len(theirs)} in the venues' "
          f"own; orders whose amount/cost/fee differ or are missing on one side: {mismatched}")


if __name__ == "__main__":
    main()
