# pragma version 0.4.3
"""
@title Strongroom omnibus custody vault
@license Apache-2.0
@notice Hot-tier omnibus vault for ETH (token == empty(address)), USDC and USDT.
        Customer balances live in the off-chain sub-ledger; this contract enforces the
        on-chain controls of spec 7.4/7.5:
          - outflows only to addresses that are *active* on the Whitelist contract;
          - ONE vault-wide USD outflow limit over a rolling 24 h window (withdrawals and
            sweeps to non-cold tiers together). USD amounts are integer micro-USD
            (1 USD = 10**6, so USDC/USDT base units at face value); a token's outflow is
            valued at its governance-set price (micro-USD per whole token) rounded up.
            Stablecoins are priced at face value (bounds 1 USD..1 USD); ETH has a price
            PRICER may move within governance-set bounds, so at worst
            limit / price_min ETH leave in 24 h;
          - a per-token transaction cap (base units);
          - a per-token instant budget (base units per rolling 24 h): a withdrawal above
            the queue threshold, or one that no longer fits the instant budget, is queued
            and executable only after WITHDRAWAL_DELAY (24 h), so splitting a large
            amount into small ones queues the rest; COMPLIANCE_OFFICER can cancel queued
            withdrawals, anyone can expire them after WITHDRAWAL_GRACE;
          - emergency pause by PAUSER (the 2-of-3 pauser Multisig) for at most
            PAUSE_DURATION (7 days); ADMIN may pause and unpause at any time, PAUSER may
            lift its own pause and may not pause again until PAUSE_COOLDOWN after the
            last pause ended (expired or lifted), so it cannot freeze the vault forever;
            every end of a pause is an event (Unpaused, or PauseExpired via `expirePause`);
          - sweeps hot -> warm/cold go only to governance-set tier addresses that are
            also active on the Whitelist. Sweeps to cold (TIER_COLD) have their own USD
            budget and stay possible while paused, so funds can always be evacuated;
          - roles: ADMIN (the Timelock) sets parameters and roles; COMPLIANCE_OFFICER
            cancels queued withdrawals; TREASURY withdraws and sweeps to every tier;
            PAUSER pauses; CUSTOMER withdraws; PRICER moves prices within their bounds;
            SWEEPER (the keeper's automated daily sweep key) may ONLY sweep to TIER_COLD:
            no withdrawal, no warm sweep, no parameter, so the worst a stolen SWEEPER
            key can do is move hot funds into cold custody within the cold budget;
          - every parameter or role change is ADMIN-only; ADMIN is the Timelock
            (48 h delay, proposals by the 3-of-5 cold Multisig).
        Role bits and ERC-20 calls come from the shared modules (contracts/modules).
        Fee-on-transfer tokens: events report both what left the vault (`amount`, which
        also counts toward limits) and what the recipient received (`received`, measured).
        Upgrade path: migration, not a proxy. A new Vault version is deployed with this
        one as its predecessor, put on the Whitelist (24 h activation) and the Timelock
        executes `migrate` (3-of-5 cold Multisig, 48 h delay), which moves every balance
        to the new vault, hands over the USD window's usage and retires this one;
        `rescue` forwards anything left behind or arriving later to that successor only.
        The successor accepts migration ETH only from its predecessor and refuses op ids
        any predecessor used. Each version stays immutable and independently verifiable
        (scripts/verify.py), without delegatecall-proxy storage hazards.
"""

# ---------------------------------------------------------------- interfaces

from modules import access
from modules import pausing
from modules import rolling_window
from modules import safe_erc20

initializes: access
initializes: pausing
initializes: rolling_window

exports: (
    access.roles,
    access.hasRole,
    access.setRoles,
    access.renounceRoles,
    pausing.expirePause,
    pausing.isPaused,
    pausing.pausedUntil,
    pausing.pausableAt,
    pausing.paused_at,
    pausing.pause_ends,
    pausing.paused_by,
    pausing.pause_open,
)


interface IWhitelist:
    def isActive(account: address) -> bool: view


