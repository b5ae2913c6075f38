"""The deployed system: wiring, idempotent redeploy, code verification, governance through the
3-of-5 cold Multisig + 48 h Timelock, emergency pause through the 2-of-3 Multisig, and the
upgrade path (timelocked migration to a new Vault version)."""

from __future__ import annotations

import json

import ape
import pytest

from keeper.roles import EscrowRole, TimelockRole, VaultRole, WhitelistRole
from scripts.deployments import (
    ETH,
    deploy_stand_in_tokens,
    deploy_system,
    derived_signer,
    exec_multisig,
    local_config,
    verify_deployments,
)
from scripts.verify import main as verify_main

H = 3600
DAY = 24 * H
Z32 = b"\x00" * 32
USD = 10**6
ETHER = 10**18


@pytest.fixture(scope="module")
def tokens(accounts):
    return deploy_stand_in_tokens(accounts[0], [accounts[8]], amount=10**13)


@pytest.fixture(scope="module")
def config(accounts, tokens):
    usdc, usdt = tokens
    return local_config(operator=accounts[3].address, oracle=accounts[4].address,
                        usdc=usdc.address, usdt=usdt.address)


@pytest.fixture(scope="module")
def deployed(accounts, config, tmp_path_factory):
    path = tmp_path_factory.mktemp("deploy") / "1.json"
    record = deploy_system(accounts[0], config, path)
    return record, path


@pytest.fixture(scope="module")
def c(project, deployed):
    record, _ = deployed
    a = record["addresses"]
    return type("C", (), {
        "cold": project.Multisig.at(a["cold_multisig"]),
        "warm": project.Multisig.at(a["warm_multisig"]),
        "pauser": project.Multisig.at(a["pauser_multisig"]),
        "compliance": project.Multisig.at(a["compliance_multisig"]),
        "timelock": project.Timelock.at(a["timelock"]),
        "whitelist": project.Whitelist.at(a["whitelist"]),
        "vault": project.Vault.at(a["vault"]),
        "escrow": project.Escrow.at(a["escrow"]),
    })


COLD = [derived_signer(i) for i in range(1, 6)]
PAUSERS = [derived_signer(i) for i in range(9, 12)]
WARM = [derived_signer(i) for i in range(6, 9)]
COMPLIANCE = [derived_signer(i) for i in range(15, 18)]


def _comply(c, target, data, sender, signers=COMPLIANCE[:2]):
    """The 2-of-3 compliance Multisig calls `target`."""
    return exec_multisig(c.compliance, signers, target, data, sender)


def _govern(c, sender, calls, chain, salt=Z32):
    """Cold 3-of-5 schedules `calls` on the Timelock, waits 48 h, then executes them."""
    targets = [t.address for t, _ in calls]
    datas = [bytes(d) for _, d in calls]
    tl = c.timelock
    sched = tl.scheduleBatch.encode_input(targets, [0] * len(calls), datas, Z32, salt, 48 * H)
    exec_multisig(c.cold, COLD[:3], tl, sched, sender)
    chain.mine(timestamp=chain.pending_timestamp + 48 * H)
    run = tl.executeBatch.encode_input(targets, [0] * len(calls), datas, Z32, salt)
    return exec_multisig(c.cold, COLD[2:5], tl, run, sender)


