# pragma version 0.4.3
"""
@title Strongroom governance timelock
@license Apache-2.0
@notice OpenZeppelin TimelockController semantics in Vyper: operations are scheduled by
        PROPOSER (the 3-of-5 cold Multisig), become ready after the minimum delay
        (48 h), are executed by EXECUTOR and can be cancelled by CANCELLER (cold
        Multisig + compliance) while pending. Operation ids are
        keccak256(abi.encode(target, value, data, predecessor, salt)) and
        keccak256(abi.encode(targets, values, payloads, predecessor, salt)), identical to
        OpenZeppelin's, so off-the-shelf tooling can compute them.
        Differences from OpenZeppelin: roles are bit flags; the minimum delay has an
        immutable floor (MIN_DELAY_FLOOR) that `updateDelay` can never go below, so a
        proposer cannot shorten governance below the floor even through the timelock
        itself; there is no optional bootstrap admin (roles change only through the
        timelock's own operations); calldata is bounded (MAX_DATA bytes, MAX_BATCH calls).
        The Timelock is ADMIN of Vault, Whitelist and Escrow: every parameter change and
        every Vault migration (the upgrade path) passes through it.
@dev    Cancellers are contracts (multisigs), never EOAs: the constructor and `setRoles`
        refuse CANCELLER to an address without code. Limits of that check, made once at
        grant time: it proves code, not a quorum (a 1-of-1 Safe, a contract one key
        controls, or a multisig whose owners later lower its threshold to 1 all pass, so
        deployment must grant CANCELLER only to m-of-n multisigs with m >= 2); an address
        whose multisig is not deployed yet (counterfactual CREATE2) is refused until it is;
        an EOA carrying an EIP-7702 delegation designator (code 0xef0100 || target) is
        refused by that prefix; code removed later (possible only inside its creation
        transaction since EIP-6780) is not re-checked.
"""

# ---------------------------------------------------------------- interfaces
# (none)

# ---------------------------------------------------------------- events

event CallScheduled:
    id: indexed(bytes32)
    index: indexed(uint256)
    target: address
    value: uint256
    data: Bytes[MAX_DATA]
    predecessor: bytes32
    delay: uint256

event CallExecuted:
    id: indexed(bytes32)
    index: indexed(uint256)
    target: address
    value: uint256
    data: Bytes[MAX_DATA]

event CallSalt:
    id: indexed(bytes32)
    salt: bytes32

event Cancelled:
    id: indexed(bytes32)

event MinDelayChange:
    old_duration: uint256
    new_duration: uint256

event RoleSet:
    account: indexed(address)
    roles: Roles

# ---------------------------------------------------------------- constants

flag Roles:
    PROPOSER
    EXECUTOR
    CANCELLER

MAX_DATA: constant(uint256) = 4096
MAX_BATCH: constant(uint256) = 16
MAX_RESPONSE: constant(uint256) = 1024
MAX_MEMBERS: constant(uint256) = 16
DONE_TIMESTAMP: constant(uint256) = 1
# EIP-7702 delegation designator: code an EOA carries while one private key still controls it
DELEGATION_PREFIX: constant(Bytes[3]) = b"\xef\x01\x00"

# ---------------------------------------------------------------- storage

MIN_DELAY_FLOOR: public(immutable(uint256))
roles: public(HashMap[address, Roles])
# 0 = unset, 1 = done, otherwise the ready-at timestamp
getTimestamp: public(HashMap[bytes32, uint256])
getMinDelay: public(uint256)

# ---------------------------------------------------------------- constructor

@deploy
@payable
def __init__(
    min_delay: uint256,
    min_delay_floor: uint256,
    proposers: DynArray[address, MAX_MEMBERS],
    executors: DynArray[address, MAX_MEMBERS],
    cancellers: DynArray[address, MAX_MEMBERS],
):
    """
    @param min_delay Initial minimum delay in seconds (48 h in deployment)
    @param min_delay_floor Immutable floor for the minimum delay
    @param proposers PROPOSER holders
    @param executors EXECUTOR holders (empty(address) = anyone may execute)
    @param cancellers CANCELLER holders: contracts (multisigs) only, see `_check_canceller`
    """
    assert min_delay >= min_delay_floor, "Timelock: delay below floor"
    MIN_DELAY_FLOOR = min_delay_floor
    self.getMinDelay = min_delay
    log MinDelayChange(old_duration=0, new_duration=min_delay)
    for a: address in proposers:
        self._grant(a, Roles.PROPOSER)
    for a: address in executors:
        self._grant(a, Roles.EXECUTOR)
    for a: address in cancellers:
        self._grant(a, Roles.CANCELLER)

# ---------------------------------------------------------------- external

@external
@payable
def __default__():
    """
    @notice Accept ETH (for operations that forward value)
    """
    pass


