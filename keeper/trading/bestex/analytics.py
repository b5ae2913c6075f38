"""Best-execution analytics: a pure function from an :class:`ExecutionRecord` to an
:class:`OrderReport`, and :func:`summarise` over many (FR-021, SC-014, SC-017).

Units and arithmetic: money is integer minor units of the market's quote currency; prices are in
quote minor units per *whole* base unit (as in ``keeper.trading.types``); ratios (prices that are
averages, basis points, shares) are exact :class:`fractions.Fraction` values, never floats. They
are rounded only for display by :func:`fixed` (half away from zero). Signs: a positive slippage
is *adverse* to the client, a positive improvement or compliance cost is money.

Definitions (Q: the quantity filled, base minor units):

* **arrival price**: the median (exact; the mean of the two middle values for an even count) of
  the mids at the first decision (``mid_of``: floor of best bid and ask's mean) of the *trusted*
  arrival books, whether or not the policy allowed the venue (the market's price is the market's);
* **VWAP**: sum(amount x price) / Q over the fills, exact;
* **all-in price**: the all-in money (buy: cost + fees paid; sell: cost - fees received) per whole
  base unit;
* **slippage vs arrival** (bps): (VWAP - arrival) / arrival x 10,000 for a buy, the opposite for a
  sell; **all-in slippage** the same with the all-in price (fees included);
* **slippage vs mid** (bps): VWAP against the fill-weighted mean of the arrival mids of the venues
  each fill executed on (what the venues used were quoting);
* **each venue alone**: Q walked through that venue's arrival book within the limit price (the
  router's ``walk``: floor per level), plus its taker fee (``fee_for``, ceiling);
* **best single venue** (the baseline): the venue alone with the best all-in for the whole Q,
  among trusted venues the policy allowed; a venue whose depth cannot fill Q is not a candidate;
  none: no baseline and the order is not compared (for a complete fill this is the router's own
  baseline: the whole amount, the same books, fees, no latency penalty);
* **price improvement**: baseline all-in minus ours for a buy (ours minus baseline for a sell), in
  quote minor units, and in bps of the baseline's all-in;
* **cost of compliance**: when the best venue alone among *all* trusted venues was one the policy
  refused, how much better it was than the baseline (quote minor units); beside it, routing's own
  planned cost of its policy blocks (``ExecutionRecord.compliance_cost``);
* **limit breaches**: fills at a price worse than the order's limit price (a venue or routing
  fault), listed so the report shows them rather than refusing the order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from keeper.trading.bestex.record import ExecutionRecord, RecordError
from keeper.trading.routing import all_in, mid_of, saving, walk
from keeper.trading.types import MARKETS, Fill, Market, ParentOrder, Side, fee_for

BPS = 10_000


def fixed(value: Fraction | int, places: int) -> str:
    """``value`` as a decimal string with ``places`` decimals, rounded half away from zero."""
    scaled = Fraction(value) * 10**places
    n = (abs(scaled.numerator) * 2 + scaled.denominator) // (2 * scaled.denominator)
    sign = "-" if scaled < 0 and n else ""
    if places == 0:
        return f"{sign}{n}"
    return f"{sign}{n // 10**places}.{n % 10**places:0{places}d}"


def money(minor: int, market: Market) -> str:
    """Quote minor units as ``USD 1,234.56`` (exact)."""
    d = market.quote_decimals
    sign, minor = ("-", -minor) if minor < 0 else ("", minor)
    whole, frac = divmod(minor, 10**d)
    return f"{sign}{market.quote} {whole:,}" + (f".{frac:0{d}d}" if d else "")


def _bps(delta: Fraction, reference: Fraction) -> Fraction:
    return delta * BPS / reference


@dataclass(frozen=True)
class VenueRow:
    """One venue in the comparison: its arrival quote, what we did there, and what it alone would
    have cost for the quantity filled (``alone_*``; ``alone_complete``: its depth covered it)."""

    venue: str
    status: str  # "used", "allowed", "blocked" (policy), "untrusted" (price checks)
    note: str
    best_bid: int | None
    best_ask: int | None
    mid: int | None
    taker_ppm: int
    filled: int
    notional: int
    fee: int
    share: Fraction
    alone_filled: int
    alone_notional: int
    alone_fee: int
    alone_all_in: int
    alone_complete: bool


@dataclass(frozen=True)
class OrderReport:
    """The best-execution figures of one parent order (see the module docstring)."""

    parent: ParentOrder
    market: Market
    filled: int
    notional: int
    fees: int
    all_in: int
    arrival_mid: Fraction | None
    vwap: Fraction | None
    all_in_price: Fraction | None
    slippage_vs_arrival_bps: Fraction | None
    all_in_slippage_vs_arrival_bps: Fraction | None
    slippage_vs_mid_bps: Fraction | None
    fee_bps: Fraction | None
    venues: tuple[VenueRow, ...]
    baseline: str | None
    improvement: int | None
    improvement_bps: Fraction | None
    best_overall: str | None
    forbidden_best: str | None
    compliance_cost: int | None
    routed_compliance_cost: int | None
    record: ExecutionRecord
    limit_breaches: tuple[Fill, ...] = ()

    @property
    def beats_baseline(self) -> bool | None:
        """Whether routing did strictly better than the best single venue (None: not compared)."""
        return None if self.improvement is None else self.improvement > 0


def _validate(record: ExecutionRecord) -> Market:
    p = record.parent
    if not isinstance(p.symbol, str) or p.symbol not in MARKETS:
        raise RecordError(f"parent.symbol: unknown market {p.symbol!r}")
    seen: set[str] = set()
    for a in record.arrivals:
        if a.venue in seen:
            raise RecordError(f"arrivals: venue {a.venue!r} appears twice")
        seen.add(a.venue)
        if a.book.symbol != p.symbol:
            raise RecordError(f"arrivals.{a.venue}: book of {a.book.symbol!r}, not {p.symbol}")
    for i, f in enumerate(record.fills):
        if f.symbol != p.symbol or f.side != p.side:
            raise RecordError(f"fills.{i}: {f.side} {f.symbol!r} does not match the parent")
        if (
            any(type(x) is not int for x in (f.amount, f.price, f.cost, f.fee))
            or f.amount <= 0
            or f.price <= 0
            or f.cost < 0
            or f.fee < 0
        ):
            raise RecordError(
                f"fills.{i}: amount and price must be positive integers, cost and fee not negative"
            )
    if sum(f.amount for f in record.fills) > p.amount:
        raise RecordError("fills: more was filled than the parent's amount")
    return MARKETS[p.symbol]


def _beyond(side: Side, price: int, limit: int | None) -> bool:
    """Whether ``price`` is worse for the client than the order's ``limit``."""
    return limit is not None and (price > limit if side is Side.BUY else price < limit)


