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
        Gas: a window's state is one slot, and buckets live in a ring of SPAN slots that
        are reused (each tagged with its hour), so steady-state writes never pay for a
        fresh slot.
"""

# ---------------------------------------------------------------- constants

HOUR: constant(uint256) = 3600
SPAN: constant(uint256) = 25
TOTAL_BITS: constant(uint256) = 192
TOTAL_MASK: constant(uint256) = 2**192 - 1

# ---------------------------------------------------------------- storage

# per window: last hour used << TOTAL_BITS | total counted at that hour
windows: HashMap[uint256, uint256]
# per window: ring slot (hour % SPAN) -> hour << TOTAL_BITS | amount recorded in that hour
buckets: HashMap[uint256, HashMap[uint256, uint256]]

# ---------------------------------------------------------------- internal

@view
@internal
def _used(key: uint256) -> uint256:
    # Amount counted in window `key` now.
    packed: uint256 = self.windows[key]
    last: uint256 = packed >> TOTAL_BITS
    total: uint256 = packed & TOTAL_MASK
    now_h: uint256 = block.timestamp // HOUR
    if now_h == last:
        return total
    if now_h >= last + SPAN:
        return 0
    # buckets last + 1 - SPAN .. now_h - SPAN fell out of the window
    for i: uint256 in range(SPAN):
        h: uint256 = last + 1 + i
        if h > now_h:
            break
        total -= self._bucket(key, h - SPAN)
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
    assert total <= TOTAL_MASK, "window: total too large"
    now_h: uint256 = block.timestamp // HOUR
    self.windows[key] = (now_h << TOTAL_BITS) | total
    self.buckets[key][now_h % SPAN] = (now_h << TOTAL_BITS) | (self._bucket(key, now_h) + amount)


@view
@internal
def _bucket(key: uint256, hour: uint256) -> uint256:
    # Amount recorded in `hour`; 0 if its ring slot holds another (older) hour.
    packed: uint256 = self.buckets[key][hour % SPAN]
    if packed >> TOTAL_BITS != hour:
        return 0
    return packed & TOTAL_MASK
