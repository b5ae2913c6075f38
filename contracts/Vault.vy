# pragma version 0.4.3
"""
@title Strongroom omnibus custody vault
@license Apache-2.0
@notice Hot-tier omnibus vault for ETH (token == empty(address)), USDC and USDT.
        Customer balances live in the off-chain sub-ledger; this contract enforces the
        on-chain controls of spec 7.4/7.5:
          - outflows only to addresses that are *active* on the Whitelist contract;
          - per-token daily outflow limit (UTC-day buckets, withdrawals and sweeps
            together) and a per-transaction cap, both in token base units;
          - withdrawals above a per-token threshold are queued and executable only
            after WITHDRAWAL_DELAY (24 h); COMPLIANCE_OFFICER can cancel them;
          - emergency pause by PAUSER (a 2-of-3 Multisig) that lifts itself
            PAUSE_DURATION (7 days) after it started; ADMIN may unpause earlier;
          - sweeps hot -> warm/cold go only to governance-set tier addresses that are
            also active on the Whitelist;
          - every parameter or role change is ADMIN-only; ADMIN is the Timelock
            (48 h delay, proposals by the 3-of-5 cold Multisig).
        ERC-20 calls tolerate tokens that return nothing (USDT); deposits credit the
        balance delta (fee-on-transfer safe); a token that reverts (blacklist, pause)
        reverts the whole call with the token's own reason and moves nothing.
        Upgrade path: migration, not a proxy. A new Vault version is deployed, put on the
        Whitelist (24 h activation) and the Timelock executes `migrate` (scheduled by the
        3-of-5 cold Multisig, 48 h delay), which moves every balance to the new vault and
        retires this one; `rescue` forwards anything left behind or arriving later to that
        successor only, the successor accepts migration ETH only from the predecessor it
        was built for, and refuses op ids any predecessor used. This keeps each version
        immutable and independently
        verifiable (scripts/verify.py) and avoids storage-layout and initializer hazards
        of delegatecall proxies.
"""

# ---------------------------------------------------------------- interfaces

from ethereum.ercs import IERC20


interface IWhitelist:
    def isActive(account: address) -> bool: view


interface IMigrationTarget:
    def receiveMigration(): payable


interface IPredecessor:
    def opIdUsed(op_id: bytes32) -> bool: view

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

# Additional events.
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

event Paused:
    by: indexed(address)
    until: uint256

event Unpaused:
    by: indexed(address)

event LimitChanged:
    token: indexed(address)
    enabled: bool
    daily_limit: uint256
    tx_cap: uint256
    queue_threshold: uint256

event TierSet:
    tier: indexed(uint8)
    account: indexed(address)

event WhitelistSet:
    whitelist: indexed(address)

event RoleSet:
    account: indexed(address)
    roles: Roles

event Migrated:
    new_vault: indexed(address)
    token: indexed(address)
    amount: uint256

event MigrationReceived:
    sender: indexed(address)
    amount: uint256

# ---------------------------------------------------------------- constants

flag Roles:
    ADMIN
    COMPLIANCE_OFFICER
    TREASURY
    PAUSER
    CUSTOMER

struct TokenConfig:
    enabled: bool
    daily_limit: uint256
    tx_cap: uint256
    queue_threshold: uint256

struct Operation:
    token: address
    to: address
    amount: uint256
    eta: uint256
    status: uint8

ETH: public(constant(address)) = empty(address)
DAY: constant(uint256) = 86400
WITHDRAWAL_DELAY: public(constant(uint256)) = 86400
WITHDRAWAL_GRACE: public(constant(uint256)) = 7 * 86400
PAUSE_DURATION: public(constant(uint256)) = 7 * 86400
MAX_MIGRATION_TOKENS: constant(uint256) = 8
STATUS_NONE: public(constant(uint8)) = 0
STATUS_QUEUED: public(constant(uint8)) = 1
STATUS_EXECUTED: public(constant(uint8)) = 2
STATUS_CANCELLED: public(constant(uint8)) = 3
STATUS_EXPIRED: public(constant(uint8)) = 4

# ---------------------------------------------------------------- storage

