# pragma version 0.4.3
"""
@title Strongroom destination whitelist
@license Apache-2.0
@notice Registry of destination addresses that custody outflows may go to.
        The compliance officer (the 2-of-3 compliance Multisig in deployment) adds and
        removes addresses. An added address only becomes usable (`isActive`) after an
        activation delay (24 h by default), so a rogue compliance quorum cannot
        add-and-drain in one step: the window lets monitoring detect and remove the entry.
        Removal is immediate, except for *protected* entries: the genesis entries (the
        custody tier addresses: warm and cold Multisigs) and any entry ADMIN protects.
        Compliance cannot remove them, so sweeps to cold keep working whatever compliance
        does; only ADMIN (the Timelock) can lift the protection.
        Parameter and role changes belong to ADMIN.
"""

# ---------------------------------------------------------------- interfaces

from modules import access

initializes: access

exports: (access.roles, access.hasRole, access.setRoles, access.renounceRoles)

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

event ProtectionSet:
    account: indexed(address)
    protected: bool

# ---------------------------------------------------------------- constants

# Role bits (keeper/roles.py WhitelistRole is their Python home).
ADMIN: public(constant(uint256)) = access.ADMIN
COMPLIANCE_OFFICER: public(constant(uint256)) = 2

DEFAULT_ACTIVATION_DELAY: public(constant(uint256)) = 86400
MAX_ACTIVATION_DELAY: public(constant(uint256)) = 30 * 86400
MAX_INITIAL: constant(uint256) = 16

# ---------------------------------------------------------------- storage

activation_delay: public(uint256)
# timestamp from which the address is usable; 0 = not listed
activates_at: public(HashMap[address, uint256])
# protected entries cannot be removed by compliance
protected: public(HashMap[address, bool])

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
    @param compliance Holder of COMPLIANCE_OFFICER (the compliance Multisig)
    @param activation_delay Seconds between add and activation (0 = default 24 h)
    @param initial Genesis entries (the custody tier addresses), active immediately and
           protected
    """
    assert admin != empty(address), "Whitelist: zero admin"
    assert activation_delay <= MAX_ACTIVATION_DELAY, "Whitelist: delay too long"
    access._grant(admin, ADMIN)
    access._grant(compliance, COMPLIANCE_OFFICER)
    delay: uint256 = activation_delay
    if delay == 0:
        delay = DEFAULT_ACTIVATION_DELAY
    self.activation_delay = delay
    log ActivationDelayChanged(old_delay=0, new_delay=delay)
    for account: address in initial:
        assert account != empty(address), "Whitelist: zero address"
        self.activates_at[account] = block.timestamp
        log AddressAdded(account=account, activates_at=block.timestamp, by=msg.sender)
        self.protected[account] = True
        log ProtectionSet(account=account, protected=True)

# ---------------------------------------------------------------- external

@external
def add(account: address) -> uint256:
    """
    @notice List `account`; it becomes active after the activation delay
    @dev Only COMPLIANCE_OFFICER. Reverts if already listed (pending or active).
    @param account Destination address
    @return Timestamp at which the address becomes active
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER, "Whitelist: not compliance")
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
    @dev Only COMPLIANCE_OFFICER. Reverts if not listed or protected.
    @param account Destination address
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER, "Whitelist: not compliance")
    assert self.activates_at[account] != 0, "Whitelist: not listed"
    assert not self.protected[account], "Whitelist: protected"
    self.activates_at[account] = 0
    log AddressRemoved(account=account, by=msg.sender)


@external
def setProtected(account: address, protected: bool):
    """
    @notice Protect a listed entry from removal by compliance, or lift the protection
    @dev Only ADMIN (Timelock). Protecting an unlisted address is refused.
    @param account Listed destination address
    @param protected New protection state
    """
    access._check_role(msg.sender, ADMIN, "Whitelist: not admin")
    assert self.activates_at[account] != 0 or not protected, "Whitelist: not listed"
    self.protected[account] = protected
    log ProtectionSet(account=account, protected=protected)


@external
def setActivationDelay(new_delay: uint256):
    """
    @notice Change the activation delay for future additions
    @dev Only ADMIN (Timelock). Bounded to (0, MAX_ACTIVATION_DELAY].
    @param new_delay Seconds
    """
    access._check_role(msg.sender, ADMIN, "Whitelist: not admin")
    assert new_delay != 0, "Whitelist: zero delay"
    assert new_delay <= MAX_ACTIVATION_DELAY, "Whitelist: delay too long"
    log ActivationDelayChanged(old_delay=self.activation_delay, new_delay=new_delay)
    self.activation_delay = new_delay


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
