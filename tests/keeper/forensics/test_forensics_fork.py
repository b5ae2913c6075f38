"""On the fork: real USDC and ETH transfers between accounts are mirrored (fake-token, dust and
reverted movements are not), traced to depth with compliance labels marked, exported, repaired
after a reorg, and a real peel chain is detected from the mirror."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from keeper.assets import USDC, USDT
from keeper.chain import ChainReader
from keeper.compliance import LabelStore
from keeper.forensics import (
    AddressLabels,
    AnomalyPipeline,
    ChainSource,
    MirrorConfig,
    PeelChain,
    TraceLimits,
    TransferMirror,
    trace,
)
from keeper.forensics.models import TransferRow
from strongroom_testkit.anvil import mine, revert, snapshot
from strongroom_testkit.forensics import labels_csv, migrated, mint_usdc

pytestmark = pytest.mark.fork
U = 10**6


@pytest.fixture
def world(tmp_path: Any, accounts: Any, chain: Any, usdc: Any, project: Any, w3: Any) -> Any:
    """Accounts a..g and p1/p2 (peels); USDC minted to a, then a peel chain a -> b -> c -> d,
    a fake 'USDC' token's transfers, dust, ETH a -> f and a reverted ETH payment."""
    a, b, c, d, e, f, g, p1, p2 = (accounts[i] for i in range(1, 10))
    engine = create_engine(migrated(tmp_path))
    start = w3.eth.block_number + 1
    mint_usdc(accounts, chain, usdc, a.address, 1_000_000 * U)
    usdc.transfer(b.address, 900_000 * U, sender=a)
    usdc.transfer(p1.address, 100_000 * U, sender=a)  # the peel
    usdc.transfer(c.address, 810_000 * U, sender=b)
    usdc.transfer(p2.address, 90_000 * U, sender=b)
    usdc.transfer(d.address, 729_000 * U, sender=c)
    usdc.transfer(e.address, 1_000 * U, sender=d)
    usdc.transfer(g.address, U // 2, sender=c)  # dust: below 1 USDC
    fake = project.TetherToken.deploy(10**30, "USD Coin", "USDC", 6, sender=g)
    for who in (a, b, d):
        fake.transfer(who.address, 5_000_000 * U, sender=g)  # a fake token's Transfer logs
    a.transfer(f.address, 10**18)  # native ETH
    a.transfer(g.address, 10)  # ETH dust
    tx = w3.eth.send_transaction({"from": a.address, "to": USDC.address, "value": 10**18,
                                  "gas": 100_000})  # the token refuses ETH: reverted
    assert w3.eth.wait_for_transaction_receipt(tx, timeout=30)["status"] == 0
    mine(w3, 1)
    mirror = TransferMirror(engine, ChainReader(w3), MirrorConfig(
        tokens={USDC.address: "USDC", USDT.address: "USDT"}, start_block=start, range_size=7))
    mirror.run_until_synced()
    yield SimpleNamespace(engine=engine, mirror=mirror, a=a.address.lower(), b=b.address.lower(),
                          c=c.address.lower(), d=d.address.lower(), e=e.address.lower(),
                          f=f.address.lower(), g=g.address.lower(), p1=p1.address.lower(),
                          p2=p2.address.lower(), fake=fake.address.lower(), w3=w3, d_account=d)
    engine.dispose()


def stored(engine: Any) -> list[tuple[str, str, str, int]]:
    with engine.connect() as conn:
        return [(r.asset, r.sender, r.recipient, int(r.amount)) for r in conn.execute(
            select(TransferRow).order_by(TransferRow.id))]


def test_only_watched_tokens_and_successful_eth_above_dust_are_mirrored(world):
    w = world
    zero = "0x" + "00" * 20
    assert stored(w.engine) == [
        ("USDC", zero, w.a, 1_000_000 * U), ("USDC", w.a, w.b, 900_000 * U),
        ("USDC", w.a, w.p1, 100_000 * U), ("USDC", w.b, w.c, 810_000 * U),
        ("USDC", w.b, w.p2, 90_000 * U), ("USDC", w.c, w.d, 729_000 * U),
        ("USDC", w.d, w.e, 1_000 * U), ("ETH", w.a, w.f, 10**18)]
    assert w.mirror.skipped_dust == 2
    assert w.mirror.cursor()[0] == w.w3.eth.block_number - 1  # one confirmation
    assert w.mirror.run_until_synced() == 0  # a second pass stores nothing twice


def test_a_restarted_mirror_continues_from_its_cursor_exactly_once(world, usdc):
    w = world
    before = stored(w.engine)
    usdc.transfer(w.a, 3_000 * U, sender=w.d_account)
    mine(w.w3, 1)
    restarted = TransferMirror(w.engine, ChainReader(w.w3), MirrorConfig(
        tokens={USDC.address: "USDC"}, start_block=0))  # its start block is ignored: a cursor exists
    assert restarted.run_until_synced() == 1
    assert stored(w.engine) == [*before, ("USDC", w.d, w.a, 3_000 * U)]
    assert restarted.run_until_synced() == 0 and w.mirror.run_until_synced() == 0


def test_a_trace_reaches_its_depth_with_labels_marked_and_exports(world):
    w = world
    LabelStore(w.engine).import_list("intel", labels_csv([(w.d, "sanctioned"),
                                                          (w.p2, "mixer")]), "csv")
    labels = AddressLabels.from_compliance(w.engine, own={w.a: "hot"}, partners={w.c: "warp"},
                                           whitelisted={w.e: "client-7"})
    t = trace(w.engine, w.a, labels, direction="out", limits=TraceLimits(depth=3))
    assert {a: n["depth"] for a, n in t.nodes.items()} == {
        w.a: 0, w.b: 1, w.p1: 1, w.f: 1, w.c: 2, w.p2: 2, w.d: 3}
    assert t.labelled() == {w.a: ["own:hot"], w.c: ["partner:warp"], w.d: ["sanctioned"],
                            w.p2: ["mixer"]}
    deeper = trace(w.engine, w.a, labels, limits=TraceLimits(depth=4))
    assert deeper.nodes[w.e] == {"depth": 4, "labels": ["whitelisted:client-7"]}
    back = trace(w.engine, w.d, labels, direction="in", limits=TraceLimits(depth=3))
    assert set(back.nodes) == {w.d, w.c, w.b, w.a}  # the mint's zero address is hop 4
    bounded = trace(w.engine, w.b, labels, limits=TraceLimits(depth=3, fanout=1))
    assert set(bounded.nodes) == {w.b, w.c, w.d, w.e} and bounded.truncated == 1  # not p2
    doc = json.loads(t.to_json())
    assert {n["address"] for n in doc["nodes"]} == set(t.nodes) and len(doc["edges"]) == 6
    rows = list(csv.DictReader(io.StringIO(t.to_csv())))
    assert {(r["sender"], r["recipient"], r["recipient_labels"]) for r in rows} >= {
        (w.c, w.d, "sanctioned"), (w.b, w.p2, "mixer")}
    dot = t.to_dot()
    assert f'"{w.c}" -> "{w.d}"' in dot and 'fillcolor="mistyrose"' in dot
    assert dot.count("->") == 6


def test_a_trace_from_a_transaction(world):
    w = world
    with w.engine.connect() as conn:
        tx = conn.scalar(select(TransferRow.tx_hash).where(TransferRow.sender == w.b,
                                                            TransferRow.recipient == w.c))
    t = trace(w.engine, tx, direction="out", limits=TraceLimits(depth=2))
    assert set(t.nodes) == {w.b, w.c, w.d, w.e}


def test_a_reorg_drops_the_orphaned_transfers(world, usdc):
    w = world
    snap = snapshot(w.w3)
    usdc.transfer(w.a, 5_000 * U, sender=w.d_account)  # d -> a, on a branch about to vanish
    mine(w.w3, 1)
    w.mirror.run_until_synced()
    assert ("USDC", w.d, w.a, 5_000 * U) in stored(w.engine)
    revert(w.w3, snap)
    mine(w.w3, 3)  # the other branch, longer
    w.mirror.run_until_synced()
    assert ("USDC", w.d, w.a, 5_000 * U) not in stored(w.engine)
    assert w.mirror.reorgs == 1
    pos, h = w.mirror.cursor()
    assert w.w3.eth.get_block(pos)["hash"].hex().removeprefix("0x") == h.removeprefix("0x")


def test_a_real_peel_chain_is_detected_from_the_mirror(world):
    w = world
    p = AnomalyPipeline(w.engine, [ChainSource(w.engine)], [PeelChain()])
    found = p.run_once()
    assert [(a.detector, a.subject) for a in found] == [("peel_chain", w.d)]
    assert [(x["sender"], x["recipient"]) for x in found[0].evidence] == [
        ("0x" + "00" * 20, w.a), (w.a, w.b), (w.b, w.c), (w.c, w.d)]


def test_at_zero_confirmations_a_reorged_head_is_repaired(world, usdc, tmp_path):
    """The keeper's job mirrors at the head (SC-008's 30 s): a head block that a reorg drops
    takes its transfer with it."""
    w = world
    engine = create_engine(migrated(tmp_path, "head.db"))
    m = TransferMirror(engine, ChainReader(w.w3), MirrorConfig(
        tokens={USDC.address: "USDC"}, confirmations=0, start_block=w.w3.eth.block_number))
    m.run_until_synced()
    snap = snapshot(w.w3)
    usdc.transfer(w.a, 4_000 * U, sender=w.d_account)
    assert m.run_until_synced() == 1  # at once, no block on top
    revert(w.w3, snap)
    mine(w.w3, 2)
    m.run_until_synced()
    assert ("USDC", w.d, w.a, 4_000 * U) not in stored(engine) and m.reorgs == 1
    engine.dispose()