roles: public(HashMap[address, Roles])
whitelist: public(IWhitelist)
token_config: public(HashMap[address, TokenConfig])
# token -> UTC day index -> amount sent out that day
outflow: public(HashMap[address, HashMap[uint256, uint256]])
tier_address: public(HashMap[uint8, address])
paused_at: public(uint256)
operations: public(HashMap[bytes32, Operation])
migrated_to: public(address)
# the Vault version this one succeeds (empty for a first vault); only it may send migration ETH
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
    self._set_roles(admin, Roles.ADMIN)
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
    assert token.is_contract, "Vault: token has no code"
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    self._erc20_call(token, abi_encode(msg.sender, self, amount, method_id=method_id("transferFrom(address,address,uint256)")))
    received: uint256 = staticcall IERC20(token).balanceOf(self) - before
    assert received != 0, "Vault: nothing received"
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
    @notice Withdraw to an active whitelisted address, or queue it if above the threshold
    @dev CUSTOMER or TREASURY. `op_id` is the keeper's unique operation id: reusing it
         reverts, so a retried request can never pay twice.
    @param token ERC-20 address, or empty(address) for ETH
    @param to Destination (must be active on the Whitelist)
    @param amount Amount in base units (<= per-transaction cap)
    @param op_id Unique non-zero operation id
    @return True if paid now, False if queued for WITHDRAWAL_DELAY
    """
    self._check_operator()
    self._check_live()
    assert op_id != empty(bytes32), "Vault: zero op_id"
    assert not self._op_id_used(op_id), "Vault: op_id used"
    cfg: TokenConfig = self._config(token)
    assert amount != 0, "Vault: zero amount"
    assert amount <= cfg.tx_cap, "Vault: above transaction cap"
    self._check_destination(to)
    if amount > cfg.queue_threshold:
        eta: uint256 = block.timestamp + WITHDRAWAL_DELAY
        self.operations[op_id] = Operation(token=token, to=to, amount=amount, eta=eta, status=STATUS_QUEUED)
        log WithdrawalQueued(op_id=op_id, token=token, to=to, amount=amount, eta=eta)
        return False
    self.operations[op_id] = Operation(token=token, to=to, amount=amount, eta=block.timestamp, status=STATUS_EXECUTED)
    received: uint256 = self._send(token, to, amount, cfg)
    log Withdrawal(op_id=op_id, token=token, to=to, amount=amount, received=received)
    return True


@external
@nonreentrant
def executeWithdrawal(op_id: bytes32):
    """
    @notice Pay a queued withdrawal once its delay has passed
    @dev CUSTOMER or TREASURY. Every control (pause, whitelist, cap, daily limit) is
         checked again at execution time. Expires WITHDRAWAL_GRACE after its eta.
    @param op_id Operation id given to `withdraw`
    """
    self._check_operator()
    self._check_live()
    op: Operation = self.operations[op_id]
    assert op.status == STATUS_QUEUED, "Vault: not queued"
    assert block.timestamp >= op.eta, "Vault: withdrawal not ready"
    assert block.timestamp <= op.eta + WITHDRAWAL_GRACE, "Vault: withdrawal expired"
    cfg: TokenConfig = self._config(op.token)
    assert op.amount <= cfg.tx_cap, "Vault: above transaction cap"
    self._check_destination(op.to)
    self.operations[op_id].status = STATUS_EXECUTED
    received: uint256 = self._send(op.token, op.to, op.amount, cfg)
    log Withdrawal(op_id=op_id, token=op.token, to=op.to, amount=op.amount, received=received)


@external
def cancelWithdrawal(op_id: bytes32):
    """
    @notice Cancel a queued withdrawal (allowed while paused)
    @dev COMPLIANCE_OFFICER only
    @param op_id Operation id given to `withdraw`
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Vault: not compliance"
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
    @dev TREASURY only. The destination is the governance-set tier address, which must
         also be active on the Whitelist. Counts toward the daily outflow limit.
    @param token ERC-20 address, or empty(address) for ETH
    @param amount Amount in base units
    @param tier Tier number
    """
    assert Roles.TREASURY in self.roles[msg.sender], "Vault: not treasury"
    self._check_live()
    to: address = self.tier_address[tier]
    assert to != empty(address), "Vault: unknown tier"
    cfg: TokenConfig = self._config(token)
    assert amount != 0, "Vault: zero amount"
    self._check_destination(to)
    received: uint256 = self._send(token, to, amount, cfg)
    log Sweep(token=token, to=to, amount=amount, tier=tier, received=received)

# ---------------------------------------------------------------- external: pause

@external
def pause():
    """
    @notice Emergency stop of every inflow and outflow for PAUSE_DURATION (7 days)
    @dev PAUSER (the 2-of-3 emergency Multisig) or ADMIN. Lifts itself automatically.
    """
    assert Roles.PAUSER in self.roles[msg.sender] or Roles.ADMIN in self.roles[msg.sender], "Vault: not pauser"
    assert not self._is_paused(), "Vault: already paused"
    self.paused_at = block.timestamp
    log Paused(by=msg.sender, until=block.timestamp + PAUSE_DURATION)


@external
def unpause():
    """
    @notice Lift the pause before it expires
    @dev ADMIN only
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
    assert self._is_paused(), "Vault: not paused"
    self.paused_at = 0
    log Unpaused(by=msg.sender)