interface IMigrationTarget:
    def receiveMigration(): payable


interface IPredecessor:
    def opIdUsed(op_id: bytes32) -> bool: view
    def outflowUsd() -> uint256: view

# ---------------------------------------------------------------- events

# FIXED ABI: consumed by the keeper's chain follower.
event Deposit:
    token: indexed(address)
    sender: indexed(address)
    client_ref: indexed(bytes32)
    amount: uint256

event Withdrawal:
    op_id: indexed(bytes32)
    token: indexed(address)
    to: indexed(address)
    amount: uint256
    received: uint256

event Sweep:
    token: indexed(address)
    to: indexed(address)
    amount: uint256
    tier: uint8
    received: uint256

event WithdrawalQueued:
    op_id: indexed(bytes32)
    token: indexed(address)
    to: indexed(address)
    amount: uint256
    eta: uint256

event WithdrawalCancelled:
    op_id: indexed(bytes32)
    by: indexed(address)

event WithdrawalExpired:
    op_id: indexed(bytes32)

event Migrated:
    new_vault: indexed(address)
    token: indexed(address)
    amount: uint256

event MigrationReceived:
    sender: indexed(address)
    amount: uint256

# Additional events (Paused, Unpaused, PauseExpired come from modules/pausing.vy).
event LimitChanged:
    token: indexed(address)
    enabled: bool
    tx_cap: uint256
    queue_threshold: uint256
    instant_budget: uint256

event PricingSet:
    token: indexed(address)
    decimals: uint256
    price_min: uint256
    price_max: uint256

event PriceSet:
    token: indexed(address)
    price: uint256
    by: indexed(address)

event UsdLimitsSet:
    daily_limit_usd: uint256
    cold_sweep_limit_usd: uint256

event TierSet:
    tier: indexed(uint8)
    account: indexed(address)

event WhitelistSet:
    whitelist: indexed(address)

# ---------------------------------------------------------------- constants

# Role bits (keeper/roles.py VaultRole is their Python home).
ADMIN: public(constant(uint256)) = access.ADMIN
COMPLIANCE_OFFICER: public(constant(uint256)) = 2
TREASURY: public(constant(uint256)) = 4
PAUSER: public(constant(uint256)) = 8
CUSTOMER: public(constant(uint256)) = 16
PRICER: public(constant(uint256)) = 32
SWEEPER: public(constant(uint256)) = 64

struct TokenConfig:
    enabled: bool
    tx_cap: uint256
    queue_threshold: uint256
    instant_budget: uint256

struct Pricing:
    decimals: uint256
    price_min: uint256
    price_max: uint256
    price: uint256

# Instant payments store only `status` (the Withdrawal event carries the rest).
struct Operation:
    token: address
    to: address
    amount: uint256
    eta: uint256
    status: uint8

ETH: public(constant(address)) = empty(address)
WITHDRAWAL_DELAY: public(constant(uint256)) = 86400
WITHDRAWAL_GRACE: public(constant(uint256)) = 7 * 86400
PAUSE_DURATION: public(constant(uint256)) = pausing.PAUSE_DURATION
PAUSE_COOLDOWN: public(constant(uint256)) = pausing.PAUSE_COOLDOWN
TIER_COLD: public(constant(uint8)) = 2
MAX_MIGRATION_TOKENS: constant(uint256) = 8
MAX_DECIMALS: constant(uint256) = 36
STATUS_NONE: public(constant(uint8)) = 0
STATUS_QUEUED: public(constant(uint8)) = 1
STATUS_EXECUTED: public(constant(uint8)) = 2
STATUS_CANCELLED: public(constant(uint8)) = 3
STATUS_EXPIRED: public(constant(uint8)) = 4
# rolling-window keys; per-token instant budgets use the token address as key
WINDOW_USD: constant(uint256) = 2**160
WINDOW_COLD: constant(uint256) = 2**160 + 1

# ---------------------------------------------------------------- storage

