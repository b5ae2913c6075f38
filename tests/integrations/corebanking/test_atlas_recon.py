"""The client is reconciliation's :class:`keeper.recon.CoreBanking`: type 2 runs against a real
ATLAS process and a real (SQLite) sub-ledger, and finds a trade the sub-ledger never posted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from keeper import clients
from keeper.audit import upgrade as upgrade_audit
from keeper.integrations.corebanking import AtlasClient, AtlasOpsClient
from keeper.keys.secrets import Secret
from keeper.ledger import Ledger, TransferSpec, make_engine
from keeper.ledger import upgrade as upgrade_ledger
from keeper.prices import StaticPrices
from keeper.recon import BreakBook, Reconciler
from keeper.recon.migrate import upgrade as upgrade_recon
from strongroom_testkit.dbtemplate import fresh_url

USDC = 10**6
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_type2_against_atlas(tmp_path, spawn, receiver) -> None:
    url = fresh_url(tmp_path / 'ledger.db')
    for upgrade in (upgrade_ledger, clients.upgrade, upgrade_audit, upgrade_recon):
        upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(engine, group_commit=False)
    with Session(engine) as s:  # the client's id is its own; ATLAS knows it as customer 7890
        client_id = clients.create_client(s, ledger, "Spec Example Corp").id
    clients.set_profile(engine, client_id, actor="test", bank_customer_id="7890")
    atlas = spawn(tmp_path / "atlas", receiver[1])
    atlas.start()
    bank = AtlasClient(atlas.url, Secret(atlas.api_key))
    ops = AtlasOpsClient(atlas.url, Secret(atlas.ops_key))
    try:
        rec = Reconciler(engine, BreakBook(engine, resolvers=["treasury.alice"]),
                         StaticPrices({"ETH": 300_000}, NOW))
        ops.create_customer("7890", "Spec Example Corp")
        ops.wire_in(str(uuid.uuid4()), "7890", 500_000_00, "deposit")
        tid = "trade:ord-12345"
        bank.debit_for_buy(str(uuid.uuid4()), "7890", 300_000_00, reference="ord-12345", asset="USDC",
                           asset_units=300_000 * USDC, ledger_transfer_id=tid)
        ledger.post(TransferSpec(tid, ledger.omnibus_account("USDC", "vault:0x" + "11" * 20),
                                 ledger.client_account(client_id, "USDC"), 300_000 * USDC))
        run = rec.run_type2(bank, run_key="t2-pass", now=NOW)
        assert run.status == "PASS"
        assert run.figures["exact"] == {"customers": "1", "legs_matched": "1"}

        bank.debit_for_buy(str(uuid.uuid4()), "7890", 1_000_00, reference="ord-2", asset="USDC",
                           asset_units=1_000 * USDC, ledger_transfer_id="trade:ord-2")  # never posted
        run = rec.run_type2(bank, run_key="t2-break", now=NOW)
        assert run.status != "PASS"
        [brk] = rec.book.breaks(run.id)
        assert brk.asset == "USDC" and brk.difference == -1_000 * USDC

        # the issuer could not mint ord-3: its debit is reversed, nothing was delivered
        debit = bank.debit_for_buy(str(uuid.uuid4()), "7890", 2_000_00, fee_cents=5_00,
                                   reference="ord-3", asset="USDC", asset_units=2_000 * USDC,
                                   ledger_transfer_id="trade:ord-3")
        assert len(rec.book.breaks(rec.run_type2(bank, run_key="t2-unrefunded", now=NOW).id)) == 2
        bank.reverse_debit(str(uuid.uuid4()), debit.posting_id, reference="refund ord-3")
        run = rec.run_type2(bank, run_key="t2-refunded", now=NOW)
        assert [b.subject for b in rec.book.breaks(run.id)] == [brk.subject]  # ord-2's only
        assert bank.customer("7890").balance_cents == 200_000_00 - 1_000_00
    finally:
        bank.close()
        ops.close()
        ledger.close()
