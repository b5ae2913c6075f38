"""``python -m keeper.staking`` and the ``staking_sync`` job on the fork, configured only by
settings (the CLI: by the environment): the deployments record names the pool, the data
folder's HSM token holds the operator key; ``distribute`` accrues the ended epochs' rewards and
distributes them, ``positions`` shows them, the job completes operations."""

from __future__ import annotations

import json

from keeper.deployments import Deployment, deployment_path, write_deployment
from keeper.staking.__main__ import main
from strongroom_testkit.staking import next_epoch, settle

ETHER = 10**18


def test_distribute_then_positions(keeper, world, chain, w3, rpc_url, staking_data, tmp_path,
                                   monkeypatch, capsys):
    k, pool = keeper, world.pool
    k.fund_client("alice", 2 * ETHER)
    k.service.deposit("dep-a", "alice", ETHER)
    settle(k)
    pool.fundRewards(sender=world.rewarder, value=ETHER)
    next_epoch(chain, 2)
    chain_id = int(w3.eth.chain_id)
    write_deployment(deployment_path(tmp_path, chain_id), Deployment(
        chain_id=chain_id, addresses={"staking_pool": pool.address}, start_block=world.block))
    for name, value in {"STRONGROOM_DB_URL": k.url, "STRONGROOM_RPC_URL": rpc_url,
                        "STRONGROOM_DATA": str(staking_data), "STRONGROOM_CHAIN_ID": str(chain_id),
                        "STRONGROOM_DEPLOYMENTS_DIR": str(tmp_path),
                        "STRONGROOM_CONFIRMATIONS": "1"}.items():
        monkeypatch.setenv(name, value)
    assert main(["distribute"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accrue"] == "mined" and out["events"] >= 1
    assert main(["positions", "--client", "alice"]) == 0
    view = json.loads(capsys.readouterr().out)
    [position] = view["clients"]["alice"]["positions"]
    rewards = int(position["rewards"])
    assert rewards == 2 * (10**16 + 3)  # two epochs, alice the only staker
    assert int(view["clients"]["alice"]["staked"]) == ETHER + rewards
    [dist] = view["clients"]["alice"]["distributions"]
    assert dist["kind"] == "RewardsAccrued" and int(dist["amount"]) == rewards
    assert int(view["omnibus"]) == pool.previewValue(int(position["shares"]))


def test_the_sync_job_completes_operations_and_mirrors(keeper, world, w3, staking_data, tmp_path):
    """``staking_sync`` does nothing without a pool in the deployments record; with one, it
    drives the operator key's operations and mirrors the pool's events."""
    from types import SimpleNamespace

    from keeper.config import Settings
    from keeper.jobs.scheduler import JobRun
    from keeper.keys.hsm import ensure_local_token
    from keeper.staking.jobs import sync

    k = keeper
    chain_id = int(w3.eth.chain_id)
    settings = Settings(deployments_dir=tmp_path, chain_id=chain_id, confirmations=1)
    host = SimpleNamespace(settings=settings, ledger=k.ledger,
                           hsm=ensure_local_token(staking_data, ec_keys=("eth-staking",)),
                           follower=SimpleNamespace(reader=SimpleNamespace(w3=w3)))
    k.fund_client("alice", 2 * ETHER)
    k.service.deposit("dep-j", "alice", ETHER)
    assert sync(JobRun(host, "staking_sync", None)) == 0  # no pool recorded: nothing
    assert k.service.state("dep-j").status == "sent"
    write_deployment(deployment_path(tmp_path, chain_id), Deployment(
        chain_id=chain_id, addresses={"staking_pool": world.pool.address}, start_block=world.block))
    w3.eth.wait_for_transaction_receipt(k.service.hashes("dep-j")[-1], timeout=30)
    assert sync(JobRun(host, "staking_sync", None)) >= 1
    assert k.service.state("dep-j").status == "done"
    assert k.ledger.balance(k.accounts.staked("alice")).credit_balance == ETHER
