# pragma version 0.4.3
"""
@title Strongroom trade-finance escrow
@license Apache-2.0
@notice A payer locks USDC for a supplier until a deadline. The ORACLE (delivery
        confirmation service) releases it to the supplier before the deadline; after
        the deadline the payer can take a refund. COMPLIANCE_OFFICER can freeze a
        disputed escrow: while frozen neither release nor refund is possible until it
        is unfrozen, or resolved by compliance to the supplier or to the payer.
        Token calls tolerate tokens without a return value; the locked amount is the
        balance delta actually received.
"""

# ---------------------------------------------------------------- interfaces

from ethereum.ercs import IERC20

# ---------------------------------------------------------------- events

event EscrowCreated:
    id: indexed(uint256)
    payer: indexed(address)
    supplier: indexed(address)
    amount: uint256
    expiry: uint256
    reference: bytes32

event EscrowReleased:
    id: indexed(uint256)
    supplier: indexed(address)
    amount: uint256

event EscrowRefunded:
    id: indexed(uint256)
    payer: indexed(address)
    amount: uint256

event EscrowFrozen:
    id: indexed(uint256)
    by: indexed(address)

event EscrowUnfrozen:
    id: indexed(uint256)
    by: indexed(address)

event EscrowResolved:
    id: indexed(uint256)
    to: indexed(address)
    amount: uint256

event RoleSet:
    account: indexed(address)
    roles: Roles

# ---------------------------------------------------------------- constants

flag Roles:
    ADMIN
    ORACLE
    COMPLIANCE_OFFICER

struct Deal:
    payer: address
    supplier: address
    amount: uint256
    expiry: uint256
    status: uint8
    frozen: bool

STATUS_NONE: public(constant(uint8)) = 0
STATUS_LOCKED: public(constant(uint8)) = 1
STATUS_RELEASED: public(constant(uint8)) = 2
STATUS_REFUNDED: public(constant(uint8)) = 3
MAX_DURATION: public(constant(uint256)) = 365 * 86400

# ---------------------------------------------------------------- storage

TOKEN: public(immutable(address))
roles: public(HashMap[address, Roles])
escrows: public(HashMap[uint256, Deal])
escrow_count: public(uint256)

# ---------------------------------------------------------------- constructor

@deploy
def __init__(token: address, admin: address, oracle: address, compliance: address):
    """
    @param token The stablecoin held in escrow (USDC)
    @param admin ADMIN (the Timelock)
    @param oracle ORACLE (delivery confirmation service)
    @param compliance COMPLIANCE_OFFICER
    """
    assert token != empty(address) and admin != empty(address), "Escrow: zero address"
    TOKEN = token
    self._set_roles(admin, Roles.ADMIN)
    if oracle != empty(address):
        self._set_roles(oracle, self.roles[oracle] | Roles.ORACLE)
    if compliance != empty(address):
        self._set_roles(compliance, self.roles[compliance] | Roles.COMPLIANCE_OFFICER)

# ---------------------------------------------------------------- external

@external
@nonreentrant
def create(supplier: address, amount: uint256, expiry: uint256, reference: bytes32) -> uint256:
    """
    @notice Lock `amount` USDC of the caller for `supplier` until `expiry`
    @dev Pulls with transferFrom (approve first); the locked amount is the balance delta
    @param supplier Beneficiary on delivery
    @param amount Amount in base units
    @param expiry Unix time after which the payer may be refunded
    @param reference Trade reference (letter of credit, invoice...)
    @return Escrow id
    """
    assert supplier != empty(address) and supplier != msg.sender, "Escrow: bad supplier"
    assert amount != 0, "Escrow: zero amount"
    assert expiry > block.timestamp, "Escrow: expiry in the past"
    assert expiry <= block.timestamp + MAX_DURATION, "Escrow: expiry too far"
    before: uint256 = staticcall IERC20(TOKEN).balanceOf(self)
    self._token_call(abi_encode(msg.sender, self, amount, method_id=method_id("transferFrom(address,address,uint256)")))
    received: uint256 = staticcall IERC20(TOKEN).balanceOf(self) - before
    assert received != 0, "Escrow: nothing received"
    id: uint256 = self.escrow_count + 1
    self.escrow_count = id
    self.escrows[id] = Deal(payer=msg.sender, supplier=supplier, amount=received, expiry=expiry, status=STATUS_LOCKED, frozen=False)
    log EscrowCreated(id=id, payer=msg.sender, supplier=supplier, amount=received, expiry=expiry, reference=reference)
    return id