# ---------------------------------------------------------------- external: admin

@external
def setTokenConfig(token: address, enabled: bool, daily_limit: uint256, tx_cap: uint256, queue_threshold: uint256):
    """
    @notice Set the limits of a token (empty(address) = ETH), in its base units
    @dev ADMIN only. Requires queue_threshold <= tx_cap <= daily_limit.
    @param token Token address
    @param enabled Whether deposits and outflows are allowed
    @param daily_limit Maximum outflow per UTC day
    @param tx_cap Maximum amount of one withdrawal
    @param queue_threshold Withdrawals above this are queued for 24 h
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
    assert queue_threshold <= tx_cap and tx_cap <= daily_limit, "Vault: inconsistent limits"
    self.token_config[token] = TokenConfig(enabled=enabled, daily_limit=daily_limit, tx_cap=tx_cap, queue_threshold=queue_threshold)
    log LimitChanged(token=token, enabled=enabled, daily_limit=daily_limit, tx_cap=tx_cap, queue_threshold=queue_threshold)


@external
def setTier(tier: uint8, account: address):
    """
    @notice Set the sweep destination of a tier (1 = warm, 2 = cold); empty = disabled
    @dev ADMIN only
    @param tier Tier number (non-zero)
    @param account Tier wallet (a Multisig)
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
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
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
    assert whitelist != empty(address), "Vault: zero whitelist"
    self.whitelist = IWhitelist(whitelist)
    log WhitelistSet(whitelist=whitelist)


@external
def setRoles(account: address, roles: Roles):
    """
    @notice Replace the role set of `account`
    @dev ADMIN only; an admin cannot drop its own ADMIN flag here (use renounceRoles)
    @param account Role holder
    @param roles New role bit set
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
    assert account != empty(address), "Vault: zero address"
    if account == msg.sender:
        assert Roles.ADMIN in roles, "Vault: admin cannot drop own admin"
    self._set_roles(account, roles)


@external
def renounceRoles():
    """
    @notice Give up every role of the caller (the deployer does this after wiring)
    """
    assert self.roles[msg.sender] != empty(Roles), "Vault: no roles"
    self._set_roles(msg.sender, empty(Roles))


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
    assert Roles.ADMIN in self.roles[msg.sender], "Vault: not admin"
    self._check_live()
    assert new_vault != self and new_vault.is_contract, "Vault: bad migration target"
    assert staticcall self.whitelist.isActive(new_vault), "Vault: destination not whitelisted"
    self.migrated_to = new_vault
    # Always called, even without ETH: a successor not built with this vault as its
    # predecessor refuses, so a migration can only go to a vault that knows where it came from.
    eth_amount: uint256 = self.balance
    extcall IMigrationTarget(new_vault).receiveMigration(value=eth_amount)
    log Migrated(new_vault=new_vault, token=empty(address), amount=eth_amount)
    for token: address in tokens:
        bal: uint256 = staticcall IERC20(token).balanceOf(self)
        if bal != 0:
            self._erc20_call(token, abi_encode(new_vault, bal, method_id=method_id("transfer(address,uint256)")))
        log Migrated(new_vault=new_vault, token=token, amount=bal)


@external
@nonreentrant
def rescue(token: address):
    """
    @notice After migration, forward the whole balance of `token` (empty(address) = ETH) to
            the successor vault: tokens left out of `migrate` and funds arriving later
    @dev Anyone may call; the destination is always `migrated_to`, nothing else. Works while
         paused (it can only reach the successor governance chose). Emits Migrated.
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
        assert token.is_contract, "Vault: token has no code"
        amount = staticcall IERC20(token).balanceOf(self)
        assert amount != 0, "Vault: nothing to rescue"
        self._erc20_call(token, abi_encode(new_vault, amount, method_id=method_id("transfer(address,uint256)")))
    log Migrated(new_vault=new_vault, token=token, amount=amount)


