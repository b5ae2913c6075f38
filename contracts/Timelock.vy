# pragma version 0.4.3
"""
@title Strongroom governance timelock
@license Apache-2.0
@notice OpenZeppelin TimelockController semantics in Vyper: operations are scheduled by
        PROPOSER (the 3-of-5 cold Multisig), become ready after the minimum delay
        (48 h), are executed by EXECUTOR and can be cancelled by CANCELLER (multisigs
        only: the cold Multisig and the compliance Multisig) while pending. Operation ids are
        keccak256(abi.encode(target, value, data, predecessor, salt)) and
        keccak256(abi.encode(targets, values, payloads, predecessor, salt)), identical to
        OpenZeppelin's, so off-the-shelf tooling can compute them.
        Differences from OpenZeppelin: roles are bit flags; the minimum delay has an
        immutable floor (MIN_DELAY_FLOOR) that `updateDelay` can never go below, so a
        proposer cannot shorten governance below the floor even through the timelock
        itself; there is no optional bootstrap admin (roles change only through the
        timelock's own operations); calldata is bounded (MAX_DATA bytes, MAX_BATCH calls);
        CANCELLER is for contracts only; and there is a protected path no canceller can block.
        Protected path: an operation scheduled with a delay of at least PROTECTED_DELAY
        (immutable, above the minimum delay: 96 h in deployment) is protected while pending:
        only a PROPOSER can cancel it, and a PROPOSER may execute it as well as an EXECUTOR.
        So a canceller can veto the 48 h path but can never stop the proposer from revoking
        that canceller, replacing the whitelist or migrating: it only makes the proposer wait
        PROTECTED_DELAY instead of the minimum delay. A protected operation's predecessor must
        be protected or done (else cancelling the predecessor would block it). The minimum
        delay always stays below PROTECTED_DELAY, so the cancellable path always exists.
        Mirrors: an operation is protected iff its CallScheduled `delay` >= PROTECTED_DELAY;
        it stops being protected on Cancelled or CallExecuted.
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
# longest PROTECTED_DELAY accepted: the protected path must stay a usable one
MAX_PROTECTED_DELAY: constant(uint256) = 30 * 86400
# EIP-7702 delegation designator: code an EOA carries while one private key still controls it
DELEGATION_PREFIX: constant(Bytes[3]) = b"\xef\x01\x00"

# ---------------------------------------------------------------- storage

MIN_DELAY_FLOOR: public(immutable(uint256))
PROTECTED_DELAY: public(immutable(uint256))
roles: public(HashMap[address, Roles])
# 0 = unset, 1 = done, otherwise the ready-at timestamp
getTimestamp: public(HashMap[bytes32, uint256])
getMinDelay: public(uint256)
# true while a pending operation was scheduled with delay >= PROTECTED_DELAY
protected_ops: HashMap[bytes32, bool]

# ---------------------------------------------------------------- constructor

@deploy
@payable
def __init__(
    min_delay: uint256,
    min_delay_floor: uint256,
    protected_delay: uint256,
    proposers: DynArray[address, MAX_MEMBERS],
    executors: DynArray[address, MAX_MEMBERS],
    cancellers: DynArray[address, MAX_MEMBERS],
):
    """
    @param min_delay Initial minimum delay in seconds (48 h in deployment)
    @param min_delay_floor Immutable floor for the minimum delay
    @param protected_delay Immutable delay from which an operation is protected (cancellable
           by a PROPOSER only; 96 h in deployment): above min_delay, at most
           MAX_PROTECTED_DELAY
    @param proposers PROPOSER holders
    @param executors EXECUTOR holders (empty(address) = anyone may execute)
    @param cancellers CANCELLER holders: contracts (multisigs) only, see the contract @dev
    """
    assert min_delay >= min_delay_floor, "Timelock: delay below floor"
    assert protected_delay > min_delay, "Timelock: protected delay too short"
    assert protected_delay <= MAX_PROTECTED_DELAY, "Timelock: protected delay too long"
    MIN_DELAY_FLOOR = min_delay_floor
    PROTECTED_DELAY = protected_delay
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
    @dev PROPOSER only; `delay` must be >= getMinDelay. With `delay` >= PROTECTED_DELAY the
         operation is protected (see the contract notice)
    @param target Called contract
    @param amount Wei sent with the call
    @param data Calldata
    @param predecessor Operation that must be done first (0 = none)
    @param salt Disambiguates identical operations
    @param delay Seconds until ready
    """
    assert Roles.PROPOSER in self.roles[msg.sender], "Timelock: not proposer"
    id: bytes32 = self._hash_one(target, amount, data, predecessor, salt)
    self._schedule(id, delay, predecessor)
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
    @dev PROPOSER only; protected as `schedule` when `delay` >= PROTECTED_DELAY
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
    self._schedule(id, delay, predecessor)
    for i: uint256 in range(len(targets), bound=MAX_BATCH):
        log CallScheduled(id=id, index=i, target=targets[i], value=values[i], data=payloads[i], predecessor=predecessor, delay=delay)
    if salt != empty(bytes32):
        log CallSalt(id=id, salt=salt)


