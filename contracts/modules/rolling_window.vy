# pragma version 0.4.3
"""
@title Rolling 24 h outflow windows
@license Apache-2.0
@notice One home for "at most L per 24 hours" rules. Each window (a uint256 key) records
        amounts in hourly buckets and counts the current hour plus the SPAN - 1 hours
        before it. Because the oldest counted bucket starts up to one hour more than 24 h
        ago, the amount in ANY 24 h interval never exceeds the limit (no 2x around a day
        boundary); capacity returns at most 25 h after it was used. Rolling costs at
        most one storage read per hour that passed since the window was last used.
"""

# ---------------------------------------------------------------- constants

HOUR: constant(uint256) = 3600
SPAN: constant(uint256) = 25

struct Window:
    hour: uint256
    total: uint256

# ---------------------------------------------------------------- storage

windows: HashMap[uint256, Window]
buckets: HashMap[uint256, HashMap[uint256, uint256]]

# ---------------------------------------------------------------- internal

@view
@internal
def _used(key: uint256) -> uint256:
    # Amount counted in window `key` now.
    w: Window = self.windows[key]
    now_h: uint256 = block.timestamp // HOUR
    if now_h == w.hour:
        return w.total
    if now_h >= w.hour + SPAN:
        return 0
    total: uint256 = w.total
    # buckets w.hour + 1 - SPAN .. now_h - SPAN fell out of the window
    for i: uint256 in range(SPAN):
        h: uint256 = w.hour + 1 + i
        if h > now_h:
            break
        total -= self.buckets[key][h - SPAN]
    return total


@internal
def _consume(key: uint256, amount: uint256, limit: uint256) -> bool:
    # Count `amount` if it fits under `limit`; False (and nothing written) if it does not.
    total: uint256 = self._used(key) + amount
    if total > limit:
        return False
    self._record(key, total, amount)
    return True


@internal
def _add(key: uint256, amount: uint256):
    # Count `amount` unconditionally (usage carried over from a predecessor).
    self._record(key, self._used(key) + amount, amount)


@internal
def _record(key: uint256, total: uint256, amount: uint256):
    now_h: uint256 = block.timestamp // HOUR
    self.windows[key] = Window(hour=now_h, total=total)
    self.buckets[key][now_h] += amount
