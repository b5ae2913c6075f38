"""A trace stays bounded on a hostile graph: repeated transfers and cycles expand each address
once per direction, whatever the depth."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, event, insert

from keeper.forensics import TraceLimits, trace
from keeper.forensics.models import TransferRow
from strongroom_testkit.forensics import T0, USDC_UNIT, addr, migrated


def test_cycles_of_repeated_transfers_expand_each_address_once(tmp_path: Any) -> None:
    engine = create_engine(migrated(tmp_path))
    ring = [addr(i) for i in range(1, 4)]
    rows = []
    for k in range(20):  # twenty laps of a -> b -> c -> a
        for i, a in enumerate(ring):
            n = 3 * k + i
            rows.append({"block_number": n, "block_hash": "0x" + f"{n:064x}",
                         "block_time": T0 + timedelta(seconds=n),
                         "tx_hash": "0x" + f"{n:064x}", "log_index": 0, "asset": "USDC",
                         "token": addr(99), "sender": a, "recipient": ring[(i + 1) % 3],
                         "amount": str((100 - k) * USDC_UNIT)})
    with engine.begin() as conn:
        conn.execute(insert(TransferRow), rows)
    queries = []
    event.listen(engine, "before_cursor_execute", lambda *a: queries.append(1))
    t = trace(engine, ring[0], limits=TraceLimits(depth=10, fanout=25))
    assert set(t.nodes) == set(ring)
    assert len(t.edges) == 60  # every movement of the ring, once
    assert len(queries) <= 3  # one read per address and direction
