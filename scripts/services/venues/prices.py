"""The reference price every venue quotes around, and a venue's synthetic maker ladder.

The reference is a seeded random walk on a one-second grid, the same for every venue given the
seed, addressable at any absolute time in O(1) after a per-day computation: a slow mean-reverting
walk fixes each UTC day's opening deviation, and within a day a Brownian bridge (integer steps)
joins one opening to the next. Deviations are integer parts per million of the symbol's start
price, so every price is an integer (quote minor units per whole base unit), never a float.

A venue's makers quote a ladder around the venue's own mid, ``levels`` a side, each level worth
about ``level_notional`` quote minor units. The mid is the reference plus two seeded per-venue
terms: a persistent *basis* (:func:`venue_basis`: real venues do not quote one shared price; a
mean-reverting deviation of ``basis_ppm`` standard deviation and ``basis_halflife_ms`` half-life,
see :mod:`.profile` for the sizes and their sources) and a re-quote *noise* (uniform
``+-noise_ppm``, drawn afresh each ``requote_ms``).
"""

from __future__ import annotations

import random
from functools import lru_cache
from itertools import accumulate
from operator import mul

from keeper.trading.types import MARKETS, Level
from scripts.services.venues.profile import VenueProfile

STEP_MS = 1_000
DAY_MS = 86_400_000
STEPS_PER_DAY = DAY_MS // STEP_MS
START_PRICES: dict[str, int] = {  # quote minor units (US cents) per whole base unit
    "BTC/USD": 6_000_000, "ETH/USD": 300_000, "USDC/USD": 100, "USDT/USD": 100}
VOLATILITY_PPM: dict[str, int] = {"BTC/USD": 170, "ETH/USD": 200, "USDC/USD": 2, "USDT/USD": 3}
DAILY_PPM: dict[str, int] = {"BTC/USD": 30_000, "ETH/USD": 35_000, "USDC/USD": 300, "USDT/USD": 500}
_MEAN_REVERSION_DAYS = 20
FIRST_DAY = 18_262  # 2020-01-01: the daily walk starts there (earlier days open at 0)


@lru_cache(maxsize=64)
def _day_opens(seed: int, symbol: str, last_day: int) -> tuple[int, ...]:
    """Opening deviation (ppm) of every day from :data:`FIRST_DAY` to ``last_day`` + 1 (a
    mean-reverting daily walk)."""
    rng = random.Random(f"ref-days:{seed}:{symbol}")
    daily = DAILY_PPM[symbol]
    out, x = [], 0
    for _ in range(last_day - FIRST_DAY + 2):
        out.append(x)
        x = x - x // _MEAN_REVERSION_DAYS + rng.getrandbits(32) % (2 * daily + 1) - daily
    return tuple(out)


