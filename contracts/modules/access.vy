# pragma version 0.4.3
"""
@title Role bits shared by Vault, Whitelist and Escrow
@license Apache-2.0
@notice One home for role storage and checks. A role set is a uint256 of bit flags; bit
        ADMIN (1) means the same in every contract: it alone changes roles. The other bits
        are per contract; their one Python home is keeper/roles.py, checked against the
        compiled contracts in tests/contracts/test_roles.py.
        Use: `initializes: access`, `exports: (access.roles, access.hasRole, access.setRoles,
        access.renounceRoles)`; grant the first roles with `access._grant` in the constructor.
"""

# ---------------------------------------------------------------- events

event RoleSet:
    account: indexed(address)
    roles: uint256

# ---------------------------------------------------------------- constants

ADMIN: constant(uint256) = 1

# ---------------------------------------------------------------- storage

roles: public(HashMap[address, uint256])

# ---------------------------------------------------------------- external

@external
def setRoles(account: address, roles: uint256):
    """
    @notice Replace the role set of `account`
    @dev ADMIN only; an admin cannot drop its own ADMIN bit here (use renounceRoles)
    @param account Role holder
    @param roles New role bit set
    """
    self._check_role(msg.sender, ADMIN, "access: not admin")
    assert account != empty(address), "access: zero address"
    if account == msg.sender:
        assert roles & ADMIN != 0, "access: admin cannot drop own admin"
    self._set(account, roles)


@external
def renounceRoles():
    """
    @notice Give up every role of the caller (the deployer does this after wiring)
    """
    assert self.roles[msg.sender] != 0, "access: no roles"
    self._set(msg.sender, 0)


@view
@external
def hasRole(account: address, role: uint256) -> bool:
    """
    @notice True if `account` holds every bit of `role` (and `role` is not empty)
    @param account Address
    @param role Role bit(s)
    """
    return self._has(account, role)

# ---------------------------------------------------------------- internal

@view
@internal
def _has(account: address, role: uint256) -> bool:
    return role != 0 and self.roles[account] & role == role


@view
@internal
def _check_role(account: address, any_of: uint256, reason: String[48]):
    # The single role check: `account` must hold at least one bit of `any_of`.
    if self.roles[account] & any_of == 0:
        raw_revert(abi_encode(reason, method_id=method_id("Error(string)")))


@internal
def _grant(account: address, role: uint256):
    # Add `role` to what `account` already holds (constructors).
    if account != empty(address):
        self._set(account, self.roles[account] | role)


@internal
def _set(account: address, roles: uint256):
    self.roles[account] = roles
    log RoleSet(account=account, roles=roles)