whitelist: public(IWhitelist)
token_config: public(HashMap[address, TokenConfig])
pricing: public(HashMap[address, Pricing])
# micro-USD per rolling 24 h: withdrawals + non-cold sweeps, and cold sweeps
daily_limit_usd: public(uint256)
cold_sweep_limit_usd: public(uint256)
tier_address: public(HashMap[uint8, address])
operations: public(HashMap[bytes32, Operation])
migrated_to: public(address)
migration_imported: bool
# the Vault version this one succeeds (empty for a first vault)
PREDECESSOR: public(immutable(address))

# ---------------------------------------------------------------- constructor

@deploy
def __init__(admin: address, whitelist: address, predecessor: address):
    """
    @param admin Initial ADMIN (the deployer, which hands ADMIN to the Timelock)
    @param whitelist Whitelist contract consulted for every outflow
    @param predecessor The Vault this one replaces (empty(address) for a first vault): the
           only sender `receiveMigration` accepts, and whose used op ids this vault refuses
    """
    assert admin != empty(address), "Vault: zero admin"
    assert whitelist != empty(address), "Vault: zero whitelist"
    PREDECESSOR = predecessor
    access._grant(admin, ADMIN)
    self.whitelist = IWhitelist(whitelist)
    log WhitelistSet(whitelist=whitelist)

# ---------------------------------------------------------------- external: flows

@external
@nonreentrant
def deposit(token: address, amount: uint256, client_ref: bytes32):
    """
    @notice Deposit an ERC-20; pulled with transferFrom (approve first)
    @dev Credits the balance delta (fee-on-transfer safe); Deposit.amount is the delta.
    @param token Supported ERC-20
    @param amount Amount to pull from the sender, in base units
    @param client_ref Sub-ledger reference of the client account
    """
    self._check_live()
    assert token != empty(address), "Vault: use depositEth"
    assert self.token_config[token].enabled, "Vault: token not supported"
    assert amount != 0, "Vault: zero amount"
    received: uint256 = safe_erc20._pull(token, msg.sender, amount)
    log Deposit(token=token, sender=msg.sender, client_ref=client_ref, amount=received)


@external
@payable
@nonreentrant
def depositEth(client_ref: bytes32):
    """
    @notice Deposit ETH
    @param client_ref Sub-ledger reference of the client account
    """
    self._check_live()
    assert self.token_config[empty(address)].enabled, "Vault: token not supported"
    assert msg.value != 0, "Vault: zero amount"
    log Deposit(token=empty(address), sender=msg.sender, client_ref=client_ref, amount=msg.value)


@external
@nonreentrant
def withdraw(token: address, to: address, amount: uint256, op_id: bytes32) -> bool:
    """
    @notice Withdraw to an active whitelisted address, or queue it for WITHDRAWAL_DELAY
    @dev CUSTOMER or TREASURY. Queued when `amount` is above the token's queue threshold
         or no longer fits its instant budget (rolling 24 h). `op_id` is the keeper's
         unique operation id: reusing it (here or in a predecessor vault) reverts, so a
         retried request can never pay twice.
    @param token ERC-20 address, or empty(address) for ETH
    @param to Destination (must be active on the Whitelist)
    @param amount Amount in base units (<= per-transaction cap)
    @param op_id Unique non-zero operation id
    @return True if paid now, False if queued
    """
    access._check_role(msg.sender, CUSTOMER | TREASURY, "Vault: not customer")
    self._check_live()
    assert op_id != empty(bytes32), "Vault: zero op_id"
    assert not self._op_id_used(op_id), "Vault: op_id used"
    cfg: TokenConfig = self._config(token)
    assert amount != 0, "Vault: zero amount"
    assert amount <= cfg.tx_cap, "Vault: above transaction cap"
    self._check_destination(to)
    if amount > cfg.queue_threshold or not rolling_window._consume(convert(token, uint256), amount, cfg.instant_budget):
        eta: uint256 = block.timestamp + WITHDRAWAL_DELAY
        self.operations[op_id] = Operation(token=token, to=to, amount=amount, eta=eta, status=STATUS_QUEUED)
        log WithdrawalQueued(op_id=op_id, token=token, to=to, amount=amount, eta=eta)
        return False
    self.operations[op_id].status = STATUS_EXECUTED
    received: uint256 = self._pay(token, to, amount, WINDOW_USD)
    log Withdrawal(op_id=op_id, token=token, to=to, amount=amount, received=received)
    return True


