"""Finding 3: the 2-of-3 pauser cannot re-arm the pause forever (cooldown after every pause
ends, also after an admin unpause) and can lift its own pause."""

from __future__ import annotations

import ape
from vault_helpers import op

from scripts.deployments import ETH

DAY = 86400
ETHER = 10**18


def test_pauser_cannot_rearm_when_pause_expires(funded_vault, who, chain, state_of):
    v = funded_vault
    until = v.pause(sender=who.pauser).events.filter(v.Paused)[0].until
    assert v.pausableAt() == until + v.PAUSE_COOLDOWN() == until + 3 * DAY
    chain.mine(timestamp=until)  # the block it expires
    assert not v.isPaused()
    before = state_of(v)
    with ape.reverts("Vault: pause cooldown"):
        v.pause(sender=who.pauser)
    assert state_of(v) == before
    v.withdraw(ETH, who.dest.address, ETHER, op(1), sender=who.customer)  # outflows resume
    chain.mine(timestamp=until + 3 * DAY - 2)
    with ape.reverts("Vault: pause cooldown"):
        v.pause(sender=who.pauser)
    chain.mine(timestamp=until + 3 * DAY)
    v.pause(sender=who.pauser)
    assert v.isPaused()


def test_pauser_cannot_rearm_after_admin_unpause(funded_vault, who):
    v = funded_vault
    v.pause(sender=who.pauser)
    tx = v.unpause(sender=who.admin)
    assert v.pausableAt() == tx.timestamp + 3 * DAY
    with ape.reverts("Vault: pause cooldown"):
        v.pause(sender=who.pauser)
    v.pause(sender=who.admin)  # governance is not bound by the cooldown
    assert v.isPaused()


def test_pauser_lifts_its_own_pause_only(funded_vault, who):
    v = funded_vault
    v.pause(sender=who.pauser)
    tx = v.unpause(sender=who.pauser)
    assert tx.events.filter(v.Unpaused)[0].by == who.pauser.address and not v.isPaused()
    v.withdraw(ETH, who.dest.address, ETHER, op(2), sender=who.customer)
    v.pause(sender=who.admin)
    with ape.reverts("Vault: not own pause"):
        v.unpause(sender=who.pauser)
    with ape.reverts("Vault: not admin"):
        v.unpause(sender=who.customer)
    assert v.isPaused()


def test_pause_expiry_is_an_event(funded_vault, who, chain):
    """Finding 8: a mirror gets an event when a pause ends by itself."""
    v = funded_vault
    until = v.pause(sender=who.pauser).events.filter(v.Paused)[0].until
    with ape.reverts("Vault: no expired pause"):
        v.expirePause(sender=who.stranger)
    chain.mine(timestamp=until)
    tx = v.expirePause(sender=who.stranger)  # anyone
    assert tx.events.filter(v.PauseExpired)[0].ended_at == until
    with ape.reverts("Vault: no expired pause"):  # once per pause
        v.expirePause(sender=who.stranger)
    # an unannounced expiry is announced by the next pause, before its Paused event
    until = v.pause(sender=who.admin).events.filter(v.Paused)[0].until
    chain.mine(timestamp=until + 10)
    tx = v.pause(sender=who.admin)
    assert [e.event_name for e in tx.events] == \
        ["PauseExpired", "Paused"]
    assert tx.events.filter(v.PauseExpired)[0].ended_at == until
    v.unpause(sender=who.admin)  # a lifted pause is announced by Unpaused, not expiry
    with ape.reverts("Vault: no expired pause"):
        v.expirePause(sender=who.stranger)