def test_wiring(c, config, accounts, deployed):
    record, path = deployed
    v, tl = c.vault, c.timelock
    comp = c.compliance.address
    assert v.roles(accounts[0]) == 0 and v.roles(tl.address) == VaultRole.ADMIN
    assert v.roles(c.pauser.address) == VaultRole.PAUSER
    assert v.roles(c.warm.address) == VaultRole.TREASURY
    assert v.roles(comp) == VaultRole.COMPLIANCE_OFFICER
    # the keeper's hot key: customer withdrawals and the automated daily sweep to cold only
    assert v.roles(config.operator) == VaultRole.CUSTOMER | VaultRole.SWEEPER
    assert v.roles(config.pricer) == VaultRole.PRICER
    assert v.tier_address(1) == c.warm.address and v.tier_address(2) == c.cold.address
    assert v.daily_limit_usd() == 10_000_000 * USD  # one vault-wide limit, micro-USD
    assert v.pricing(config.usdc).price == v.pricing(config.usdt).price == USD
    assert v.token_config(config.usdc).instant_budget == 500_000 * USD
    assert tl.getMinDelay() == tl.MIN_DELAY_FLOOR() == 48 * H
    assert tl.roles(c.cold.address) == TimelockRole.PROPOSER | TimelockRole.EXECUTOR | \
        TimelockRole.CANCELLER
    assert tl.roles(comp) == TimelockRole.CANCELLER
    assert tl.PROTECTED_DELAY() == 96 * H  # the path no canceller can block
    assert c.whitelist.roles(tl.address) == WhitelistRole.ADMIN
    assert c.whitelist.roles(comp) == WhitelistRole.COMPLIANCE_OFFICER
    assert c.whitelist.isActive(c.cold.address) and c.whitelist.protected(c.cold.address)
    assert c.escrow.roles(tl.address) == EscrowRole.ADMIN and c.escrow.TOKEN() == config.usdc
    assert c.escrow.roles(comp) == EscrowRole.COMPLIANCE_OFFICER
    assert c.cold.getThreshold() == 3 and len(c.cold.getOwners()) == 5
    assert c.pauser.getThreshold() == 2 and c.warm.getThreshold() == 2
    assert c.compliance.getThreshold() == 2 and len(c.compliance.getOwners()) == 3
    on_disk = json.loads(path.read_text())
    assert on_disk["addresses"] == record["addresses"] and on_disk["chain_id"] == 1
    assert on_disk["start_block"] > 0


def test_redeploy_is_a_no_op(accounts, config, deployed, chain):
    record, path = deployed
    block = chain.blocks.head.number
    again = deploy_system(accounts[0], config, path)
    assert again["transactions_sent"] == 0 and again["addresses"] == record["addresses"]
    assert chain.blocks.head.number == block


def test_redeploy_replaces_only_what_is_missing(accounts, config, deployed, chain, tmp_path):
    record, path = deployed
    state = json.loads(path.read_text())
    del state["contracts"]["escrow"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(state))
    again = deploy_system(accounts[0], config, partial)
    assert again["transactions_sent"] == 1
    assert again["addresses"]["vault"] == record["addresses"]["vault"]
    assert again["addresses"]["escrow"] != record["addresses"]["escrow"]


def test_verify_passes_then_detects_tampering(project, chain, deployed, c):
    record, path = deployed
    assert verify_deployments(project, chain.provider, record) == []
    assert verify_main(str(path)) == 0
    code = bytearray(bytes(chain.provider.get_code(c.whitelist.address)))
    code[-1] ^= 0xFF  # flip one byte of the immutables/data tail
    chain.provider.make_request("anvil_setCode", [c.whitelist.address, "0x" + code.hex()])
    problems = verify_deployments(project, chain.provider, record)
    assert len(problems) == 1 and problems[0].startswith("whitelist ")
    assert verify_main(str(path)) == 1
    chain.provider.make_request("anvil_setCode", [c.vault.address, "0x6000"])
    assert len(verify_deployments(project, chain.provider, record)) == 2


def test_governed_limit_change_needs_3_of_5_and_48h(c, accounts, config, chain):
    v, tl = c.vault, c.timelock
    new = v.setTokenConfig.encode_input(ETH, True, 10 * ETHER, 5 * ETHER, ETHER)
    # the deployer no longer has any power
    with ape.reverts("Vault: not admin"):
        v.setTokenConfig(ETH, True, 10 * ETHER, 5 * ETHER, ETHER, sender=accounts[0])
    # two cold signatures are not enough to even schedule
    sched = tl.schedule.encode_input(v.address, 0, new, Z32, Z32, 48 * H)
    with ape.reverts():
        exec_multisig(c.cold, COLD[:2], tl, sched, accounts[0])
    # a cold 3-of-5 schedule with less than 48 h is refused by the timelock
    short = tl.schedule.encode_input(v.address, 0, new, Z32, Z32, 47 * H)
    with ape.reverts():
        exec_multisig(c.cold, COLD[:3], tl, short, accounts[0])
    exec_multisig(c.cold, COLD[:3], tl, sched, accounts[0])
    chain.mine(timestamp=chain.pending_timestamp + 47 * H)
    run = tl.execute.encode_input(v.address, 0, new, Z32, Z32)
    with ape.reverts():
        exec_multisig(c.cold, COLD[:3], tl, run, accounts[0])
    chain.mine(timestamp=chain.pending_timestamp + H)
    exec_multisig(c.cold, COLD[:3], tl, run, accounts[0])
    assert v.token_config(ETH).tx_cap == 10 * ETHER