@external
@nonreentrant
def executeWithdrawal(op_id: bytes32):
    """
    @notice Pay a queued withdrawal once its delay has passed
    @dev CUSTOMER or TREASURY. Every control (pause, whitelist, cap, USD limit) is checked
         again at execution time; the instant budget is not (it waited). Expires
         WITHDRAWAL_GRACE after its eta.
    @param op_id Operation id given to `withdraw`
    """
    access._check_role(msg.sender, CUSTOMER | TREASURY, "Vault: not customer")
    self._check_live()
    op: Operation = self.operations[op_id]
    assert op.status == STATUS_QUEUED, "Vault: not queued"
    assert block.timestamp >= op.eta, "Vault: withdrawal not ready"
    assert block.timestamp <= op.eta + WITHDRAWAL_GRACE, "Vault: withdrawal expired"
    cfg: TokenConfig = self._config(op.token)
    assert op.amount <= cfg.tx_cap, "Vault: above transaction cap"
    self._check_destination(op.to)
    self.operations[op_id].status = STATUS_EXECUTED
    received: uint256 = self._pay(op.token, op.to, op.amount, WINDOW_USD)
    log Withdrawal(op_id=op_id, token=op.token, to=op.to, amount=op.amount, received=received)


@external
def cancelWithdrawal(op_id: bytes32):
    """
    @notice Cancel a queued withdrawal (allowed while paused)
    @dev COMPLIANCE_OFFICER only
    @param op_id Operation id given to `withdraw`
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER, "Vault: not compliance")
    assert self.operations[op_id].status == STATUS_QUEUED, "Vault: not queued"
    self.operations[op_id].status = STATUS_CANCELLED
    log WithdrawalCancelled(op_id=op_id, by=msg.sender)


@external
def expireWithdrawal(op_id: bytes32):
    """
    @notice Mark a queued withdrawal whose execution window has closed as expired
    @dev Anyone, once block.timestamp > eta + WITHDRAWAL_GRACE (also while paused or after
         migration). Nothing moves; it gives the keeper's mirror an event instead of a
         status it would have to compute from the clock.
    @param op_id Operation id given to `withdraw`
    """
    op: Operation = self.operations[op_id]
    assert op.status == STATUS_QUEUED, "Vault: not queued"
    assert block.timestamp > op.eta + WITHDRAWAL_GRACE, "Vault: not expired"
    self.operations[op_id].status = STATUS_EXPIRED
    log WithdrawalExpired(op_id=op_id)


@external
@nonreentrant
def sweep(token: address, amount: uint256, tier: uint8):
    """
    @notice Move funds from this hot vault to a custody tier (1 = warm, 2 = cold)
    @dev TREASURY to any tier; SWEEPER to TIER_COLD only. The destination is the
         governance-set tier address, which must also be active on the Whitelist. Sweeps
         to TIER_COLD count toward the cold sweep budget and are allowed while paused
         (evacuation); other tiers count toward the vault's USD limit and stop while
         paused.
    @param token ERC-20 address, or empty(address) for ETH
    @param amount Amount in base units
    @param tier Tier number
    """
    window: uint256 = WINDOW_COLD
    if tier == TIER_COLD:
        access._check_role(msg.sender, SWEEPER | TREASURY, "Vault: not sweeper")
    else:
        access._check_role(msg.sender, TREASURY, "Vault: not treasury")
        assert not pausing._is_paused(), "Vault: paused"
        window = WINDOW_USD
    assert self.migrated_to == empty(address), "Vault: migrated"
    to: address = self.tier_address[tier]
    assert to != empty(address), "Vault: unknown tier"
    self._config(token)
    assert amount != 0, "Vault: zero amount"
    self._check_destination(to)
    received: uint256 = self._pay(token, to, amount, window)
    log Sweep(token=token, to=to, amount=amount, tier=tier, received=received)

# ---------------------------------------------------------------- external: pause

@external
def pause():
    """
    @notice Emergency stop of every inflow and outflow (but cold sweeps) for PAUSE_DURATION
    @dev PAUSER (the 2-of-3 emergency Multisig), not before PAUSE_COOLDOWN after the last
         pause ended; or ADMIN at any time. Lifts itself automatically (modules/pausing.vy).
    """
    access._check_role(msg.sender, PAUSER | ADMIN, "Vault: not pauser")
    pausing._pause(msg.sender, access._has(msg.sender, ADMIN))


@external
def unpause():
    """
    @notice Lift the pause before it expires
    @dev ADMIN, or the PAUSER that started it. Starts PAUSE_COOLDOWN for PAUSER.
    """
    access._check_role(msg.sender, ADMIN | PAUSER, "Vault: not admin")
    pausing._unpause(msg.sender, access._has(msg.sender, ADMIN))

# ---------------------------------------------------------------- external: admin

@external
def setTokenConfig(token: address, enabled: bool, tx_cap: uint256, queue_threshold: uint256, instant_budget: uint256):
    """
    @notice Set the controls of a token (empty(address) = ETH), in its base units
    @dev ADMIN only. Requires queue_threshold <= tx_cap. Outflows also need `setPricing`.
    @param token Token address
    @param enabled Whether deposits and outflows are allowed
    @param tx_cap Maximum amount of one withdrawal
    @param queue_threshold Withdrawals above this are always queued for 24 h
    @param instant_budget Amount payable without queueing per rolling 24 h
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    assert queue_threshold <= tx_cap, "Vault: inconsistent limits"
    self.token_config[token] = TokenConfig(enabled=enabled, tx_cap=tx_cap, queue_threshold=queue_threshold, instant_budget=instant_budget)
    log LimitChanged(token=token, enabled=enabled, tx_cap=tx_cap, queue_threshold=queue_threshold, instant_budget=instant_budget)


