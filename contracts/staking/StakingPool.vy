# pragma version 0.4.3
"""
@title Strongroom local staking pool (ETH)
@license Apache-2.0
@notice The local stand-in for an institutional staking protocol, so the keeper's staking
        integration runs against real contract behaviour on the fork:
          - deposit ETH into a position (one per deposit, owned by the depositor) that holds
            pool shares; each position is locked for LOCKUP seconds after its deposit;
          - rewards: REWARDER funds a reserve; each full epoch (EPOCH_LENGTH seconds of block
            time since deployment) releases `reward_per_epoch` (set by ADMIN) from the
            reserve into the pool, raising the value of every share (accrued lazily by any
            state-changing call, or by anyone with `accrue`);
          - withdrawal: the owner requests it for some of a position's shares after its lock
            has ended; the shares' value leaves the pool into the unbonding queue and can be
            claimed after UNBONDING seconds. The queue earns no rewards and is slashable;
          - slashing: SLASHER removes at most MAX_SLASH_BPS of (pool + queue) once per
            epoch, pro rata between the pool and the queue, to the immutable SLASH_SINK.
            Each side's cut is rounded down, so neither side is ever emptied by a slash;
          - pause (modules/pausing.vy): GUARDIAN or ADMIN stops deposits, withdrawal
            requests and claims (self-lifting after 7 days); accrual and slashing continue.
        Accounting is share based with two share pools: the pool (`pooled` ETH over
        `total_shares`) and the unbonding queue (`unbonding_assets` ETH over
        `unbonding_units`). Every division rounds down, in favour of whoever stays: a deposit
        mints floor(value * shares / pooled) shares, a withdrawal takes floor(shares * pooled /
        total_shares) ETH, a claim pays floor(units * assets / units_total). The rounding dust
        therefore stays with the remaining holders and the LAST holder out of each pool takes
        all of it (its shares are all the shares), so no wei is ever stranded or created:
        balance == pooled + unbonding_assets + reward_reserve
                == deposited + rewards funded - slashed - claimed
        (ETH forced in with SELFDESTRUCT is a surplus outside these books).
        Least privilege: REWARDER only adds ETH, SLASHER only removes a bounded cut to a
        fixed address, GUARDIAN only pauses, ADMIN (the Timelock) sets the reward rate and the
        roles and moves no ETH. Every refusal reverts, so it changes nothing.
"""

# ---------------------------------------------------------------- interfaces

from ..modules import access
from ..modules import pausing

initializes: access
initializes: pausing

exports: (
    access.roles,
    access.hasRole,
    access.setRoles,
    access.renounceRoles,
    pausing.expirePause,
    pausing.isPaused,
    pausing.pausedUntil,
    pausing.pausableAt,
    pausing.pause_ends,
)

# ---------------------------------------------------------------- events

event Deposited:
    position: indexed(uint256)
    owner: indexed(address)
    amount: uint256
    shares: uint256
    locked_until: uint256
    pooled: uint256
    total_shares: uint256

event WithdrawalRequested:
    request: indexed(uint256)
    position: indexed(uint256)
    owner: indexed(address)
    shares: uint256
    amount: uint256
    units: uint256
    claimable_at: uint256
    pooled: uint256
    total_shares: uint256
    unbonding_assets: uint256
    unbonding_units: uint256

event WithdrawalClaimed:
    request: indexed(uint256)
    owner: indexed(address)
    amount: uint256
    requested: uint256
    unbonding_assets: uint256
    unbonding_units: uint256

event RewardsFunded:
    by: indexed(address)
    amount: uint256
    reserve: uint256

event RewardsAccrued:
    from_epoch: uint256
    to_epoch: uint256
    amount: uint256
    pooled: uint256
    total_shares: uint256

event Slashed:
    by: indexed(address)
    amount: uint256
    pool_amount: uint256
    unbonding_amount: uint256
    pooled: uint256
    total_shares: uint256
    unbonding_assets: uint256
    unbonding_units: uint256

event RewardPerEpochSet:
    amount: uint256