def _better(side: Side, rows: Iterable[VenueRow]) -> VenueRow | None:
    candidates = [r for r in rows if r.alone_complete]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (r.alone_all_in if side is Side.BUY else -r.alone_all_in, r.venue))


def _venue_rows(record: ExecutionRecord, target: int, filled: int) -> list[VenueRow]:
    """The comparison rows: every arrival venue (walked for ``target``), then any venue that filled
    without an arrival book (a venue that joined in a later round: nothing to compare alone)."""
    p, side = record.parent, record.parent.side
    blocked = {b.venue: b for b in record.blocked}
    rows = []
    for a in record.arrivals:
        on = [f for f in record.fills if f.venue == a.venue]
        if not a.trusted:
            details = [e.detail or e.reason for e in record.excluded if e.venue == a.venue and e.round == 0]
            status, note = "untrusted", "; ".join(details) or "price checks"
        elif a.venue in blocked:
            status, note = "blocked", f"{blocked[a.venue].rule}: {blocked[a.venue].reason}"
        else:
            status, note = ("used" if on else "allowed"), ""
        got, notional = walk(a.book, side, target, symbol=p.symbol, limit_price=p.limit_price)
        fee = fee_for(notional, a.fees.taker_ppm)
        bid = a.book.bids[0].price if a.book.bids else None
        ask = a.book.asks[0].price if a.book.asks else None
        rows.append(
            _row(
                a.venue,
                status,
                note,
                (bid, ask, mid_of(a.book)),
                a.fees.taker_ppm,
                on,
                filled,
                (got, notional, fee, all_in(side, notional, fee), got == target),
            )
        )
    known = {a.venue for a in record.arrivals}
    for venue in sorted({f.venue for f in record.fills} - known):
        on = [f for f in record.fills if f.venue == venue]
        rows.append(
            _row(venue, "used", "no arrival book", (None, None, None), 0, on, filled, (0, 0, 0, 0, False))
        )
    return rows


