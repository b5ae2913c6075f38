"""Tainted sources on the fork: real vault deposits from two depositors, mirrored by the real
chain follower; labelling one depositor a mixer afterwards makes exactly that source tainted."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from keeper import clients
from keeper.chain import Follower, FollowerConfig
from keeper.compliance import ComplianceService, LabelledAddressRisk, RuleSet
from keeper.flows.taint import deposit_sources, tainted_sources
from keeper.ledger import Ledger
from scripts import deployments as dep
from strongroom_testkit.dbtemplate import fresh_url

pytestmark = pytest.mark.fork


def test_a_depositor_labelled_later_taints_the_clients_coins(project: Any, w3: Any,
                                                             accounts: Any, tmp_path: Any) -> None:
    url = fresh_url(tmp_path / 'taint.db', migrated=True)
    ledger = Ledger(url, group_commit=False)
    try:
        vault, _ = dep.deploy_open_vault(project, accounts[0], accounts[2])
        with Session(ledger.engine) as s:
            client = clients.create_client(s, ledger, "Depositing Corp")
        clean, dirty = accounts[3], accounts[4]
        ref = bytes.fromhex(client.client_ref[2:])
        vault.depositEth(ref, value=10**18, sender=clean)
        vault.depositEth(ref, value=2 * 10**18, sender=dirty)
        vault.depositEth(ref, value=3 * 10**18, sender=dirty)
        cfg = FollowerConfig(vault=vault.address, confirmations=0,
                             start_block=w3.eth.block_number - 4)
        Follower(w3, ledger, cfg).run_until_synced()
        assert ledger.balance(ledger.client_account(client.id, "ETH")).credit_balance == 6 * 10**18
        want = {clean.address.lower(): 1, dirty.address.lower(): 2}
        assert deposit_sources(ledger, client.id) == want

        before = ComplianceService(ledger.engine, RuleSet.load(), risk=LabelledAddressRisk({}))
        assert tainted_sources(ledger, before, client.id) == []
        after = ComplianceService(ledger.engine, RuleSet.load(),
                                  risk=LabelledAddressRisk({"mixer": [dirty.address]}))
        (found,) = tainted_sources(ledger, after, client.id)
        assert (found.address, found.outcome, found.sar, found.asset, found.deposits) == (
            dirty.address.lower(), "block", True, "ETH", 2)
    finally:
        ledger.close()
