"""The treasury page on the fork: with no other tier source wired, the tiers are the deployed
vault's and its tier Multisigs', read through the node at the follower's block (the keeper's
own tier view), drift and out-of-band included."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.console.treasury import chain_tiers, tiers_section
from api.main import create_app
from keeper.assets import USDC
from keeper.console import TREASURY, create_user
from strongroom_testkit.browser import PASSWORD, form_login
from strongroom_testkit.tierworld import CLIENT_REF, tier_world

pytestmark = [pytest.mark.fork, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
USD = 10**6


def test_the_treasury_page_reads_the_deployed_vaults_tiers(accounts: Any, chain: Any,
                                                           project: Any, tmp_path: Any) -> None:
    w = tier_world(accounts, chain, tmp_path)
    try:
        who = accounts[8]
        w.fund(project, who, 1_000 * USD)
        project.FiatTokenV2.at(USDC.address).approve(w.vault.address, 1_000 * USD, sender=who)
        w.vault.deposit(USDC.address, 1_000 * USD, CLIENT_REF, sender=who)
        w.vault.sweep(USDC.address, 600 * USD, 2, sender=accounts[0])  # to cold
        w.mine()
        settings, engine = w.host.settings, w.host.ledger.engine
        source = chain_tiers(settings, engine)
        assert source is not None
        policy, view = source()
        section = tiers_section(policy, view)
        rows = {(r.asset, r.tier): r for r in section.rows}
        hot, cold = rows[("USDC", "hot")], rows[("USDC", "cold")]
        assert (hot.units, hot.share, hot.drift, hot.out_of_band) == (
            "400.000000 USDC", "40.00%", "+35.00%", True)
        assert (cold.units, cold.share, cold.drift) == ("600.000000 USDC", "60.00%", "-20.00%")
        assert section.block == w.host.ledger.cursor("vault").position  # the follower's block
        assert not section.mismatches  # the follower mirrored the deposit and the sweep
        create_user(engine, "treasury", PASSWORD, [TREASURY])
        with TestClient(create_app(settings), follow_redirects=False) as web:
            form_login(web, "treasury")
            page = web.get("/console/treasury/").text
        assert "400.000000 USDC" in page and "+35.00%" in page and "out of band" in page
        assert f"At block {view.block}" in page
    finally:
        w.host.ledger.close()
