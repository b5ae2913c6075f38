# pragma version 0.4.3
"""
@title Emergency pause that lifts itself, with a cooldown against re-arming
@license Apache-2.0
@notice One home for the vault's pause rules. PAUSER (the 2-of-3 emergency Multisig) or
        ADMIN pauses for PAUSE_DURATION (7 days); it lifts itself then. ADMIN may unpause at
        any time, PAUSER may lift its own pause. PAUSER may not pause again until
        PAUSE_COOLDOWN after the last pause ended (expired or lifted), so it cannot keep
        the contract frozen forever; ADMIN (the Timelock) is not bound by the cooldown.
        Every end of a pause is an event: Unpaused, or PauseExpired (`expirePause`, or
        announced by the next pause), so mirrors never compute it from the clock.
        Use: `initializes: pausing`, export the views and `expirePause`, and call `_pause` /
        `_unpause` from the contract's own role-checked `pause` / `unpause`.
"""

# ---------------------------------------------------------------- events

event Paused:
    by: indexed(address)
    until: uint256

event Unpaused:
    by: indexed(address)

event PauseExpired:
    ended_at: uint256

# ---------------------------------------------------------------- constants

PAUSE_DURATION: constant(uint256) = 7 * 86400
PAUSE_COOLDOWN: constant(uint256) = 3 * 86400

# ---------------------------------------------------------------- storage

paused_at: public(uint256)
# end of the current or last pause (expiry, or when it was lifted)
pause_ends: public(uint256)
paused_by: public(address)
# a pause whose end has not been announced yet (by Unpaused or PauseExpired)
pause_open: public(bool)

# ---------------------------------------------------------------- external

@external
def expirePause():
    """
    @notice Announce that the last pause ended by itself (PauseExpired), for mirrors
    @dev Anyone, once the pause's PAUSE_DURATION is over; once per pause. A new pause
         announces an unannounced expiry first, so the event sequence is always complete.
    """
    assert self.pause_open and not self._is_paused(), "Vault: no expired pause"
    self._announce_expiry()


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
        return self.pause_ends
    return 0


@view
@external
def pausableAt() -> uint256:
    """
    @notice Earliest time PAUSER may pause again (PAUSE_COOLDOWN after the last pause)
    """
    return self._pausable_at()

# ---------------------------------------------------------------- internal

@internal
def _pause(by: address, by_admin: bool):
    # The caller's role was checked by the contract; `by_admin` skips the cooldown.
    assert not self._is_paused(), "Vault: already paused"
    if not by_admin:
        assert block.timestamp >= self._pausable_at(), "Vault: pause cooldown"
    self._announce_expiry()
    until: uint256 = block.timestamp + PAUSE_DURATION
    self.paused_at = block.timestamp
    self.pause_ends = until
    self.paused_by = by
    self.pause_open = True
    log Paused(by=by, until=until)


@internal
def _unpause(by: address, by_admin: bool):
    # The caller's role was checked by the contract; a non-admin lifts only its own pause.
    assert self._is_paused(), "Vault: not paused"
    if not by_admin:
        assert by == self.paused_by, "Vault: not own pause"
    self.pause_ends = block.timestamp
    self.pause_open = False
    log Unpaused(by=by)


@view
@internal
def _is_paused() -> bool:
    return block.timestamp < self.pause_ends


@view
@internal
def _pausable_at() -> uint256:
    if self.pause_ends == 0:
        return 0
    return self.pause_ends + PAUSE_COOLDOWN


@internal
def _announce_expiry():
    if self.pause_open:
        self.pause_open = False
        log PauseExpired(ended_at=self.pause_ends)
