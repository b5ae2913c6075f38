"""``python -m keeper.staking`` on the fork, configured only through the environment: the
deployments record names the pool, the data folder's HSM token holds the operator key;
``distribute`` accrues the ended epochs' rewards and distributes them, ``positions`` shows them."""

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