def test_only_the_compliance_quorum_can_cancel(c, accounts, config, chain, fund):
    """Finding 1: the Timelock canceller is the 2-of-3 compliance Multisig, not one key."""
    v, tl = c.vault, c.timelock
    new = v.setTier.encode_input(2, accounts[7].address)
    exec_multisig(c.cold, COLD[:3], tl,
                  tl.schedule.encode_input(v.address, 0, new, Z32, Z32, 48 * H), accounts[0])
    op_id = tl.hashOperation(v.address, 0, new, Z32, Z32)
    one_key = COMPLIANCE[0]
    fund(one_key.address)
    with ape.reverts("Timelock: not canceller"):  # one compliance key alone: no power
        tl.cancel(op_id, sender=accounts[one_key.address])  # impersonated on the fork
    assert tl.roles(one_key.address) == 0 and v.roles(one_key.address) == 0
    with ape.reverts():
        _comply(c, tl, tl.cancel.encode_input(op_id), accounts[0], signers=COMPLIANCE[:1])
    assert tl.isOperation(op_id)
    _comply(c, tl, tl.cancel.encode_input(op_id), accounts[0])
    assert not tl.isOperation(op_id)


def test_cold_quorum_revokes_a_rogue_canceller_it_cannot_block(c, accounts, chain):
    """No canceller can veto governance forever: a batch the cold 3-of-5 schedules with the
    protected delay (96 h) that strips the compliance multisig of its canceller role cannot be
    cancelled by that multisig, and executes once the delay has passed."""
    tl, comp = c.timelock, c.compliance.address
    revoke = tl.setRoles.encode_input(comp, 0)
    protected = tl.PROTECTED_DELAY()
    exec_multisig(c.cold, COLD[:3], tl,
                  tl.schedule.encode_input(tl.address, 0, revoke, Z32, Z32, protected), accounts[0])
    op_id = tl.hashOperation(tl.address, 0, revoke, Z32, Z32)
    assert tl.isOperationProtected(op_id)
    with ape.reverts():  # the compliance quorum tries to veto its own revocation
        _comply(c, tl, tl.cancel.encode_input(op_id), accounts[0])
    assert tl.isOperationPending(op_id) and tl.roles(comp) == TimelockRole.CANCELLER
    chain.mine(timestamp=chain.pending_timestamp + protected)
    exec_multisig(c.cold, COLD[:3], tl,
                  tl.execute.encode_input(tl.address, 0, revoke, Z32, Z32), accounts[0])
    assert tl.isOperationDone(op_id) and tl.roles(comp) == 0


def test_compliance_cannot_freeze_sweeps_to_cold(c, accounts, tokens, chain):
    """Finding 1/6: the compliance quorum cannot delist the tiers; sweeps to cold keep
    working even while the vault is paused."""
    v, wl = c.vault, c.whitelist
    usdc = tokens[0]
    usdc.approve(v.address, 5000 * USD, sender=accounts[8])
    v.deposit(usdc.address, 5000 * USD, Z32, sender=accounts[8])
    for tier in (c.cold, c.warm):
        with ape.reverts():
            _comply(c, wl, wl.remove.encode_input(tier.address), accounts[0])
        assert wl.isActive(tier.address)
    exec_multisig(c.pauser, PAUSERS[:2], v, v.pause.encode_input(), accounts[0])
    exec_multisig(c.warm, WARM[:2], v, v.sweep.encode_input(usdc.address, 5000 * USD, 2),
                  accounts[0])
    assert usdc.balanceOf(c.cold.address) == 5000 * USD


