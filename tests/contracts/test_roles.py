"""keeper/roles.py is the one Python home of the contracts' role bits: every bit must match
the compiled contracts, and `hasRole(account, role)` takes the same arguments everywhere."""

from __future__ import annotations

from enum import IntFlag

import pytest
from vyper.ast import nodes, parse_to_ast

from keeper.roles import (
    ROLES_BY_CONTRACT,
    EscrowRole,
    StakingRole,
    TimelockRole,
    VaultRole,
    WhitelistRole,
)
from scripts.deployments import ROOT

ZERO = "0x0000000000000000000000000000000000000000"
DEAD = "0x000000000000000000000000000000000000dEaD"
SHARED = ("Vault", "Whitelist", "Escrow", "StakingPool")  # the contracts built on contracts/modules/access.vy


@pytest.fixture(scope="module")
def deployed(project, accounts):
    """One instance of each contract that uses the shared role module; accounts[1] is ADMIN."""
    admin, dep = accounts[1], accounts[0]
    wl = project.Whitelist.deploy(admin, ZERO, 0, [], sender=dep)
    return {
        "Whitelist": wl,
        "Vault": project.Vault.deploy(admin, wl.address, ZERO, sender=dep),
        "Escrow": project.Escrow.deploy(wl.address, admin, ZERO, ZERO, sender=dep),
        "StakingPool": project.StakingPool.deploy(admin, ZERO, ZERO, ZERO, DEAD, 3600, 0, 0,
                                                  sender=dep),
    }


def test_every_contract_has_one_flag_class_of_distinct_bits():
    assert set(ROLES_BY_CONTRACT) == {*SHARED, "Timelock"}
    for flags in ROLES_BY_CONTRACT.values():
        values = [m.value for m in flags]
        assert all(v & (v - 1) == 0 for v in values) and len(set(values)) == len(values)
    # ADMIN is bit 1 wherever the shared module is used: it alone changes roles
    assert VaultRole.ADMIN == WhitelistRole.ADMIN == EscrowRole.ADMIN == StakingRole.ADMIN == 1


@pytest.mark.parametrize("name", SHARED)
def test_role_bits_match_compiled_contract(deployed, name):
    contract = deployed[name]
    flags: type[IntFlag] = ROLES_BY_CONTRACT[name]
    for member in flags:
        assert getattr(contract, member.name)() == member.value, f"{name}.{member.name}"


@pytest.mark.parametrize("name", SHARED)
def test_has_role_takes_account_then_role(project, deployed, accounts, name):
    abi = next(m for m in getattr(project, name).contract_type.view_methods
               if m.name == "hasRole")
    assert [(i.name, i.type) for i in abi.inputs] == [("account", "address"), ("role", "uint256")]
    contract, flags = deployed[name], ROLES_BY_CONTRACT[name]
    last = list(flags)[-1]
    contract.setRoles(accounts[5], last, sender=accounts[1])
    assert contract.hasRole(accounts[5], last)
    assert not contract.hasRole(accounts[5], last | flags.ADMIN)  # every bit is required
    assert contract.hasRole(accounts[1], flags.ADMIN) and not contract.hasRole(accounts[1], 0)


def test_timelock_flag_order_matches():
    """Timelock keeps its own `flag Roles`: bit i is the i-th member as the compiler parses it."""
    tree = parse_to_ast((ROOT / "contracts/Timelock.vy").read_text())
    [flag] = [n for n in tree.body if isinstance(n, nodes.FlagDef) and n.name == "Roles"]
    members = [stmt.value.id for stmt in flag.body]
    assert {name: 1 << i for i, name in enumerate(members)} == \
        {m.name: m.value for m in TimelockRole}