# ---------------------------------------------------------------- constants

# Role bits (keeper/staking/roles.py StakingRole is their Python home).
ADMIN: public(constant(uint256)) = access.ADMIN
REWARDER: public(constant(uint256)) = 2
SLASHER: public(constant(uint256)) = 4
GUARDIAN: public(constant(uint256)) = 8

MAX_SLASH_BPS: public(constant(uint256)) = 1000
BPS: constant(uint256) = 10000
MIN_EPOCH: constant(uint256) = 60
MAX_PERIOD: constant(uint256) = 365 * 86400
# keeps reward_per_epoch * elapsed epochs far from overflow (10**12 ETH per epoch)
MAX_REWARD_PER_EPOCH: public(constant(uint256)) = 10**30

struct Position:
    owner: address
    shares: uint256
    locked_until: uint256

struct Request:
    owner: address
    units: uint256
    amount: uint256
    claimable_at: uint256
    claimed: bool

# ---------------------------------------------------------------- storage

SLASH_SINK: public(immutable(address))
EPOCH_LENGTH: public(immutable(uint256))
LOCKUP: public(immutable(uint256))
UNBONDING: public(immutable(uint256))
GENESIS: public(immutable(uint256))

positions: public(HashMap[uint256, Position])
position_count: public(uint256)
requests: public(HashMap[uint256, Request])
request_count: public(uint256)

pooled: public(uint256)
total_shares: public(uint256)
unbonding_assets: public(uint256)
unbonding_units: public(uint256)
reward_reserve: public(uint256)
reward_per_epoch: public(uint256)
last_epoch: public(uint256)
last_slash_epoch: public(uint256)
slashed_once: public(bool)

# cumulative books (the conservation invariant)
total_deposited: public(uint256)
total_funded: public(uint256)
total_slashed: public(uint256)
total_claimed: public(uint256)

# ---------------------------------------------------------------- constructor

@deploy
def __init__(admin: address, rewarder: address, slasher: address, guardian: address, slash_sink: address, epoch_length: uint256, lockup: uint256, unbonding: uint256):
    """
    @param admin ADMIN (the Timelock): reward rate and roles
    @param rewarder REWARDER: funds the reward reserve
    @param slasher SLASHER: applies slashing events
    @param guardian GUARDIAN: emergency pause
    @param slash_sink Where slashed ETH goes (fixed for the life of the pool)
    @param epoch_length Seconds per reward epoch (at least 60)
    @param lockup Seconds a position is locked after its deposit (at most 365 days)
    @param unbonding Seconds between a withdrawal request and its claim (at most 365 days)
    """
    assert admin != empty(address) and slash_sink != empty(address), "Staking: zero address"
    assert epoch_length >= MIN_EPOCH, "Staking: epoch too short"
    assert lockup <= MAX_PERIOD and unbonding <= MAX_PERIOD, "Staking: period too long"
    SLASH_SINK = slash_sink
    EPOCH_LENGTH = epoch_length
    LOCKUP = lockup
    UNBONDING = unbonding
    GENESIS = block.timestamp
    access._grant(admin, ADMIN)
    access._grant(rewarder, REWARDER)
    access._grant(slasher, SLASHER)
    access._grant(guardian, GUARDIAN)

# ---------------------------------------------------------------- external

@external
@payable
@nonreentrant
def deposit() -> uint256:
    """
    @notice Stake the ETH sent into a new position of the caller, locked for LOCKUP
    @dev Not while paused. Mints floor(value * total_shares / pooled) shares (1:1 in an
         empty pool); refuses a deposit too small to mint one share.
    @return The new position id
    """
    self._check_open()
    self._accrue()
    assert msg.value != 0, "Staking: zero amount"
    shares: uint256 = msg.value
    if self.total_shares != 0:
        shares = msg.value * self.total_shares // self.pooled
    assert shares != 0, "Staking: deposit below one share"
    id: uint256 = self.position_count + 1
    self.position_count = id
    until: uint256 = block.timestamp + LOCKUP
    self.positions[id] = Position(owner=msg.sender, shares=shares, locked_until=until)
    self.pooled += msg.value
    self.total_shares += shares
    self.total_deposited += msg.value
    log Deposited(position=id, owner=msg.sender, amount=msg.value, shares=shares, locked_until=until, pooled=self.pooled, total_shares=self.total_shares)
    return id