@external
def setPricing(token: address, decimals: uint256, price_min: uint256, price_max: uint256, price: uint256):
    """
    @notice Set how a token is valued against the USD limits
    @dev ADMIN only. Prices are micro-USD per whole token (10**decimals base units);
         stablecoins use price_min == price_max == 10**6 (face value).
    @param token Token address (empty(address) = ETH, 18 decimals)
    @param decimals Token decimals
    @param price_min Lowest price PRICER may set (non-zero)
    @param price_max Highest price PRICER may set
    @param price Current price, within the bounds
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    assert decimals <= MAX_DECIMALS, "Vault: bad decimals"
    assert price_min != 0 and price_min <= price and price <= price_max, "Vault: price out of bounds"
    self.pricing[token] = Pricing(decimals=decimals, price_min=price_min, price_max=price_max, price=price)
    log PricingSet(token=token, decimals=decimals, price_min=price_min, price_max=price_max)
    log PriceSet(token=token, price=price, by=msg.sender)


@external
def setPrice(token: address, price: uint256):
    """
    @notice Update a token's price within its governance-set bounds
    @dev PRICER or ADMIN
    @param token Token address
    @param price Micro-USD per whole token
    """
    access._check_role(msg.sender, PRICER | ADMIN, "Vault: not pricer")
    p: Pricing = self.pricing[token]
    assert p.price_min != 0, "Vault: token not priced"
    assert p.price_min <= price and price <= p.price_max, "Vault: price out of bounds"
    self.pricing[token].price = price
    log PriceSet(token=token, price=price, by=msg.sender)


@external
def setUsdLimits(daily_limit_usd: uint256, cold_sweep_limit_usd: uint256):
    """
    @notice Set the vault-wide outflow limits, in micro-USD per rolling 24 h
    @dev ADMIN only
    @param daily_limit_usd Withdrawals plus sweeps to non-cold tiers
    @param cold_sweep_limit_usd Sweeps to TIER_COLD
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    self.daily_limit_usd = daily_limit_usd
    self.cold_sweep_limit_usd = cold_sweep_limit_usd
    log UsdLimitsSet(daily_limit_usd=daily_limit_usd, cold_sweep_limit_usd=cold_sweep_limit_usd)