@external
@nonreentrant
def release(id: uint256):
    """
    @notice Pay the supplier on confirmed delivery (before expiry)
    @dev ORACLE only; not while frozen
    @param id Escrow id
    """
    assert Roles.ORACLE in self.roles[msg.sender], "Escrow: not oracle"
    deal: Deal = self._open(id)
    assert block.timestamp < deal.expiry, "Escrow: expired"
    self.escrows[id].status = STATUS_RELEASED
    self._pay(deal.supplier, deal.amount)
    log EscrowReleased(id=id, supplier=deal.supplier, amount=deal.amount)


@external
@nonreentrant
def refund(id: uint256):
    """
    @notice Return the funds to the payer after expiry
    @dev Payer only; not while frozen
    @param id Escrow id
    """
    deal: Deal = self._open(id)
    assert msg.sender == deal.payer, "Escrow: not payer"
    assert block.timestamp >= deal.expiry, "Escrow: not expired"
    self.escrows[id].status = STATUS_REFUNDED
    self._pay(deal.payer, deal.amount)
    log EscrowRefunded(id=id, payer=deal.payer, amount=deal.amount)


@external
def freeze(id: uint256):
    """
    @notice Freeze a disputed escrow: neither release nor refund until unfrozen/resolved
    @dev COMPLIANCE_OFFICER only
    @param id Escrow id
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Escrow: not compliance"
    deal: Deal = self._locked(id)
    assert not deal.frozen, "Escrow: already frozen"
    self.escrows[id].frozen = True
    log EscrowFrozen(id=id, by=msg.sender)


@external
def unfreeze(id: uint256):
    """
    @notice Lift a freeze; normal release/refund rules apply again
    @dev COMPLIANCE_OFFICER only
    @param id Escrow id
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Escrow: not compliance"
    deal: Deal = self._locked(id)
    assert deal.frozen, "Escrow: not frozen"
    self.escrows[id].frozen = False
    log EscrowUnfrozen(id=id, by=msg.sender)


@external
@nonreentrant
def resolve(id: uint256, to_supplier: bool):
    """
    @notice Settle a frozen (disputed) escrow to the supplier or back to the payer
    @dev COMPLIANCE_OFFICER only; the escrow must be frozen
    @param id Escrow id
    @param to_supplier True pays the supplier, False refunds the payer
    """
    assert Roles.COMPLIANCE_OFFICER in self.roles[msg.sender], "Escrow: not compliance"
    deal: Deal = self._locked(id)
    assert deal.frozen, "Escrow: not frozen"
    to: address = deal.payer
    if to_supplier:
        to = deal.supplier
        self.escrows[id].status = STATUS_RELEASED
    else:
        self.escrows[id].status = STATUS_REFUNDED
    self.escrows[id].frozen = False
    self._pay(to, deal.amount)
    log EscrowResolved(id=id, to=to, amount=deal.amount)


@external
def setRoles(account: address, roles: Roles):
    """
    @notice Replace the role set of `account`
    @dev ADMIN only; an admin cannot drop its own ADMIN flag
    @param account Role holder
    @param roles New role bit set
    """
    assert Roles.ADMIN in self.roles[msg.sender], "Escrow: not admin"
    assert account != empty(address), "Escrow: zero address"
    if account == msg.sender:
        assert Roles.ADMIN in roles, "Escrow: admin cannot drop own admin"
    self._set_roles(account, roles)

# ---------------------------------------------------------------- internal

@view
@internal
def _locked(id: uint256) -> Deal:
    deal: Deal = self.escrows[id]
    assert deal.status == STATUS_LOCKED, "Escrow: not locked"
    return deal


@view
@internal
def _open(id: uint256) -> Deal:
    deal: Deal = self._locked(id)
    assert not deal.frozen, "Escrow: frozen"
    return deal


@internal
def _pay(to: address, amount: uint256):
    self._token_call(abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")))


@internal
def _token_call(data: Bytes[100]):
    ok: bool = False
    response: Bytes[256] = b""
    ok, response = raw_call(TOKEN, data, max_outsize=256, revert_on_failure=False)
    if not ok:
        if len(response) != 0 and len(response) < 256:
            raw_revert(response)
        raise "Escrow: token call failed"
    if len(response) != 0:
        assert len(response) >= 32, "Escrow: bad token return"
        assert convert(slice(response, 0, 32), uint256) == 1, "Escrow: token returned false"


@internal
def _set_roles(account: address, roles: Roles):
    self.roles[account] = roles
    log RoleSet(account=account, roles=roles)
