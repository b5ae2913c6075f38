# pragma version 0.4.3
"""
@title Strongroom destination whitelist
@license Apache-2.0
@notice Registry of destination addresses that custody outflows may go to.
        The compliance officer adds and removes addresses. An added address only
        becomes usable (`isActive`) after an activation delay (24 h by default), so a
        rogue or compromised compliance key cannot add-and-drain in one step: the
        24 h window lets monitoring detect and remove the entry. Removal is immediate.
        Parameter and role changes belong to ADMIN (the Timelock in deployment).
"""

# ---------------------------------------------------------------- interfaces
# (none)

# ---------------------------------------------------------------- events

event AddressAdded:
    account: indexed(address)
    activates_at: uint256
    by: indexed(address)

event AddressRemoved:
    account: indexed(address)
    by: indexed(address)

event ActivationDelayChanged:
    old_delay: uint256
    new_delay: uint256

event RoleSet:
    account: indexed(address)
    roles: Roles

# ---------------------------------------------------------------- constants

flag Roles:
    ADMIN
    COMPLIANCE_OFFICER

DEFAULT_ACTIVATION_DELAY: public(constant(uint256)) = 86400
MAX_ACTIVATION_DELAY: public(constant(uint256)) = 30 * 86400
MAX_INITIAL: constant(uint256) = 16

# ---------------------------------------------------------------- storage

roles: public(HashMap[address, Roles])
activation_delay: public(uint256)
# timestamp from which the address is usable; 0 = not listed
activates_at: public(HashMap[address, uint256])

# ---------------------------------------------------------------- constructor

@deploy
def __init__(
    admin: address,
    compliance: address,
    activation_delay: uint256,
    initial: DynArray[address, MAX_INITIAL],
):
    """
    @param admin Holder of ADMIN (the Timelock in deployment)
    @param compliance Holder of COMPLIANCE_OFFICER
    @param activation_delay Seconds between add and activation (0 = default 24 h)
    @param initial Genesis entries (the custody tier addresses), active immediately
    """
    assert admin != empty(address), "Whitelist: zero admin"
    assert activation_delay <= MAX_ACTIVATION_DELAY, "Whitelist: delay too long"
    self._set_roles(admin, Roles.ADMIN)
    if compliance != empty(address):
        self._set_roles(compliance, self.roles[compliance] | Roles.COMPLIANCE_OFFICER)
    delay: uint256 = activation_delay
    if delay == 0:
        delay = DEFAULT_ACTIVATION_DELAY
    self.activation_delay = delay
    log ActivationDelayChanged(old_delay=0, new_delay=delay)
    for account: address in initial:
        assert account != empty(address), "Whitelist: zero address"
        self.activates_at[account] = block.timestamp
        log AddressAdded(account=account, activates_at=block.timestamp, by=msg.sender)

# ---------------------------------------------------------------- external

@external
def add(account: address) -> uint256:
    """
    @notice List `account`; it becomes active after the activation delay
    @dev Only COMPLIANCE_OFFICER. Reverts if already listed (pending or active).
    @param account Destination address
    @return Timestamp at which the address becomes active
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Whitelist: not compliance"
    assert account != empty(address), "Whitelist: zero address"
    assert self.activates_at[account] == 0, "Whitelist: already listed"
    at: uint256 = block.timestamp + self.activation_delay
    self.activates_at[account] = at
    log AddressAdded(account=account, activates_at=at, by=msg.sender)
    return at


@external
def remove(account: address):
    """
    @notice Delist `account` with immediate effect
    @dev Only COMPLIANCE_OFFICER. Reverts if not listed.
    @param account Destination address
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Whitelist: not compliance"
    assert self.activates_at[account] != 0, "Whitelist: not listed"
    self.activates_at[account] = 0
    log AddressRemoved(account=account, by=msg.sender)


@external
def setActivationDelay(new_delay: uint256):
    """
    @notice Change the activation delay for future additions
    @dev Only ADMIN (Timelock). Bounded to (0, MAX_ACTIVATION_DELAY].
    @param new_delay Seconds
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Whitelist: not admin"
    assert new_delay != 0, "Whitelist: zero delay"
    assert new_delay <= MAX_ACTIVATION_DELAY, "Whitelist: delay too long"
    log ActivationDelayChanged(old_delay=self.activation_delay, new_delay=new_delay)
    self.activation_delay = new_delay


@external
def setRoles(account: address, roles: Roles):
    """
    @notice Replace the role set of `account`
    @dev Only ADMIN. An admin cannot strip its own ADMIN flag (avoids a headless registry).
    @param account Role holder
    @param roles New role bit set
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Whitelist: not admin"
    assert account != empty(address), "Whitelist: zero address"
    if account == msg.sender:
        assert Roles.ADMIN in roles, "Whitelist: admin cannot drop own admin"
    self._set_roles(account, roles)


@view
@external
def isActive(account: address) -> bool:
    """
    @notice True if `account` is listed and its activation delay has passed
    @param account Destination address
    """
    at: uint256 = self.activates_at[account]
    return at != 0 and block.timestamp >= at


@view
@external
def isListed(account: address) -> bool:
    """
    @notice True if `account` is listed (pending or active)
    @param account Destination address
    """
    return self.activates_at[account] != 0

# ---------------------------------------------------------------- internal

@internal
def _set_roles(account: address, roles: Roles):
    self.roles[account] = roles
    log RoleSet(account=account, roles=roles)