@external
def setTier(tier: uint8, account: address):
    """
    @notice Set the sweep destination of a tier (1 = warm, 2 = cold); empty = disabled
    @dev ADMIN only
    @param tier Tier number (non-zero)
    @param account Tier wallet (a Multisig)
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    assert tier != 0, "Vault: tier 0 is the vault"
    self.tier_address[tier] = account
    log TierSet(tier=tier, account=account)


@external
def setWhitelist(whitelist: address):
    """
    @notice Point the vault at another Whitelist contract
    @dev ADMIN only
    @param whitelist Whitelist address
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    assert whitelist != empty(address), "Vault: zero whitelist"
    self.whitelist = IWhitelist(whitelist)
    log WhitelistSet(whitelist=whitelist)


@external
@nonreentrant
def migrate(new_vault: address, tokens: DynArray[address, MAX_MIGRATION_TOKENS]):
    """
    @notice Move all ETH and the listed tokens to a new Vault version and retire this one
    @dev ADMIN (Timelock: 3-of-5 proposal + 48 h). Not while paused (unpause + migrate
         can be one executeBatch). The new vault must be an active whitelisted address built
         with this vault as its predecessor. Tokens not listed are moved later by `rescue`.
    @param new_vault The new Vault contract
    @param tokens ERC-20s whose whole balance moves
    """
    access._check_role(msg.sender, ADMIN, "Vault: not admin")
    self._check_live()
    assert new_vault != self and new_vault.is_contract, "Vault: bad migration target"
    assert staticcall self.whitelist.isActive(new_vault), "Vault: destination not whitelisted"
    self.migrated_to = new_vault
    # Always called, even without ETH: a successor not built with this vault as its
    # predecessor refuses, and the successor takes over the USD window's usage.
    eth_amount: uint256 = self.balance
    extcall IMigrationTarget(new_vault).receiveMigration(value=eth_amount)
    log Migrated(new_vault=new_vault, token=empty(address), amount=eth_amount)
    for token: address in tokens:
        bal: uint256 = safe_erc20._balance(token, self)
        if bal != 0:
            safe_erc20._transfer(token, new_vault, bal)
        log Migrated(new_vault=new_vault, token=token, amount=bal)


@external
@nonreentrant
def rescue(token: address):
    """
    @notice After migration, forward the whole balance of `token` (empty(address) = ETH) to
            the successor vault: tokens left out of `migrate` and funds arriving later
    @dev Anyone may call; the destination is always `migrated_to`, nothing else. Works while
         paused (it can only reach the successor governance chose). Emits Migrated; a
         mirror books only tokens it knows.
    @param token ERC-20 address, or empty(address) for ETH
    """
    new_vault: address = self.migrated_to
    assert new_vault != empty(address), "Vault: not migrated"
    amount: uint256 = 0
    if token == empty(address):
        amount = self.balance
        assert amount != 0, "Vault: nothing to rescue"
        extcall IMigrationTarget(new_vault).receiveMigration(value=amount)
    else:
        amount = safe_erc20._balance(token, self)
        assert amount != 0, "Vault: nothing to rescue"
        safe_erc20._transfer(token, new_vault, amount)
    log Migrated(new_vault=new_vault, token=token, amount=amount)


