# pragma version 0.4.3
"""
@title Strongroom Multisig: owners and threshold
@license Apache-2.0
@author Strongroom
@notice Safe 1.4.1's OwnerManager: the owners as a singly linked list
    SENTINEL -> owner_1 -> ... -> owner_n -> SENTINEL, the signing threshold, and the owner
    management functions callable only by the multisig itself. Same error codes as Safe:
    GS201 threshold above owner count, GS202 threshold zero, GS203 invalid owner address,
    GS204 duplicate owner, GS205 wrong prevOwner/owner pair.
    Every owner-set rule lives here once: `_check_owner` (an address may be an owner),
    `_check_threshold` (1..count) and `_check_owner_set` (a whole set, for set-up and recovery).
"""

from . import self_authorized

# EVENTS #

event AddedOwner:
    owner: indexed(address)

event RemovedOwner:
    owner: indexed(address)

event ChangedThreshold:
    threshold: uint256

# CONSTANTS #

MAX_OWNERS: constant(uint256) = 16
SENTINEL_OWNERS: constant(address) = 0x0000000000000000000000000000000000000001

# STORAGE #

owners: HashMap[address, address]
ownerCount: uint256
threshold: uint256

# EXTERNAL #


@external
def addOwnerWithThreshold(owner: address, _threshold: uint256):
    """
    @notice Add an owner (inserted at the head of the list) and set the threshold.
    @dev Only through execTransaction (self-call).
    @param owner New owner.
    @param _threshold New threshold.
    """
    self_authorized._only_self()
    self._check_owner(owner)
    assert self.owners[owner] == empty(address), "GS204"
    count: uint256 = self.ownerCount
    assert count < MAX_OWNERS, "too many owners"
    self.owners[owner] = self.owners[SENTINEL_OWNERS]
    self.owners[SENTINEL_OWNERS] = owner
    self.ownerCount = count + 1
    log AddedOwner(owner=owner)
    if self.threshold != _threshold:
        self._change_threshold(_threshold)


@external
def removeOwner(prevOwner: address, owner: address, _threshold: uint256):
    """
    @notice Remove an owner and set the threshold.
    @dev Only through execTransaction (self-call).
    @param prevOwner Owner pointing to `owner` in the linked list (SENTINEL 0x1 for the head).
    @param owner Owner to remove.
    @param _threshold New threshold.
    """
    self_authorized._only_self()
    assert self.ownerCount - 1 >= _threshold, "GS201"
    self._check_link(prevOwner, owner)
    self.owners[prevOwner] = self.owners[owner]
    self.owners[owner] = empty(address)
    self.ownerCount -= 1
    log RemovedOwner(owner=owner)
    if self.threshold != _threshold:
        self._change_threshold(_threshold)


@external
def swapOwner(prevOwner: address, oldOwner: address, newOwner: address):
    """
    @notice Replace `oldOwner` by `newOwner` at the same list position.
    @dev Only through execTransaction (self-call).
    @param prevOwner Owner pointing to `oldOwner` (SENTINEL 0x1 for the head).
    @param oldOwner Owner to replace.
    @param newOwner Replacement owner.
    """
    self_authorized._only_self()
    self._check_owner(newOwner)
    assert self.owners[newOwner] == empty(address), "GS204"
    self._check_link(prevOwner, oldOwner)
    self.owners[newOwner] = self.owners[oldOwner]
    self.owners[prevOwner] = newOwner
    self.owners[oldOwner] = empty(address)
    log RemovedOwner(owner=oldOwner)
    log AddedOwner(owner=newOwner)


@external
def changeThreshold(_threshold: uint256):
    """
    @notice Set the number of owner signatures required.
    @dev Only through execTransaction (self-call).
    @param _threshold New threshold (1..owner count).
    """
    self_authorized._only_self()
    self._change_threshold(_threshold)


@view
@external
def getOwners() -> DynArray[address, MAX_OWNERS]:
    """
    @notice Owners in linked-list order (Safe order: most recently added first).
    @return The owners.
    """
    result: DynArray[address, MAX_OWNERS] = []
    current: address = self.owners[SENTINEL_OWNERS]
    for _: uint256 in range(MAX_OWNERS):
        if current == SENTINEL_OWNERS or current == empty(address):
            break
        result.append(current)
        current = self.owners[current]
    return result


@view
@external
def getThreshold() -> uint256:
    """
    @notice Number of owner signatures required.
    @return The threshold.
    """
    return self.threshold


@view
@external
def isOwner(owner: address) -> bool:
    """
    @notice Whether `owner` is an owner.
    @param owner Address to check.
    @return True for owners.
    """
    return self._is_owner(owner)

# INTERNAL #


@view
@internal
def _is_owner(owner: address) -> bool:
    return owner != SENTINEL_OWNERS and self.owners[owner] != empty(address)


@view
@internal
def _check_owner(owner: address):
    # The one rule for an address that may become an owner (Safe GS203).
    assert owner != empty(address) and owner != SENTINEL_OWNERS and owner != self, "GS203"


@pure
@internal
def _check_threshold(_threshold: uint256, count: uint256):
    assert _threshold <= count, "GS201"
    assert _threshold >= 1, "GS202"


@view
@internal
def _check_owner_set(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    # A whole owner set: threshold in range, every owner valid, no duplicates. Safe's
    # setupOwners reports a repeat of the previous owner as GS203, any other repeat as GS204.
    self._check_threshold(new_threshold, len(new_owners))
    previous: address = SENTINEL_OWNERS
    i: uint256 = 0
    for owner: address in new_owners:
        self._check_owner(owner)
        assert owner != previous, "GS203"
        for j: uint256 in range(i, bound=MAX_OWNERS):
            assert new_owners[j] != owner, "GS204"
        previous = owner
        i += 1


@internal
def _setup_owners(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    # Write a checked set into an empty list (constructor and recovery).
    self._check_owner_set(new_owners, new_threshold)
    current: address = SENTINEL_OWNERS
    for owner: address in new_owners:
        self.owners[current] = owner
        current = owner
    self.owners[current] = SENTINEL_OWNERS
    self.ownerCount = len(new_owners)
    self.threshold = new_threshold


@internal
def _replace_owners(new_owners: DynArray[address, MAX_OWNERS], new_threshold: uint256):
    # Empty the list (RemovedOwner for each), then set up the new one (AddedOwner for each).
    current: address = self.owners[SENTINEL_OWNERS]
    for _: uint256 in range(MAX_OWNERS):
        if current == SENTINEL_OWNERS:
            break
        following: address = self.owners[current]
        self.owners[current] = empty(address)
        log RemovedOwner(owner=current)
        current = following
    self.owners[SENTINEL_OWNERS] = empty(address)
    self._setup_owners(new_owners, new_threshold)
    for owner: address in new_owners:
        log AddedOwner(owner=owner)
    log ChangedThreshold(threshold=new_threshold)


@view
@internal
def _check_link(prev_owner: address, owner: address):
    # `owner` is a listed owner and `prev_owner` points to it.
    assert owner != empty(address) and owner != SENTINEL_OWNERS, "GS203"
    assert self.owners[prev_owner] == owner, "GS205"


@internal
def _change_threshold(_threshold: uint256):
    self._check_threshold(_threshold, self.ownerCount)
    self.threshold = _threshold
    log ChangedThreshold(threshold=_threshold)
