"""The keeper's ``safetx`` job: registers the deployment's multisigs, indexes, executes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from keeper.config import Settings
from keeper.deployments import ContractEntry, Deployment, deployment_path, write_deployment
from keeper.jobs.scheduler import JobRun
from keeper.keys import Keyring, safe_tx_hash
from keeper.safetx import Status
from keeper.safetx.jobs import EXECUTOR_KEY, tick

BOB = "0x000000000000000000000000000000000000bEEF"


def test_tick_executes_a_confirmed_safetx_of_the_deployment(
        tmp_path, db_url, ledger, hsm_config, multisig, owners, chain, fund, service,
        proposal, transfer_tx):
    settings = Settings(data_dir=tmp_path, database_url=db_url, chain_id=chain.chain_id,
                        rpc_url=str(chain.provider.uri), confirmations=0)
    block = chain.blocks.head.number
    write_deployment(deployment_path(settings.deployments_dir, chain.chain_id), Deployment(
        chain.chain_id, contracts={"cold_multisig": ContractEntry(
            "Multisig", multisig.address, "0x", owners[0].address, block)}))
    ring = Keyring.from_hsm(hsm_config, labels=(EXECUTOR_KEY,))
    fund(ring.eth_address(EXECUTOR_KEY))
    ring.close()
    tx = transfer_tx(BOB, 3, 0)
    h = service.propose(proposal(chain.chain_id, multisig.address, tx, owners[0]))
    service.confirm(h, owners[1].sign(safe_tx_hash(chain.chain_id, multisig.address, tx)))
    host = SimpleNamespace(settings=settings, ledger=ledger, hsm=hsm_config)
    assert tick(JobRun(host, "safetx", datetime.now(UTC))) == 1
    assert service.get(h).status == Status.EXECUTED
    assert tick(JobRun(host, "safetx", datetime.now(UTC))) == 0