@external
@nonreentrant
def requestWithdrawal(position: uint256, shares: uint256) -> uint256:
    """
    @notice Move `shares` of a position out of the pool into the unbonding queue
    @dev Position owner only, after its lock; not while paused. The amount is the shares'
         value now (rounded down); it earns nothing more and may be slashed until claimed.
    @param position Position id
    @param shares Shares to withdraw (at most the position's)
    @return The withdrawal request id (claim it after UNBONDING)
    """
    self._check_open()
    self._accrue()
    p: Position = self.positions[position]
    assert p.owner == msg.sender, "Staking: not position owner"
    assert block.timestamp >= p.locked_until, "Staking: position locked"
    assert shares != 0 and shares <= p.shares, "Staking: bad shares"
    amount: uint256 = shares * self.pooled // self.total_shares
    assert amount != 0, "Staking: withdrawal below one wei"
    units: uint256 = amount
    if self.unbonding_units != 0:
        units = amount * self.unbonding_units // self.unbonding_assets
    self.positions[position].shares = p.shares - shares
    self.pooled -= amount
    self.total_shares -= shares
    self.unbonding_assets += amount
    self.unbonding_units += units
    id: uint256 = self.request_count + 1
    self.request_count = id
    at: uint256 = block.timestamp + UNBONDING
    self.requests[id] = Request(owner=msg.sender, units=units, amount=amount, claimable_at=at, claimed=False)
    log WithdrawalRequested(request=id, position=position, owner=msg.sender, shares=shares, amount=amount, units=units, claimable_at=at, pooled=self.pooled, total_shares=self.total_shares, unbonding_assets=self.unbonding_assets, unbonding_units=self.unbonding_units)
    return id


@external
@nonreentrant
def claim(request: uint256) -> uint256:
    """
    @notice Pay out an unbonded withdrawal request to its owner
    @dev Request owner only, after its claimable time; not while paused. Pays the request's
         units at the queue's current rate: less than requested after a slash.
    @param request Request id
    @return The ETH paid
    """
    self._check_open()
    r: Request = self.requests[request]
    assert r.owner == msg.sender, "Staking: not request owner"
    assert not r.claimed, "Staking: already claimed"
    assert block.timestamp >= r.claimable_at, "Staking: still unbonding"
    pay: uint256 = r.units * self.unbonding_assets // self.unbonding_units
    self.requests[request].claimed = True
    self.unbonding_assets -= pay
    self.unbonding_units -= r.units
    self.total_claimed += pay
    log WithdrawalClaimed(request=request, owner=msg.sender, amount=pay, requested=r.amount, unbonding_assets=self.unbonding_assets, unbonding_units=self.unbonding_units)
    if pay != 0:
        raw_call(msg.sender, b"", value=pay)
    return pay


@external
@payable
def fundRewards():
    """
    @notice Add the ETH sent to the reward reserve (released per epoch)
    @dev REWARDER only. The reserve is only ever paid out as rewards.
    """
    access._check_role(msg.sender, REWARDER, "Staking: not rewarder")
    assert msg.value != 0, "Staking: zero amount"
    self.reward_reserve += msg.value
    self.total_funded += msg.value
    log RewardsFunded(by=msg.sender, amount=msg.value, reserve=self.reward_reserve)


@external
def accrue():
    """
    @notice Release the rewards of the epochs ended since the last accrual into the pool
    @dev Anyone. Epochs with no stakers release nothing (their rewards stay in reserve).
    """
    self._accrue()


@external
def setRewardPerEpoch(amount: uint256):
    """
    @notice Set the ETH released from the reserve per epoch (past epochs accrue first)
    @dev ADMIN only
    @param amount Wei per epoch
    """
    access._check_role(msg.sender, ADMIN, "Staking: not admin")
    assert amount <= MAX_REWARD_PER_EPOCH, "Staking: rate too high"
    self._accrue()
    self.reward_per_epoch = amount
    log RewardPerEpochSet(amount=amount)


