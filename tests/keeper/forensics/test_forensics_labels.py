"""The detect job's labels include the partners' deposit addresses
(``partner:<partner>:<client>``, from :func:`keeper.partners.deposit_addresses`): a partner
sub-account collecting deposits from many payers is never a fan-in collector, while any other
address collecting the same way still is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, insert

from keeper.forensics import AnomalyPipeline, ChainSource
from keeper.forensics.jobs import detectors
from keeper.forensics.models import TransferRow
from keeper.forensics.trace import known_labels
from keeper.partners import upgrade as partners_upgrade
from keeper.partners.store import PartnerStore
from strongroom_testkit.forensics import T0, USDC_UNIT, addr, migrated

SUB, OTHER, VAULT = addr(0x5AB), addr(0x0C0), addr(0x7A0)


def test_partner_deposit_addresses_are_labelled_and_never_fan_in_collectors(tmp_path: Any) -> None:
    url = migrated(tmp_path)
    partners_upgrade(url)
    engine = create_engine(url)
    PartnerStore(engine, "warp").add_account("client-7", SUB.upper().replace("0X", "0x"))
    labels = known_labels(engine, own={VAULT: "vault"})
    assert labels.of(SUB) == ["partner:warp:client-7"]
    assert labels.of(VAULT) == ["own:vault"] and labels.of(OTHER) == []
    rows = [{"block_number": 100 + n, "block_hash": "0x" + f"{n:064x}",
             "block_time": T0 + timedelta(seconds=n), "tx_hash": "0x" + f"{n + 1:064x}",
             "log_index": 0, "asset": "USDC", "token": addr(0x99), "sender": addr(0x100 + i),
             "recipient": to, "amount": str(10 * USDC_UNIT)}
            for n, (i, to) in enumerate((i, to) for to in (SUB, OTHER) for i in range(6))]
    with engine.begin() as conn:
        conn.execute(insert(TransferRow), rows)
    found = AnomalyPipeline(engine, [ChainSource(engine)], detectors(labels)).run_until_idle()
    assert [a.subject for a in found if a.detector == "fan_in"] == [OTHER]
    engine.dispose()