@external
def schedule(target: address, amount: uint256, data: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32, delay: uint256):
    """
    @notice Schedule one call, ready after `delay` seconds
    @dev PROPOSER only; `delay` must be >= getMinDelay
    @param target Called contract
    @param amount Wei sent with the call
    @param data Calldata
    @param predecessor Operation that must be done first (0 = none)
    @param salt Disambiguates identical operations
    @param delay Seconds until ready
    """
    assert Roles.PROPOSER in self.roles[msg.sender], "Timelock: not proposer"
    id: bytes32 = self._hash_one(target, amount, data, predecessor, salt)
    self._schedule(id, delay)
    log CallScheduled(id=id, index=0, target=target, value=amount, data=data, predecessor=predecessor, delay=delay)
    if salt != empty(bytes32):
        log CallSalt(id=id, salt=salt)


@external
def scheduleBatch(
    targets: DynArray[address, MAX_BATCH],
    values: DynArray[uint256, MAX_BATCH],
    payloads: DynArray[Bytes[MAX_DATA], MAX_BATCH],
    predecessor: bytes32,
    salt: bytes32,
    delay: uint256,
):
    """
    @notice Schedule an atomic batch of calls
    @dev PROPOSER only
    @param targets Called contracts
    @param values Wei per call
    @param payloads Calldata per call
    @param predecessor Operation that must be done first (0 = none)
    @param salt Disambiguates identical operations
    @param delay Seconds until ready
    """
    assert Roles.PROPOSER in self.roles[msg.sender], "Timelock: not proposer"
    assert len(targets) == len(values) and len(targets) == len(payloads), "Timelock: length mismatch"
    id: bytes32 = self._hash_batch(targets, values, payloads, predecessor, salt)
    self._schedule(id, delay)
    for i: uint256 in range(len(targets), bound=MAX_BATCH):
        log CallScheduled(id=id, index=i, target=targets[i], value=values[i], data=payloads[i], predecessor=predecessor, delay=delay)
    if salt != empty(bytes32):
        log CallSalt(id=id, salt=salt)


@external
def cancel(id: bytes32):
    """
    @notice Cancel a pending operation
    @dev CANCELLER only
    @param id Operation id
    """
    assert Roles.CANCELLER in self.roles[msg.sender], "Timelock: not canceller"
    assert self._is_pending(id), "Timelock: operation not pending"
    self.getTimestamp[id] = 0
    log Cancelled(id=id)


@external
@payable
def execute(target: address, amount: uint256, payload: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32):
    """
    @notice Execute a ready operation
    @dev EXECUTOR only (or anyone if empty(address) holds EXECUTOR). Bubbles the
         target's revert reason.
    @param target Called contract
    @param amount Wei sent with the call
    @param payload Calldata
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt used at scheduling
    """
    self._check_executor()
    id: bytes32 = self._hash_one(target, amount, payload, predecessor, salt)
    self._before_call(id, predecessor)
    self._call(target, amount, payload)
    log CallExecuted(id=id, index=0, target=target, value=amount, data=payload)
    self._after_call(id)


@external
@payable
def executeBatch(
    targets: DynArray[address, MAX_BATCH],
    values: DynArray[uint256, MAX_BATCH],
    payloads: DynArray[Bytes[MAX_DATA], MAX_BATCH],
    predecessor: bytes32,
    salt: bytes32,
):
    """
    @notice Execute a ready batch atomically
    @dev EXECUTOR only (or anyone if empty(address) holds EXECUTOR)
    @param targets Called contracts
    @param values Wei per call
    @param payloads Calldata per call
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt used at scheduling
    """
    self._check_executor()
    assert len(targets) == len(values) and len(targets) == len(payloads), "Timelock: length mismatch"
    id: bytes32 = self._hash_batch(targets, values, payloads, predecessor, salt)
    self._before_call(id, predecessor)
    for i: uint256 in range(len(targets), bound=MAX_BATCH):
        self._call(targets[i], values[i], payloads[i])
        log CallExecuted(id=id, index=i, target=targets[i], value=values[i], data=payloads[i])
    self._after_call(id)


@external
def updateDelay(new_delay: uint256):
    """
    @notice Change the minimum delay
    @dev Only the timelock itself (i.e. through a scheduled operation); never below
         MIN_DELAY_FLOOR
    @param new_delay Seconds
    """
    assert msg.sender == self, "Timelock: unauthorized caller"
    assert new_delay >= MIN_DELAY_FLOOR, "Timelock: delay below floor"
    log MinDelayChange(old_duration=self.getMinDelay, new_duration=new_delay)
    self.getMinDelay = new_delay


@external
def setRoles(account: address, roles: Roles):
    """
    @notice Replace the role set of `account`
    @dev Only the timelock itself (through a scheduled operation). CANCELLER only to a
         contract (a multisig), never to an EOA: see `_check_canceller`
    @param account Role holder
    @param roles New role bit set
    """
    assert msg.sender == self, "Timelock: unauthorized caller"
    self._set_roles(account, roles)