@external
@payable
def receiveMigration():
    """
    @notice Receive the ETH of the predecessor vault during its `migrate` or `rescue`
    @dev Only the predecessor recorded at construction; anyone else reverts, so a
         MigrationReceived event always comes from the vault this one replaces.
    """
    assert PREDECESSOR != empty(address) and msg.sender == PREDECESSOR, "Vault: not predecessor"
    log MigrationReceived(sender=msg.sender, amount=msg.value)

# ---------------------------------------------------------------- external: views

@view
@external
def isPaused() -> bool:
    """
    @notice True while a pause is in force (it expires PAUSE_DURATION after it started)
    """
    return self._is_paused()


@view
@external
def pausedUntil() -> uint256:
    """
    @notice End of the current pause, 0 if none
    """
    if self._is_paused():
        return self.paused_at + PAUSE_DURATION
    return 0


@view
@external
def outflowToday(token: address) -> uint256:
    """
    @notice Amount of `token` sent out during the current UTC day
    @param token Token (empty(address) = ETH)
    """
    return self.outflow[token][block.timestamp // DAY]


@view
@external
def remainingToday(token: address) -> uint256:
    """
    @notice Outflow still allowed today for `token`
    @param token Token (empty(address) = ETH)
    """
    used: uint256 = self.outflow[token][block.timestamp // DAY]
    limit: uint256 = self.token_config[token].daily_limit
    if used >= limit:
        return 0
    return limit - used


@view
@external
def opIdUsed(op_id: bytes32) -> bool:
    """
    @notice True if `op_id` was used here or by any predecessor vault (queued, paid,
            cancelled or expired): such an id is refused by `withdraw`
    @param op_id Operation id
    """
    return self._op_id_used(op_id)


@view
@external
def hasRole(account: address, role: Roles) -> bool:
    """
    @notice True if `account` holds every flag of `role`
    @param account Address
    @param role Role flag(s)
    """
    return role in self.roles[account]

# ---------------------------------------------------------------- internal

@view
@internal
def _is_paused() -> bool:
    at: uint256 = self.paused_at
    return at != 0 and block.timestamp < at + PAUSE_DURATION


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
    assert not self._is_paused(), "Vault: paused"
    assert self.migrated_to == empty(address), "Vault: migrated"


@view
@internal
def _check_operator():
    r: Roles = self.roles[msg.sender]
    assert Roles.CUSTOMER in r or Roles.TREASURY in r, "Vault: not customer"


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


@internal
def _send(token: address, to: address, amount: uint256, cfg: TokenConfig) -> uint256:
    # Returns what the recipient received (its measured balance increase).
    day: uint256 = block.timestamp // DAY
    used: uint256 = self.outflow[token][day] + amount
    assert used <= cfg.daily_limit, "Vault: daily limit exceeded"
    self.outflow[token][day] = used
    if token == empty(address):
        assert self.balance >= amount, "Vault: insufficient balance"
        ok: bool = raw_call(to, b"", value=amount, revert_on_failure=False)
        assert ok, "Vault: ETH transfer failed"
        return amount
    assert token.is_contract, "Vault: token has no code"
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert before >= amount, "Vault: insufficient balance"
    to_before: uint256 = staticcall IERC20(token).balanceOf(to)
    self._erc20_call(token, abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")))
    assert before - staticcall IERC20(token).balanceOf(self) == amount, "Vault: balance delta mismatch"
    to_after: uint256 = staticcall IERC20(token).balanceOf(to)
    if to_after <= to_before:
        return 0
    return to_after - to_before


@internal
def _erc20_call(token: address, data: Bytes[100]):
    # Tolerates tokens without a return value (USDT); bubbles the token's own revert
    # reason (blacklist, pause) so the caller sees a clear error and nothing moves.
    assert token.is_contract, "Vault: token has no code"
    ok: bool = False
    response: Bytes[256] = b""
    ok, response = raw_call(token, data, max_outsize=256, revert_on_failure=False)
    if not ok:
        if len(response) != 0 and len(response) < 256:
            raw_revert(response)
        raise "Vault: token call failed"
    if len(response) != 0:
        assert len(response) >= 32, "Vault: bad token return"
        assert convert(slice(response, 0, 32), uint256) == 1, "Vault: token returned false"


@internal
def _set_roles(account: address, roles: Roles):
    self.roles[account] = roles
    log RoleSet(account=account, roles=roles)