def _day_open(seed: int, symbol: str, day: int) -> int:
    day = max(day, FIRST_DAY)
    chunk = FIRST_DAY + ((day - FIRST_DAY) // 1024 + 1) * 1024  # consecutive days share one walk
    return _day_opens(seed, symbol, chunk)[day - FIRST_DAY]


@lru_cache(maxsize=32)
def _day_path(seed: int, symbol: str, day: int) -> tuple[int, ...]:
    """Deviation (ppm) at every second of ``day``: a bridge from its open to the next day's.

    Each step is a seeded byte mapped to an integer in [-vol, vol] (255 -> 0: symmetric)."""
    rng = random.Random(f"ref-day:{seed}:{symbol}:{day}")
    vol = VOLATILITY_PPM[symbol]
    table = [(b - 127) * vol // 127 if b < 255 else 0 for b in range(256)]
    walk = list(accumulate(map(table.__getitem__, rng.randbytes(STEPS_PER_DAY)), initial=0))
    start, end = _day_open(seed, symbol, day), _day_open(seed, symbol, day + 1)
    gap = end - start - walk[-1]
    return tuple(start + walk[k] + gap * k // STEPS_PER_DAY for k in range(STEPS_PER_DAY))


def reference_price(seed: int, symbol: str, now_ms: int) -> int:
    """The reference price of ``symbol`` at ``now_ms`` (same for every venue under ``seed``)."""
    if now_ms < 0:
        raise ValueError("time before the epoch")
    day, ms = divmod(now_ms, DAY_MS)
    deviation = _day_path(seed, symbol, day)[ms // STEP_MS]
    return max(1, START_PRICES[symbol] * (1_000_000 + deviation) // 1_000_000)


_BASIS_BLOCK = 4_096  # one-second basis innovations drawn per seeded block
_BASIS_SHIFT = 20     # fixed-point bits of the basis weights
_BASIS_HALFLIVES = 8  # the moving sum keeps 8 half-lives of innovations (weights down to 1/256)


@lru_cache(maxsize=256)
def _basis_innovations(seed: int, venue: str, symbol: str, block: int) -> tuple[int, ...]:
    """The basis innovations (integers in [-127, 127], symmetric) of one block of seconds."""
    rng = random.Random(f"basis:{seed}:{venue}:{symbol}:{block}")
    return tuple(b - 127 if b < 255 else 0 for b in rng.randbytes(_BASIS_BLOCK))


@lru_cache(maxsize=64)
def _basis_weights(basis_ppm: int, halflife_ms: int) -> tuple[int, ...]:
    """Fixed-point weights ``w_k`` (newest first) of the AR(1) written as a moving sum:
    ``basis_t = sum_k w_k * e_(t-k)``, ``w_k = sigma_e * phi**k`` with ``phi = 2**(-1 s /
    half-life)`` and ``sigma_e`` such that the stationary standard deviation is ``basis_ppm``
    (innovations uniform on [-1, 1]: variance 1/3). The float only builds this integer table; every
    price stays an integer."""
    phi = 0.5 ** (STEP_MS / halflife_ms)
    terms = max(1, _BASIS_HALFLIVES * halflife_ms // STEP_MS)
    sigma_e = basis_ppm * (3 * (1 - phi * phi)) ** 0.5
    return tuple(round(sigma_e * phi**k * 2**_BASIS_SHIFT / 127) for k in range(terms))


def venue_basis(seed: int, profile: VenueProfile, symbol: str, now_ms: int) -> int:
    """The venue's basis (ppm of the reference) at ``now_ms``: a seeded, stationary,
    mean-reverting (AR(1) on a one-second grid) deviation with standard deviation
    ``profile.basis_ppm`` and half-life ``profile.basis_halflife_ms``; 0 when ``basis_ppm`` is 0.
    O(8 half-lives) per call, addressable at any time."""
    if profile.basis_ppm == 0:
        return 0
    weights = _basis_weights(profile.basis_ppm, profile.basis_halflife_ms)
    t = now_ms // STEP_MS
    first = t - len(weights) + 1
    e: list[int] = []
    for block in range(first // _BASIS_BLOCK, t // _BASIS_BLOCK + 1):
        chunk = _basis_innovations(seed, profile.name, symbol, block)
        lo = max(first - block * _BASIS_BLOCK, 0)
        hi = min(t - block * _BASIS_BLOCK, _BASIS_BLOCK - 1) + 1
        e.extend(chunk[lo:hi])
    e.reverse()  # newest first, as the weights
    total = sum(map(mul, weights, e))
    return total >> _BASIS_SHIFT if total >= 0 else -((-total) >> _BASIS_SHIFT)


def venue_mid(seed: int, profile: VenueProfile, symbol: str, now_ms: int) -> int:
    """The venue's own mid at the re-quote step holding ``now_ms``: the reference plus its basis
    plus its re-quote noise."""
    step = now_ms // profile.requote_ms
    step_ms = step * profile.requote_ms
    noise = random.Random(f"mid:{seed}:{profile.name}:{symbol}:{step}").randint(
        -profile.noise_ppm, profile.noise_ppm)
    basis = venue_basis(seed, profile, symbol, step_ms)
    ref = reference_price(seed, symbol, step_ms)
    return max(2, ref * (1_000_000 + noise + basis) // 1_000_000)


def maker_ladder(seed: int, profile: VenueProfile, symbol: str, now_ms: int
                 ) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """(bids best first, asks best first) the venue's makers post at ``now_ms``.

    Levels are strictly monotone (at least one minor unit apart) and each holds about
    ``level_notional`` quote minor units (80-120%, seeded per level and step).
    """
    market = MARKETS[symbol]
    mid = venue_mid(seed, profile, symbol, now_ms)
    step = now_ms // profile.requote_ms
    rng = random.Random(f"ladder:{seed}:{profile.name}:{symbol}:{step}")
    half = mid * profile.spread_ppm // 2_000_000
    bids: list[Level] = []
    asks: list[Level] = []
    bid = min(mid - half, mid - 1) if half else mid - 1
    ask = max(mid + half, mid + 1) if half else mid
    ask = max(ask, bid + 1)
    gap = max(1, mid * profile.level_step_ppm // 1_000_000)
    unit = 10**market.base_decimals
    for i in range(profile.levels):
        b, a = bid - i * gap, ask + i * gap
        if b >= 1:
            size = profile.level_notional * rng.randint(80, 120) // 100
            bids.append(Level(b, max(1, size * unit // b)))
        size = profile.level_notional * rng.randint(80, 120) // 100
        asks.append(Level(a, max(1, size * unit // a)))
    return tuple(bids), tuple(asks)
