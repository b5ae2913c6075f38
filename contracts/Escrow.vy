# pragma version 0.4.3
"""
@title Strongroom trade-finance escrow
@license Apache-2.0
@notice A payer locks USDC for a supplier until a deadline. The ORACLE (delivery
        confirmation service) releases it to the supplier before the deadline; after
        the deadline the payer can take a refund. COMPLIANCE_OFFICER (the 2-of-3
        compliance Multisig) can freeze a disputed escrow: while frozen neither release
        nor refund is possible until it is unfrozen (by compliance or ADMIN), or resolved.
        Resolution takes two distinct parties: compliance proposes where the funds go
        (`proposeResolution`), and the party that loses by it (the payer for a payment to
        the supplier, the supplier for a refund) or ADMIN (the Timelock: cold 3-of-5 +
        48 h) confirms it with `resolve`, naming the same direction, so a proposal changed
        in flight cannot be confirmed by mistake. The proposer can never confirm its own
        proposal. Compliance alone can therefore freeze, but never pay anyone.
        Token calls go through the shared SafeERC20 module; the locked amount is the
        balance delta actually received.
"""

# ---------------------------------------------------------------- interfaces

from modules import access
from modules import safe_erc20

initializes: access

exports: (access.roles, access.hasRole, access.setRoles, access.renounceRoles)

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

event EscrowResolutionProposed:
    id: indexed(uint256)
    to: indexed(address)
    by: indexed(address)

event EscrowResolved:
    id: indexed(uint256)
    to: indexed(address)
    amount: uint256

# ---------------------------------------------------------------- constants

# Role bits (keeper/roles.py EscrowRole is their Python home).
ADMIN: public(constant(uint256)) = access.ADMIN
ORACLE: public(constant(uint256)) = 2
COMPLIANCE_OFFICER: public(constant(uint256)) = 4

struct Deal:
    payer: address
    supplier: address
    amount: uint256
    expiry: uint256
    status: uint8
    frozen: bool

struct Proposal:
    proposer: address
    to_supplier: bool

STATUS_NONE: public(constant(uint8)) = 0
STATUS_LOCKED: public(constant(uint8)) = 1
STATUS_RELEASED: public(constant(uint8)) = 2
STATUS_REFUNDED: public(constant(uint8)) = 3
MAX_DURATION: public(constant(uint256)) = 365 * 86400

# ---------------------------------------------------------------- storage

TOKEN: public(immutable(address))
escrows: public(HashMap[uint256, Deal])
escrow_count: public(uint256)
# pending resolution of a frozen escrow (proposer empty = none)
proposals: public(HashMap[uint256, Proposal])

# ---------------------------------------------------------------- constructor

@deploy
def __init__(token: address, admin: address, oracle: address, compliance: address):
    """
    @param token The stablecoin held in escrow (USDC)
    @param admin ADMIN (the Timelock)
    @param oracle ORACLE (delivery confirmation service)
    @param compliance COMPLIANCE_OFFICER (the compliance Multisig)
    """
    assert token != empty(address) and admin != empty(address), "Escrow: zero address"
    TOKEN = token
    access._grant(admin, ADMIN)
    access._grant(oracle, ORACLE)
    access._grant(compliance, COMPLIANCE_OFFICER)

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
    received: uint256 = safe_erc20._pull(TOKEN, msg.sender, amount)
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
    access._check_role(msg.sender, ORACLE, "Escrow: not oracle")
    deal: Deal = self._open(id)
    assert block.timestamp < deal.expiry, "Escrow: expired"
    self.escrows[id].status = STATUS_RELEASED
    safe_erc20._transfer(TOKEN, deal.supplier, deal.amount)
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
    safe_erc20._transfer(TOKEN, deal.payer, deal.amount)
    log EscrowRefunded(id=id, payer=deal.payer, amount=deal.amount)


@external
def freeze(id: uint256):
    """
    @notice Freeze a disputed escrow: neither release nor refund until unfrozen/resolved
    @dev COMPLIANCE_OFFICER only
    @param id Escrow id
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER, "Escrow: not compliance")
    deal: Deal = self._locked(id)
    assert not deal.frozen, "Escrow: already frozen"
    self.escrows[id].frozen = True
    log EscrowFrozen(id=id, by=msg.sender)


@external
def unfreeze(id: uint256):
    """
    @notice Lift a freeze (and drop any pending resolution); normal rules apply again
    @dev COMPLIANCE_OFFICER or ADMIN (so compliance cannot hold an escrow forever)
    @param id Escrow id
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER | ADMIN, "Escrow: not compliance")
    deal: Deal = self._locked(id)
    assert deal.frozen, "Escrow: not frozen"
    self.escrows[id].frozen = False
    self.proposals[id] = empty(Proposal)
    log EscrowUnfrozen(id=id, by=msg.sender)


@external
def proposeResolution(id: uint256, to_supplier: bool):
    """
    @notice Propose settling a frozen escrow to the supplier or back to the payer
    @dev COMPLIANCE_OFFICER only; replaces an earlier proposal. Nothing moves until the
         losing party or ADMIN confirms with `resolve`.
    @param id Escrow id
    @param to_supplier True pays the supplier, False refunds the payer
    """
    access._check_role(msg.sender, COMPLIANCE_OFFICER, "Escrow: not compliance")
    deal: Deal = self._locked(id)
    assert deal.frozen, "Escrow: not frozen"
    self.proposals[id] = Proposal(proposer=msg.sender, to_supplier=to_supplier)
    to: address = deal.payer
    if to_supplier:
        to = deal.supplier
    log EscrowResolutionProposed(id=id, to=to, by=msg.sender)


@external
@nonreentrant
def resolve(id: uint256, to_supplier: bool):
    """
    @notice Confirm compliance's proposed resolution and pay it out
    @dev The second party: the one that loses by the proposal (the payer when it pays the
         supplier, the supplier when it refunds the payer) or ADMIN; never the proposer.
         `to_supplier` must equal the proposal.
    @param id Escrow id
    @param to_supplier The direction the confirmer agrees to
    """
    deal: Deal = self._locked(id)
    assert deal.frozen, "Escrow: not frozen"
    p: Proposal = self.proposals[id]
    assert p.proposer != empty(address), "Escrow: no proposal"
    assert p.to_supplier == to_supplier, "Escrow: proposal differs"
    assert msg.sender != p.proposer, "Escrow: proposer cannot confirm"
    loser: address = deal.supplier
    to: address = deal.payer
    if to_supplier:
        loser = deal.payer
        to = deal.supplier
        self.escrows[id].status = STATUS_RELEASED
    else:
        self.escrows[id].status = STATUS_REFUNDED
    if msg.sender != loser:
        access._check_role(msg.sender, ADMIN, "Escrow: not a confirming party")
    self.escrows[id].frozen = False
    self.proposals[id] = empty(Proposal)
    safe_erc20._transfer(TOKEN, to, deal.amount)
    log EscrowResolved(id=id, to=to, amount=deal.amount)

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
