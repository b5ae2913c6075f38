"""Whitelist: activation delay, immediate removal, events, roles; every revert reason."""

from __future__ import annotations

import ape
import pytest

DAY = 86400
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def wl(project, accounts):
    return project.Whitelist.deploy(accounts[1], accounts[2], DAY, [accounts[5].address],
                                    sender=accounts[0])


def test_genesis_entries_active_and_default_delay(project, accounts, wl):
    assert wl.isActive(accounts[5]) and wl.activation_delay() == DAY
    default = project.Whitelist.deploy(accounts[1], ZERO, 0, [], sender=accounts[0])
    assert default.activation_delay() == default.DEFAULT_ACTIVATION_DELAY() == DAY


def test_add_activates_after_delay(wl, accounts, chain):
    tx = wl.add(accounts[6], sender=accounts[2])
    [ev] = tx.events.filter(wl.AddressAdded)
    assert ev.account == accounts[6].address and ev.activates_at == tx.timestamp + DAY
    assert wl.isListed(accounts[6]) and not wl.isActive(accounts[6])
    chain.mine(timestamp=ev.activates_at - 1)
    assert not wl.isActive(accounts[6])
    chain.mine(timestamp=ev.activates_at)
    assert wl.isActive(accounts[6])


def test_genesis_entries_are_protected_from_compliance(wl, accounts):
    """Finding 1: compliance cannot empty the tier addresses (sweeps to cold always work)."""
    assert wl.protected(accounts[5])
    with ape.reverts("Whitelist: protected"):
        wl.remove(accounts[5], sender=accounts[2])
    assert wl.isActive(accounts[5])
    with ape.reverts("Whitelist: not admin"):
        wl.setProtected(accounts[5], False, sender=accounts[2])
    tx = wl.setProtected(accounts[5], False, sender=accounts[1])  # governance only
    assert not tx.events.filter(wl.ProtectionSet)[0].protected
    with ape.reverts("Whitelist: not listed"):
        wl.setProtected(accounts[9], True, sender=accounts[1])


def test_remove_is_immediate(wl, accounts):
    wl.setProtected(accounts[5], False, sender=accounts[1])
    tx = wl.remove(accounts[5], sender=accounts[2])
    assert tx.events.filter(wl.AddressRemoved)[0].account == accounts[5].address
    assert not wl.isActive(accounts[5]) and not wl.isListed(accounts[5])


def test_re_add_restarts_delay(wl, accounts):
    wl.setProtected(accounts[5], False, sender=accounts[1])
    wl.remove(accounts[5], sender=accounts[2])
    wl.add(accounts[5], sender=accounts[2])
    assert not wl.isActive(accounts[5])


def test_admin_changes_delay_and_roles(wl, accounts, chain):
    tx = wl.setActivationDelay(3600, sender=accounts[1])
    assert tx.events.filter(wl.ActivationDelayChanged)[0].new_delay == 3600
    wl.setRoles(accounts[7], 2, sender=accounts[1])
    tx = wl.add(accounts[8], sender=accounts[7])
    assert tx.events.filter(wl.AddressAdded)[0].activates_at == tx.timestamp + 3600


def test_reverts_change_nothing(wl, accounts):
    cases = [
        (wl.add, (accounts[6],), accounts[3], "Whitelist: not compliance"),
        (wl.add, (ZERO,), accounts[2], "Whitelist: zero address"),
        (wl.add, (accounts[5],), accounts[2], "Whitelist: already listed"),
        (wl.remove, (accounts[6],), accounts[2], "Whitelist: not listed"),
        (wl.remove, (accounts[5],), accounts[3], "Whitelist: not compliance"),
        (wl.setProtected, (accounts[5], False), accounts[2], "Whitelist: not admin"),
        (wl.setActivationDelay, (10,), accounts[2], "Whitelist: not admin"),
        (wl.setActivationDelay, (0,), accounts[1], "Whitelist: zero delay"),
        (wl.setActivationDelay, (31 * DAY,), accounts[1], "Whitelist: delay too long"),
        (wl.remove, (accounts[5],), accounts[2], "Whitelist: protected"),
        (wl.setRoles, (accounts[3], 2), accounts[2], "access: not admin"),
        (wl.setRoles, (ZERO, 2), accounts[1], "access: zero address"),
        (wl.setRoles, (accounts[1], 2), accounts[1], "access: admin cannot drop own admin"),
    ]
    for fn, args, sender, reason in cases:
        before = (wl.activates_at(accounts[5]), wl.activates_at(accounts[6]),
                  wl.activation_delay(), wl.roles(accounts[3]), wl.roles(accounts[1]),
                  wl.protected(accounts[5]))
        with ape.reverts(reason):
            fn(*args, sender=sender)
        assert before == (wl.activates_at(accounts[5]), wl.activates_at(accounts[6]),
                          wl.activation_delay(), wl.roles(accounts[3]), wl.roles(accounts[1]),
                          wl.protected(accounts[5]))


@pytest.mark.parametrize("args,reason", [
    ((ZERO, ZERO, 0, []), "Whitelist: zero admin"),
    (("a1", ZERO, 31 * DAY, []), "Whitelist: delay too long"),
    (("a1", ZERO, 0, [ZERO]), "Whitelist: zero address"),
])
def test_constructor_reverts(project, accounts, args, reason, assert_deploy_reverts):
    args = [accounts[1].address if a == "a1" else a for a in args]
    assert_deploy_reverts(project.Whitelist, *args, reason=reason, sender=accounts[0])