@external
def renounceRoles():
    """
    @notice Give up every role of the caller
    """
    assert self.roles[msg.sender] != empty(Roles), "Timelock: no roles"
    self.roles[msg.sender] = empty(Roles)
    log RoleSet(account=msg.sender, roles=empty(Roles))


@view
@external
def hashOperation(target: address, amount: uint256, data: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32) -> bytes32:
    """
    @notice Operation id of a single call (same as OpenZeppelin)
    """
    return self._hash_one(target, amount, data, predecessor, salt)


@view
@external
def hashOperationBatch(
    targets: DynArray[address, MAX_BATCH],
    values: DynArray[uint256, MAX_BATCH],
    payloads: DynArray[Bytes[MAX_DATA], MAX_BATCH],
    predecessor: bytes32,
    salt: bytes32,
) -> bytes32:
    """
    @notice Operation id of a batch (same as OpenZeppelin)
    """
    return self._hash_batch(targets, values, payloads, predecessor, salt)


@view
@external
def isOperation(id: bytes32) -> bool:
    """
    @notice True if the operation was ever scheduled and not cancelled
    """
    return self.getTimestamp[id] != 0


@view
@external
def isOperationPending(id: bytes32) -> bool:
    """
    @notice True if scheduled and not yet executed (ready or waiting)
    """
    return self._is_pending(id)


@view
@external
def isOperationReady(id: bytes32) -> bool:
    """
    @notice True if pending and its delay has passed
    """
    return self._is_ready(id)


@view
@external
def isOperationDone(id: bytes32) -> bool:
    """
    @notice True if executed
    """
    return self.getTimestamp[id] == DONE_TIMESTAMP


@view
@external
def hasRole(account: address, role: Roles) -> bool:
    """
    @notice True if `account` holds every flag of `role`
    @dev Same argument order as Vault, Whitelist and Escrow: (account, role)
    @param account Role holder
    @param role Role bit set
    """
    return role in self.roles[account]

# ---------------------------------------------------------------- internal

@pure
@internal
def _hash_one(target: address, amount: uint256, data: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32) -> bytes32:
    return keccak256(abi_encode(target, amount, data, predecessor, salt))


@pure
@internal
def _hash_batch(
    targets: DynArray[address, MAX_BATCH],
    values: DynArray[uint256, MAX_BATCH],
    payloads: DynArray[Bytes[MAX_DATA], MAX_BATCH],
    predecessor: bytes32,
    salt: bytes32,
) -> bytes32:
    return keccak256(abi_encode(targets, values, payloads, predecessor, salt))


@view
@internal
def _is_pending(id: bytes32) -> bool:
    return self.getTimestamp[id] > DONE_TIMESTAMP


@view
@internal
def _is_ready(id: bytes32) -> bool:
    ts: uint256 = self.getTimestamp[id]
    return ts > DONE_TIMESTAMP and ts <= block.timestamp


@internal
def _schedule(id: bytes32, delay: uint256):
    assert self.getTimestamp[id] == 0, "Timelock: operation already scheduled"
    assert delay >= self.getMinDelay, "Timelock: insufficient delay"
    self.getTimestamp[id] = block.timestamp + delay


@view
@internal
def _check_executor():
    if Roles.EXECUTOR in self.roles[empty(address)]:
        return
    assert Roles.EXECUTOR in self.roles[msg.sender], "Timelock: not executor"


@view
@internal
def _before_call(id: bytes32, predecessor: bytes32):
    assert self._is_ready(id), "Timelock: operation is not ready"
    if predecessor != empty(bytes32):
        assert self.getTimestamp[predecessor] == DONE_TIMESTAMP, "Timelock: missing dependency"


@internal
def _after_call(id: bytes32):
    # re-checked after the calls: a re-entrant execution of the same id fails here
    assert self._is_ready(id), "Timelock: operation is not ready"
    self.getTimestamp[id] = DONE_TIMESTAMP


@internal
def _call(target: address, amount: uint256, data: Bytes[MAX_DATA]):
    ok: bool = False
    response: Bytes[MAX_RESPONSE] = b""
    ok, response = raw_call(target, data, max_outsize=MAX_RESPONSE, value=amount, revert_on_failure=False)
    if not ok:
        if len(response) != 0:
            raw_revert(response)
        raise "Timelock: underlying transaction reverted"


@internal
def _grant(account: address, role: Roles):
    self._set_roles(account, self.roles[account] | role)


@internal
def _set_roles(account: address, roles: Roles):
    # the one place roles are written with a grant: every CANCELLER passes _check_canceller
    if Roles.CANCELLER in roles:
        self._check_canceller(account)
    self.roles[account] = roles
    log RoleSet(account=account, roles=roles)


@view
@internal
def _check_canceller(account: address):
    # a canceller vetoes the short path, so no single key may hold it: the limits of this
    # check are in the contract's @dev (module docstring)
    assert account.is_contract, "Timelock: canceller must be a contract"
    assert slice(account.code, 0, 3) != DELEGATION_PREFIX, "Timelock: canceller must be a contract"
