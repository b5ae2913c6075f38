"""Fixtures of the Timelock tests: proposer accounts[1], executor accounts[2], and a 2-of-3
Multisig (owners accounts[4..6]) as the only canceller."""

from __future__ import annotations

import pytest
from timelock_utils import ZERO, timelock_args


@pytest.fixture(scope="module")
def canceller_owners(accounts):
    """Owners of the canceller multisig (ape test accounts: they can sign)."""
    return [accounts[4], accounts[5], accounts[6]]


@pytest.fixture(scope="module")
def canceller(project, accounts, canceller_owners):
    """A 2-of-3 Multisig (contracts/Multisig.vy, no recovery quorum): the canceller."""
    return project.Multisig.deploy([o.address for o in canceller_owners], 2, [], 0, 0,
                                   sender=accounts[0])


@pytest.fixture(scope="module")
def tl(project, accounts, canceller):
    """Timelock: proposer accounts[1], executor accounts[2], canceller the 2-of-3 multisig."""
    return project.Timelock.deploy(*timelock_args([accounts[1]], [accounts[2]], [canceller]),
                                   sender=accounts[0])


@pytest.fixture(scope="module")
def target(project, accounts, tl):
    """A Whitelist administered by the timelock: a real target with observable state."""
    return project.Whitelist.deploy(tl.address, ZERO, 0, [], sender=accounts[0])
