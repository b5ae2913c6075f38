"""No single key can block governance: cancellers are contracts (multisigs), never EOAs."""

from __future__ import annotations

import ape
import pytest
from timelock_utils import CANCELLER, EXECUTOR, ZERO, schedule_and_wait, timelock_args

from scripts.deployments import derived_signer

NOT_CONTRACT = "Timelock: canceller must be a contract"


@pytest.fixture
def delegated_eoa(chain):
    """An EOA carrying an EIP-7702 delegation designator (0xef0100 || implementation) as code:
    its EXTCODESIZE is 23, yet one private key controls it."""
    eoa = derived_signer(40).address
    code = "0xef0100" + "11" * 20
    chain.provider.make_request("anvil_setCode", [eoa, code])
    assert len(bytes(chain.provider.get_code(eoa))) == 23
    return eoa


def test_constructor_refuses_an_eoa_canceller(project, accounts, canceller,
                                              assert_deploy_reverts, delegated_eoa):
    for bad in (accounts[3], ZERO, delegated_eoa):
        assert_deploy_reverts(project.Timelock,
                              *timelock_args([accounts[1]], [accounts[2]], [canceller, bad]),
                              reason=NOT_CONTRACT, sender=accounts[0])


def test_constructor_takes_a_multisig_canceller(tl, canceller, accounts):
    assert tl.roles(canceller) == CANCELLER and tl.hasRole(canceller, CANCELLER)
    assert tl.roles(accounts[3]) == 0


def test_role_grant_refuses_an_eoa_canceller(tl, accounts, chain, delegated_eoa):
    for i, bad in enumerate((accounts[3].address, ZERO, delegated_eoa)):
        grant = bytes(tl.setRoles.encode_input(bad, CANCELLER | EXECUTOR))
        schedule_and_wait(tl, chain, accounts[1], tl, grant, salt=bytes([i + 1]) * 32)
        with ape.reverts(NOT_CONTRACT):
            tl.execute(tl.address, 0, grant, b"\x00" * 32, bytes([i + 1]) * 32,
                       sender=accounts[2])
        assert tl.roles(bad) == 0


def test_role_grant_takes_a_contract_canceller(project, tl, accounts, chain, canceller_owners):
    second = project.Multisig.deploy([o.address for o in canceller_owners], 3, [], 0, 0,
                                     sender=accounts[0])
    grant = bytes(tl.setRoles.encode_input(second.address, CANCELLER))
    schedule_and_wait(tl, chain, accounts[1], tl, grant)
    tx = tl.execute(tl.address, 0, grant, b"\x00" * 32, b"\x00" * 32, sender=accounts[2])
    (event,) = tx.events.filter(tl.RoleSet)
    assert event.account == second.address and event.roles == CANCELLER
    assert tl.hasRole(second, CANCELLER)
    # an EOA may still hold the other roles (only cancelling is reserved to contracts)
    grant_eoa = bytes(tl.setRoles.encode_input(accounts[3].address, EXECUTOR))
    schedule_and_wait(tl, chain, accounts[1], tl, grant_eoa)
    tl.execute(tl.address, 0, grant_eoa, b"\x00" * 32, b"\x00" * 32, sender=accounts[2])
    assert tl.roles(accounts[3]) == EXECUTOR

