"""The owner-set rules live in one routine (finding 3): every entry point that accepts owners
(constructor, recovery proposal, addOwnerWithThreshold, swapOwner) gives the same verdict, with
Safe's error code, for the same invalid input."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from hexbytes import HexBytes
from msig_utils import SENTINEL, ZERO, assert_reverts
from web3.exceptions import ContractLogicError


def _fresh(n: int) -> list[str]:
    return [Account.from_key((3000 + i).to_bytes(32, "big")).address for i in range(n)]


FRESH = _fresh(4)
# (owners, threshold, Safe's code). A repeat of the previous owner is GS203 in Safe's setupOwners
# (`owner != currentOwner`), any other repeat GS204.
BAD_SETS = [
    ([FRESH[0], FRESH[1]], 3, "GS201"),
    ([FRESH[0], FRESH[1]], 0, "GS202"),
    ([], 0, "GS202"),
    ([FRESH[0], ZERO], 1, "GS203"),
    ([FRESH[0], SENTINEL], 1, "GS203"),
    ([FRESH[0], FRESH[0]], 1, "GS203"),
    ([FRESH[0], FRESH[1], FRESH[0]], 1, "GS204"),
    ([FRESH[0], FRESH[1], FRESH[2], FRESH[1]], 2, "GS204"),
]


def _constructor_reason(chain, container, keeper, owners: list[str], threshold: int) -> str:
    initcode = bytes(HexBytes(container.contract_type.deployment_bytecode.bytecode))
    args = encode(["address[]", "uint256", "address[]", "uint256", "uint256"], [owners, threshold, [], 0, 0])
    with pytest.raises(ContractLogicError) as info:
        chain.provider.web3.eth.call({"from": keeper.address, "data": initcode + args})
    return info.value.message.removeprefix("execution reverted: ")


@pytest.mark.parametrize("owners,threshold,code", BAD_SETS)
def test_same_verdict_at_setup_and_in_recovery(
    chain, multisig_container, cold, keeper, recovery_accounts, owners, threshold, code
):
    assert _constructor_reason(chain, multisig_container, keeper, owners, threshold) == code
    assert_reverts(cold, "proposeRecovery", [owners, threshold], recovery_accounts[0], code, send=False)


@pytest.mark.parametrize(
    "new_owner,code", [(ZERO, "GS203"), (SENTINEL, "GS203"), ("self", "GS203"), ("owner", "GS204")]
)
def test_same_verdict_for_one_new_owner(cold, owner_accounts, recovery_accounts, new_owner, code):
    me = type("Self", (), {"address": cold.address})()
    candidate = {"self": cold.address, "owner": owner_accounts[1].address}.get(new_owner, new_owner)
    others = [a.address for a in owner_accounts if a.address != candidate][:2]
    assert_reverts(cold, "addOwnerWithThreshold", [candidate, 3], me, code, send=False)
    first, second = owner_accounts[0].address, owner_accounts[1].address
    assert_reverts(cold, "swapOwner", [first, second, candidate], me, code, send=False)
    if code == "GS203":  # an invalid address is invalid inside a whole set too
        assert_reverts(
            cold, "proposeRecovery", [[*others, candidate], 1], recovery_accounts[0], code, send=False
        )