@external
@nonreentrant
def slash(amount: uint256):
    """
    @notice Apply a slashing event: remove `amount` pro rata from the pool and the queue
    @dev SLASHER only; once per epoch; at most MAX_SLASH_BPS of pool + queue. Each side's
         cut is rounded down (the event reports what was taken); it goes to SLASH_SINK.
    @param amount Wei to slash
    """
    access._check_role(msg.sender, SLASHER, "Staking: not slasher")
    self._accrue()
    epoch: uint256 = self._epoch()
    assert not self.slashed_once or epoch > self.last_slash_epoch, "Staking: slashed this epoch"
    total: uint256 = self.pooled + self.unbonding_assets
    assert amount != 0 and amount <= total * MAX_SLASH_BPS // BPS, "Staking: bad slash amount"
    from_pool: uint256 = amount * self.pooled // total
    from_queue: uint256 = amount * self.unbonding_assets // total
    taken: uint256 = from_pool + from_queue
    assert taken != 0, "Staking: slash rounds to zero"
    self.pooled -= from_pool
    self.unbonding_assets -= from_queue
    self.total_slashed += taken
    self.last_slash_epoch = epoch
    self.slashed_once = True
    log Slashed(by=msg.sender, amount=taken, pool_amount=from_pool, unbonding_amount=from_queue, pooled=self.pooled, total_shares=self.total_shares, unbonding_assets=self.unbonding_assets, unbonding_units=self.unbonding_units)
    raw_call(SLASH_SINK, b"", value=taken)


@external
def pause():
    """
    @notice Stop deposits, withdrawal requests and claims for at most 7 days
    @dev GUARDIAN (not within the cooldown after its last pause) or ADMIN
    """
    access._check_role(msg.sender, GUARDIAN | ADMIN, "Staking: not guardian")
    pausing._pause(msg.sender, access._has(msg.sender, ADMIN))


@external
def unpause():
    """
    @notice Lift the pause before it expires
    @dev ADMIN, or the GUARDIAN that started it
    """
    access._check_role(msg.sender, GUARDIAN | ADMIN, "Staking: not guardian")
    pausing._unpause(msg.sender, access._has(msg.sender, ADMIN))


@view
@external
def epoch() -> uint256:
    """
    @notice The current epoch number (full EPOCH_LENGTH periods since deployment)
    """
    return self._epoch()


@view
@external
def previewValue(shares: uint256) -> uint256:
    """
    @notice What `shares` would withdraw now (rounded down), pending accrual excluded
    @param shares Pool shares
    """
    if self.total_shares == 0:
        return 0
    return shares * self.pooled // self.total_shares


@view
@external
def previewClaim(request: uint256) -> uint256:
    """
    @notice What claiming `request` would pay now (0 once claimed)
    @param request Request id
    """
    r: Request = self.requests[request]
    if r.claimed or self.unbonding_units == 0:
        return 0
    return r.units * self.unbonding_assets // self.unbonding_units

# ---------------------------------------------------------------- internal

@view
@internal
def _epoch() -> uint256:
    return (block.timestamp - GENESIS) // EPOCH_LENGTH


@view
@internal
def _check_open():
    assert not pausing._is_paused(), "Staking: paused"


@internal
def _accrue():
    # Release reward_per_epoch per ended epoch since the last accrual (capped by the reserve).
    now: uint256 = self._epoch()
    last: uint256 = self.last_epoch
    if now <= last:
        return
    self.last_epoch = now
    if self.total_shares == 0:
        return
    amount: uint256 = min(self.reward_reserve, self.reward_per_epoch * (now - last))
    if amount == 0:
        return
    self.reward_reserve -= amount
    self.pooled += amount
    log RewardsAccrued(from_epoch=last, to_epoch=now, amount=amount, pooled=self.pooled, total_shares=self.total_shares)