def test_emergency_pause_by_2_of_3(c, accounts, chain):
    v = c.vault
    v.depositEth(Z32, value=ETHER, sender=accounts[8])
    with ape.reverts():
        exec_multisig(c.pauser, PAUSERS[:1], v, v.pause.encode_input(), accounts[0])
    exec_multisig(c.pauser, PAUSERS[1:], v, v.pause.encode_input(), accounts[0])
    assert v.isPaused()
    with ape.reverts("Vault: paused"):
        v.depositEth(Z32, value=ETHER, sender=accounts[8])
    chain.mine(timestamp=chain.pending_timestamp + 7 * DAY)
    assert not v.isPaused()


def test_sweep_by_warm_multisig(c, accounts, tokens):
    v = c.vault
    usdc = tokens[0]
    usdc.approve(v.address, 1000 * USD, sender=accounts[8])
    v.deposit(usdc.address, 1000 * USD, Z32, sender=accounts[8])
    warm_signers = [derived_signer(6), derived_signer(8)]
    exec_multisig(c.warm, warm_signers, v, v.sweep.encode_input(usdc.address, 600 * USD, 2),
                  accounts[0])
    assert usdc.balanceOf(c.cold.address) == 600 * USD


def test_the_operator_key_sweeps_to_cold_only(c, accounts, config, tokens):
    """Issue 14: deploy grants SWEEPER to the operator (the keeper's hot key), so the daily
    sweep runs unattended to the governance-set cold Multisig; the warm tier stays TREASURY's
    (the warm 2-of-3 Multisig)."""
    v = c.vault
    usdc = tokens[0]
    operator = accounts[3]
    assert operator.address == config.operator
    usdc.approve(v.address, 1000 * USD, sender=accounts[8])
    v.deposit(usdc.address, 1000 * USD, Z32, sender=accounts[8])
    cold_before = usdc.balanceOf(c.cold.address)
    v.sweep(usdc.address, 400 * USD, 2, sender=operator)
    assert usdc.balanceOf(c.cold.address) == cold_before + 400 * USD
    with ape.reverts("Vault: not treasury"):
        v.sweep(usdc.address, 1, 1, sender=operator)
    with ape.reverts("Vault: not sweeper"):
        v.sweep(usdc.address, 1, 2, sender=accounts[4])  # the oracle key holds no vault role


def test_upgrade_by_timelocked_migration(project, c, accounts, config, tokens, chain):
    """The upgrade path: new Vault version, whitelisted, migrate via 3-of-5 + 48 h."""
    old = c.vault
    usdc, usdt = tokens
    old.depositEth(Z32, value=3 * ETHER, sender=accounts[8])
    usdt.approve(old.address, 500 * USD, sender=accounts[8])
    old.deposit(usdt.address, 500 * USD, Z32, sender=accounts[8])
    new = project.Vault.deploy(accounts[0], c.whitelist.address, old.address, sender=accounts[0])
    new.setRoles(c.timelock.address, VaultRole.ADMIN, sender=accounts[0])
    new.renounceRoles(sender=accounts[0])
    _comply(c, c.whitelist, c.whitelist.add.encode_input(new.address), accounts[0])
    eth_before = chain.provider.get_balance(old.address)
    usdt_before = usdt.balanceOf(old.address)
    mig = old.migrate.encode_input(new.address, [usdc.address, usdt.address])
    with ape.reverts("Vault: not admin"):
        old.migrate(new.address, [usdc.address], sender=accounts[0])
    tx = _govern(c, accounts[0], [(old, mig)], chain)
    assert tx.events.filter(c.timelock.CallExecuted)
    assert chain.provider.get_balance(new.address) == eth_before
    assert usdt.balanceOf(new.address) == usdt_before and usdt.balanceOf(old.address) == 0
    assert old.migrated_to() == new.address
    with ape.reverts("Vault: migrated"):
        old.depositEth(Z32, value=1, sender=accounts[8])