def _row(
    venue: str,
    status: str,
    note: str,
    quote: tuple[int | None, int | None, int | None],
    taker_ppm: int,
    on: list[Fill],
    filled: int,
    alone: tuple[int, int, int, int, bool],
) -> VenueRow:
    v_filled = sum(f.amount for f in on)
    return VenueRow(
        venue,
        status,
        note,
        *quote,
        taker_ppm,
        v_filled,
        sum(f.cost for f in on),
        sum(f.fee for f in on),
        Fraction(v_filled, filled) if filled else Fraction(0),
        *alone,
    )


def analyse(record: ExecutionRecord) -> OrderReport:
    """The best-execution report of ``record`` (pure; :class:`RecordError` if it is inconsistent)."""
    market = _validate(record)
    p, side, scale = record.parent, record.parent.side, 10**market.base_decimals
    filled = sum(f.amount for f in record.fills)
    notional = sum(f.cost for f in record.fills)
    fees = sum(f.fee for f in record.fills)
    paid = all_in(side, notional, fees)
    rows = _venue_rows(record, filled if filled > 0 else p.amount, filled)
    mids = sorted(r.mid for r in rows if r.status != "untrusted" and r.mid is not None)
    arrival = None
    if mids:
        n = len(mids)
        arrival = Fraction(mids[n // 2]) if n % 2 else Fraction(mids[n // 2 - 1] + mids[n // 2], 2)
    vwap = all_in_price = slip = slip_all = slip_mid = fee_bps = None
    sign = 1 if side is Side.BUY else -1
    if filled:
        vwap = Fraction(sum(f.amount * f.price for f in record.fills), filled)
        all_in_price = Fraction(paid * scale, filled)
        if notional:
            fee_bps = _bps(Fraction(fees), Fraction(notional))
        if arrival:
            slip = _bps(sign * (vwap - arrival), arrival)
            slip_all = _bps(sign * (all_in_price - arrival), arrival)
        mid_by_venue = {r.venue: r.mid for r in rows}
        if all(mid_by_venue.get(f.venue) for f in record.fills):
            ref = Fraction(sum(f.amount * mid_by_venue[f.venue] for f in record.fills), filled)  # type: ignore[misc]
            slip_mid = _bps(sign * (vwap - ref), ref)
    eligible = [r for r in rows if r.status in ("used", "allowed")]
    base = _better(side, eligible) if filled else None
    overall = _better(side, [r for r in rows if r.status != "untrusted"]) if filled else None
    improvement = improvement_bps = None
    if base is not None:
        improvement = saving(side, paid, base.alone_all_in)
        if base.alone_all_in:
            improvement_bps = _bps(Fraction(improvement), Fraction(base.alone_all_in))
    forbidden = overall.venue if overall is not None and overall.status == "blocked" else None
    cost = None
    if forbidden is not None and overall is not None:
        cost = saving(side, overall.alone_all_in, base.alone_all_in) if base is not None else None
    return OrderReport(
        p,
        market,
        filled,
        notional,
        fees,
        paid,
        arrival,
        vwap,
        all_in_price,
        slip,
        slip_all,
        slip_mid,
        fee_bps,
        tuple(rows),
        base.venue if base else None,
        improvement,
        improvement_bps,
        overall.venue if overall else None,
        forbidden,
        cost,
        record.compliance_cost,
        record,
        tuple(f for f in record.fills if _beyond(side, f.price, p.limit_price)),
    )


@dataclass(frozen=True)
class Summary:
    """Aggregates over many orders of one quote currency (the compliance report's figures).

    ``compared``: orders with a baseline; ``share_beating``: of those, the share where routing
    did strictly better than the best single venue (SC-014); ``mean_improvement_bps``: the mean of
    their improvements in bps (SC-017), ``weighted_improvement_bps``: the total improvement over
    the total baseline all-in; ``forbidden_best``: orders whose best venue alone was one the policy
    refused, and what that cost (``compliance_cost``) beside routing's planned cost."""

    quote: str
    orders: int
    filled_orders: int
    compared: int
    beating: int
    tied: int
    share_beating: Fraction | None
    mean_improvement_bps: Fraction | None
    weighted_improvement_bps: Fraction | None
    total_improvement: int
    mean_slippage_vs_arrival_bps: Fraction | None
    fees: int
    all_in: int
    forbidden_best: int
    compliance_cost: int
    routed_compliance_cost: int
    limit_breach_orders: int


def _mean(values: Sequence[Fraction]) -> Fraction | None:
    return sum(values, Fraction(0)) / len(values) if values else None


def in_period(
    reports: Iterable[OrderReport], start_ms: int | None = None, end_ms: int | None = None
) -> list[OrderReport]:
    """The ``reports`` whose parent was created in ``[start_ms, end_ms)`` (either bound optional)."""
    return [
        r
        for r in reports
        if (start_ms is None or r.parent.created_at >= start_ms)
        and (end_ms is None or r.parent.created_at < end_ms)
    ]


def summarise(
    reports: Sequence[OrderReport], start_ms: int | None = None, end_ms: int | None = None
) -> dict[str, Summary]:
    """Per quote currency, the aggregates of the ``reports`` :func:`in_period`."""
    groups: dict[str, list[OrderReport]] = {}
    for r in in_period(reports, start_ms, end_ms):
        groups.setdefault(r.market.quote, []).append(r)
    out = {}
    for quote, rs in sorted(groups.items()):
        compared = [r for r in rs if r.improvement is not None]
        baseline_total = sum(
            r.all_in + (r.improvement or 0) if r.parent.side is Side.BUY else r.all_in - (r.improvement or 0)
            for r in compared
        )
        total_improvement = sum(r.improvement or 0 for r in compared)
        out[quote] = Summary(
            quote,
            len(rs),
            sum(1 for r in rs if r.filled),
            len(compared),
            sum(1 for r in compared if r.beats_baseline),
            sum(1 for r in compared if r.improvement == 0),
            Fraction(sum(1 for r in compared if r.beats_baseline), len(compared)) if compared else None,
            _mean([r.improvement_bps for r in compared if r.improvement_bps is not None]),
            _bps(Fraction(total_improvement), Fraction(baseline_total)) if baseline_total else None,
            total_improvement,
            _mean([r.slippage_vs_arrival_bps for r in rs if r.slippage_vs_arrival_bps is not None]),
            sum(r.fees for r in rs),
            sum(r.all_in for r in rs),
            sum(1 for r in rs if r.forbidden_best),
            sum(r.compliance_cost or 0 for r in rs),
            sum(r.routed_compliance_cost or 0 for r in rs),
            sum(1 for r in rs if r.limit_breaches),
        )
    return out


@dataclass(frozen=True)
class VenueUsage:
    """One venue over a period (per quote currency): the orders it filled, its ``notional`` and
    ``share`` of the period's notional, its fees, and how often it was the best venue alone
    (``best_alone``, any venue), the baseline (the best the policy allowed), refused by the
    policy (``blocked``) or excluded by the price checks (``untrusted``)."""

    quote: str
    venue: str
    orders_used: int
    notional: int
    share: Fraction
    fees: int
    best_alone: int
    baseline: int
    blocked: int
    untrusted: int


def venue_usage(
    reports: Sequence[OrderReport], start_ms: int | None = None, end_ms: int | None = None
) -> list[VenueUsage]:
    """Per quote currency and venue (sorted), the venue comparison of the reports :func:`in_period`."""
    acc: dict[tuple[str, str], list[int]] = {}
    totals: dict[str, int] = {}
    for r in in_period(reports, start_ms, end_ms):
        quote = r.market.quote
        totals[quote] = totals.get(quote, 0) + r.notional
        for v in r.venues:
            a = acc.setdefault((quote, v.venue), [0] * 7)
            a[0] += 1 if v.filled else 0
            a[1] += v.notional
            a[2] += v.fee
            a[3] += 1 if r.best_overall == v.venue else 0
            a[4] += 1 if r.baseline == v.venue else 0
            a[5] += 1 if v.status == "blocked" else 0
            a[6] += 1 if v.status == "untrusted" else 0
    return [
        VenueUsage(q, v, a[0], a[1], Fraction(a[1], totals[q]) if totals[q] else Fraction(0), *a[2:])
        for (q, v), a in sorted(acc.items())
    ]