@external
def cancel(id: bytes32):
    """
    @notice Cancel a pending operation
    @dev CANCELLER only; a protected operation (scheduled with delay >= PROTECTED_DELAY)
         PROPOSER only, so no canceller can block the proposer's protected path
    @param id Operation id
    """
    if self.protected_ops[id]:
        assert Roles.PROPOSER in self.roles[msg.sender], "Timelock: protected, proposer only"
    else:
        assert Roles.CANCELLER in self.roles[msg.sender], "Timelock: not canceller"
    assert self._is_pending(id), "Timelock: operation not pending"
    self.getTimestamp[id] = 0
    self.protected_ops[id] = False
    log Cancelled(id=id)


@external
@payable
def execute(target: address, amount: uint256, payload: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32):
    """
    @notice Execute a ready operation
    @dev EXECUTOR only (or anyone if empty(address) holds EXECUTOR; a protected operation
         also a PROPOSER). Bubbles the target's revert reason.
    @param target Called contract
    @param amount Wei sent with the call
    @param payload Calldata
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt used at scheduling
    """
    id: bytes32 = self._hash_one(target, amount, payload, predecessor, salt)
    self._check_executor(id)
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
    @dev EXECUTOR only (or anyone if empty(address) holds EXECUTOR; a protected operation
         also a PROPOSER)
    @param targets Called contracts
    @param values Wei per call
    @param payloads Calldata per call
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt used at scheduling
    """
    assert len(targets) == len(values) and len(targets) == len(payloads), "Timelock: length mismatch"
    id: bytes32 = self._hash_batch(targets, values, payloads, predecessor, salt)
    self._check_executor(id)
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
         MIN_DELAY_FLOOR, always below PROTECTED_DELAY (so the cancellable path remains)
    @param new_delay Seconds
    """
    assert msg.sender == self, "Timelock: unauthorized caller"
    assert new_delay >= MIN_DELAY_FLOOR, "Timelock: delay below floor"
    assert new_delay < PROTECTED_DELAY, "Timelock: delay not below protected"
    log MinDelayChange(old_duration=self.getMinDelay, new_duration=new_delay)
    self.getMinDelay = new_delay


@external
def setRoles(account: address, roles: Roles):
    """
    @notice Replace the role set of `account`
    @dev Only the timelock itself (through a scheduled operation). CANCELLER only to a
         contract (a multisig), never to an EOA: see the contract @dev
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
    self._set_roles(msg.sender, empty(Roles))


@view
@external
def hashOperation(target: address, amount: uint256, data: Bytes[MAX_DATA], predecessor: bytes32, salt: bytes32) -> bytes32:
    """
    @notice Operation id of a single call (same as OpenZeppelin)
    @param target Called contract
    @param amount Wei sent with the call
    @param data Calldata
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt
    @return keccak256(abi.encode(target, amount, data, predecessor, salt))
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
    @param targets Called contracts
    @param values Wei per call
    @param payloads Calldata per call
    @param predecessor Operation that must be done first (0 = none)
    @param salt Salt
    @return keccak256(abi.encode(targets, values, payloads, predecessor, salt))
    """
    return self._hash_batch(targets, values, payloads, predecessor, salt)


@view
@external
def isOperation(id: bytes32) -> bool:
    """
    @notice True if the operation was ever scheduled and not cancelled
    @param id Operation id
    """
    return self.getTimestamp[id] != 0


@view
@external
def isOperationPending(id: bytes32) -> bool:
    """
    @notice True if scheduled and not yet executed (ready or waiting)
    @param id Operation id
    """
    return self._is_pending(id)


@view
@external
def isOperationReady(id: bytes32) -> bool:
    """
    @notice True if pending and its delay has passed
    @param id Operation id
    """
    return self._is_ready(id)


@view
@external
def isOperationDone(id: bytes32) -> bool:
    """
    @notice True if executed
    @param id Operation id
    """
    return self.getTimestamp[id] == DONE_TIMESTAMP


@view
@external
def isOperationProtected(id: bytes32) -> bool:
    """
    @notice True if pending and scheduled with delay >= PROTECTED_DELAY: only a PROPOSER can
            cancel it, and a PROPOSER may execute it
    @param id Operation id
    @return Whether the operation is protected
    """
    return self.protected_ops[id]


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
def _schedule(id: bytes32, delay: uint256, predecessor: bytes32):
    assert self.getTimestamp[id] == 0, "Timelock: operation already scheduled"
    assert delay >= self.getMinDelay, "Timelock: insufficient delay"
    protected: bool = delay >= PROTECTED_DELAY
    if protected and predecessor != empty(bytes32):
        # a cancellable predecessor would let a canceller block the protected operation
        safe: bool = self.protected_ops[predecessor] or self.getTimestamp[predecessor] == DONE_TIMESTAMP
        assert safe, "Timelock: predecessor not protected"
    self.getTimestamp[id] = block.timestamp + delay
    self.protected_ops[id] = protected


@view
@internal
def _check_executor(id: bytes32):
    if Roles.EXECUTOR in self.roles[empty(address)]:
        return
    if self.protected_ops[id] and Roles.PROPOSER in self.roles[msg.sender]:
        return  # no executor can stall the protected path either
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
    self.protected_ops[id] = False


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
