"""``keeper.deployments``: the typed deployments record every reader and writer goes through."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from keeper.assets import USDC, token_addresses
from keeper.deployments import (
    ContractEntry,
    Deployment,
    InvalidDeployment,
    deployment_path,
    load_deployment,
    read_deployment,
    write_deployment,
)

VAULT = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55 test vector (checksummed)
DEPLOYER = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"


def record(**over: object) -> dict:
    """A deployments file as ``scripts.deployments.deploy_system`` writes it."""
    rec = {
        "chain_id": 1, "addresses": {"vault": VAULT.lower()}, "tokens": token_addresses(),
        "start_block": 42, "config": {"daily": str(2**60)},
        "contracts": {"vault": {"contract": "Vault", "address": VAULT, "args": "0x00",
                                "deployer": DEPLOYER, "block": 42, "tx": "0xab"}},
    }
    rec.update(over)
    return rec


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    dep = Deployment.from_json(record())
    assert dep.vault == VAULT  # checksummed on the way in
    assert dep.tokens["USDC"] == USDC.address and dep.start_block == 42
    assert dep.contracts["vault"] == ContractEntry("Vault", VAULT, "0x00", DEPLOYER, 42, "0xab")
    path = deployment_path(tmp_path / "deployments", 1)
    assert path == tmp_path / "deployments" / "1.json"
    write_deployment(path, dep)
    assert load_deployment(path, 1) == dep
    assert read_deployment(tmp_path / "deployments", 1) == dep
    assert [p.name for p in path.parent.iterdir()] == ["1.json"]  # no temp file left behind
    assert json.loads(path.read_text())["config"] == {"daily": str(2**60)}


def test_the_record_is_read_only() -> None:
    dep = Deployment.from_json(record())
    with pytest.raises(AttributeError):
        dep.chain_id = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        dep.addresses["vault"] = DEPLOYER  # type: ignore[index]
    with pytest.raises(KeyError, match="recorded: \\['vault'\\]"):
        dep.address("timelock")


@pytest.mark.parametrize(("change", "why"), [
    ({"chain_id": "1"}, "chain_id"),
    ({"chain_id": 0}, "chain_id"),
    ({"addresses": {"vault": "0x1234"}}, "addresses.vault"),
    ({"addresses": {"vault": "0x" + "11" * 19}}, "addresses.vault"),
    ({"addresses": ["vault"]}, "addresses"),
    ({"tokens": {"USDC": 7}}, "tokens.USDC"),
    ({"start_block": -1}, "start_block"),
    ({"contracts": {"vault": {"contract": "Vault"}}}, "contracts.vault"),
])
def test_malformed_records_are_refused(tmp_path: Path, change: dict, why: str) -> None:
    path = deployment_path(tmp_path, 1)
    path.write_text(json.dumps(record(**change)))
    with pytest.raises(InvalidDeployment, match=why.replace(".", "\\.")):
        load_deployment(path)


def test_mis_checksummed_address_is_a_typo_not_an_address() -> None:
    i = next(i for i, ch in enumerate(VAULT) if i > 1 and ch.isalpha())
    typo = VAULT[:i] + VAULT[i].swapcase() + VAULT[i + 1:]
    with pytest.raises(InvalidDeployment, match="checksum"):
        Deployment.from_json(record(addresses={"vault": typo}))


def test_readers_that_must_keep_serving_get_none_and_a_log(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    assert read_deployment(tmp_path, 1) is None  # no file: not deployed, nothing to log
    assert caplog.records == []
    deployment_path(tmp_path, 1).write_text("{not json")
    with caplog.at_level(logging.ERROR, logger="keeper.deployments"):
        assert read_deployment(tmp_path, 1) is None
    assert "unreadable" in caplog.text
    deployment_path(tmp_path, 1).write_text(json.dumps(record(chain_id=5)))
    assert read_deployment(tmp_path, 1) is None  # the file of chain 1 records chain 5
    assert "records chain 5, not 1" in caplog.text
    with pytest.raises(FileNotFoundError):
        load_deployment(deployment_path(tmp_path, 2))


@pytest.mark.fork
def test_the_record_deploy_system_writes_is_the_one_keeper_reads(accounts, chain, tmp_path: Path) -> None:
    """scripts.deployments writes, keeper.deployments reads: the two agree on a real deployment."""
    from scripts.deployments import deploy_system, local_config

    path = deployment_path(tmp_path, chain.chain_id)
    result = deploy_system(accounts[0], local_config(), path=path)
    dep = load_deployment(path, chain.chain_id)
    assert dict(dep.addresses) == result["addresses"] and dep.vault == result["addresses"]["vault"]
    assert dict(dep.tokens) == token_addresses()  # the vault was configured for the registry's tokens
    assert dep.start_block == min(c.block for c in dep.contracts.values()) > 0
    assert {c.address for c in dep.contracts.values()} == set(dep.addresses.values())
    for name, entry in dep.contracts.items():
        assert len(chain.provider.get_code(entry.address)) > 0, name
    written = json.loads(path.read_text())
    write_deployment(path, dep)  # rewriting through the typed record loses nothing
    assert json.loads(path.read_text()) == written
    assert load_deployment(path) == dep


@pytest.mark.fork
def test_make_runs_deployment_includes_the_staking_pool_once(accounts, chain, project,
                                                             tmp_path: Path) -> None:
    """With the staking pool's outside roles given (as `scripts/deploy.py` does), the pool is
    deployed, recorded as `staking_pool` with ADMIN held by the Timelock alone; a second run
    sends nothing. Without them (test worlds) there is no pool."""
    from keeper.roles import StakingRole
    from scripts.deployments import deploy_system, local_config

    rewarder, slasher = accounts[7].address, accounts[8].address
    cfg = local_config(staking_rewarder=rewarder, staking_slasher=slasher)
    path = deployment_path(tmp_path, chain.chain_id)
    first = deploy_system(accounts[0], cfg, path=path)
    pool = project.StakingPool.at(first["addresses"]["staking_pool"])
    timelock = first["addresses"]["timelock"]
    assert pool.roles(timelock) == StakingRole.ADMIN
    assert pool.roles(rewarder) == StakingRole.REWARDER and pool.roles(slasher) == StakingRole.SLASHER
    assert pool.roles(first["addresses"]["pauser_multisig"]) == StakingRole.GUARDIAN
    assert pool.roles(accounts[0].address) == 0  # the deployer kept nothing
    assert deploy_system(accounts[0], cfg, path=path)["transactions_sent"] == 0
    plain = deploy_system(accounts[0], local_config(), path=tmp_path / "plain.json")
    assert "staking_pool" not in plain["addresses"]