@external
@payable
def receiveMigration():
    """
    @notice Receive the ETH of the predecessor vault during its `migrate` or `rescue`
    @dev Only the predecessor recorded at construction; anyone else reverts, so a
         MigrationReceived event always comes from the vault this one replaces. The first
         call takes over the predecessor's USD-window usage (as one bucket of this hour,
         which is conservative: it decays after 25 h instead of gradually).
    """
    assert PREDECESSOR != empty(address) and msg.sender == PREDECESSOR, "Vault: not predecessor"
    if not self.migration_imported:
        self.migration_imported = True
        rolling_window._add(WINDOW_USD, staticcall IPredecessor(PREDECESSOR).outflowUsd())
    log MigrationReceived(sender=msg.sender, amount=msg.value)

# ---------------------------------------------------------------- external: views

@view
@external
def outflowUsd() -> uint256:
    """
    @notice Micro-USD counted against `daily_limit_usd` in the rolling 24 h window
    """
    return rolling_window._used(WINDOW_USD)


@view
@external
def remainingUsd() -> uint256:
    """
    @notice Micro-USD that may still leave (withdrawals, non-cold sweeps) right now
    """
    used: uint256 = rolling_window._used(WINDOW_USD)
    if used >= self.daily_limit_usd:
        return 0
    return self.daily_limit_usd - used


@view
@external
def coldSweptUsd() -> uint256:
    """
    @notice Micro-USD counted against `cold_sweep_limit_usd` in the rolling 24 h window
    """
    return rolling_window._used(WINDOW_COLD)


@view
@external
def instantUsed(token: address) -> uint256:
    """
    @notice Base units of `token` paid instantly (not queued) in the rolling 24 h window
    @param token Token (empty(address) = ETH)
    """
    return rolling_window._used(convert(token, uint256))


@view
@external
def valueUsd(token: address, amount: uint256) -> uint256:
    """
    @notice Micro-USD value of `amount` base units of `token`, as the limits count it
    @param token Token (empty(address) = ETH)
    @param amount Base units
    """
    return self._value_usd(token, amount)


@view
@external
def opIdUsed(op_id: bytes32) -> bool:
    """
    @notice True if `op_id` was used here or by any predecessor vault (queued, paid,
            cancelled or expired): such an id is refused by `withdraw`
    @param op_id Operation id
    """
    return self._op_id_used(op_id)

# ---------------------------------------------------------------- internal

@view
@internal
def _op_id_used(op_id: bytes32) -> bool:
    if self.operations[op_id].status != STATUS_NONE:
        return True
    if PREDECESSOR == empty(address):
        return False
    return staticcall IPredecessor(PREDECESSOR).opIdUsed(op_id)


@view
@internal
def _check_live():
    assert not pausing._is_paused(), "Vault: paused"
    assert self.migrated_to == empty(address), "Vault: migrated"


@view
@internal
def _config(token: address) -> TokenConfig:
    cfg: TokenConfig = self.token_config[token]
    assert cfg.enabled, "Vault: token not supported"
    return cfg


@view
@internal
def _check_destination(to: address):
    assert to != empty(address) and to != self, "Vault: bad destination"
    assert staticcall self.whitelist.isActive(to), "Vault: destination not whitelisted"


@view
@internal
def _value_usd(token: address, amount: uint256) -> uint256:
    # micro-USD, rounded up so the limits never undercount
    price: uint256 = self.pricing[token].price
    assert price != 0, "Vault: token not priced"
    unit: uint256 = 10 ** self.pricing[token].decimals
    return (amount * price + unit - 1) // unit


@internal
def _pay(token: address, to: address, amount: uint256, window: uint256) -> uint256:
    # Count the outflow in `window`, send it, return what the recipient received.
    limit: uint256 = self.daily_limit_usd
    if window == WINDOW_COLD:
        limit = self.cold_sweep_limit_usd
    assert rolling_window._consume(window, self._value_usd(token, amount), limit), "Vault: daily limit exceeded"
    if token == empty(address):
        assert self.balance >= amount, "Vault: insufficient balance"
        ok: bool = raw_call(to, b"", value=amount, revert_on_failure=False)
        assert ok, "Vault: ETH transfer failed"
        return amount
    return safe_erc20._transfer_measured(token, to, amount)
