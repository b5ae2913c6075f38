"""Custody topology (FR-007, SC-006): spread, no single region/technology at quorum, liveness;
changes that break the policy are refused with the reason, recorded and audited."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from sqlalchemy import create_engine

from keeper.audit import AuditTrail
from keeper.audit import upgrade as audit_upgrade
from keeper.treasury.migrate import upgrade as treasury_upgrade
from keeper.treasury.pooling import (
    Signer,
    TopologyStore,
    TopologyViolationError,
    WalletTopology,
    check_wallet,
)

# 3-of-5 over 3 regions x 3 technologies (2/2/1 each way)
GOOD = (
    Signer("hsm-fra", "eu-frankfurt", "hsm"),
    Signer("ledger-fra", "eu-frankfurt", "offline_hardware"),
    Signer("kms-nyc", "us-newyork", "cloud_kms"),
    Signer("hsm-nyc", "us-newyork", "hsm"),
    Signer("partner-sgp", "ap-singapore", "partner_custodian"),
)


def _quorums(topo: WalletTopology):
    return itertools.combinations(topo.signers, topo.threshold)


def test_3_of_5_over_3_regions_and_3_technologies_passes():
    topo = WalletTopology("cold", 3, GOOD)
    report = check_wallet(topo)
    assert report.ok, report.violations
    assert report.regions == {"ap-singapore": 1, "eu-frankfurt": 2, "us-newyork": 2}
    assert report.technologies == {"cloud_kms": 1, "hsm": 2, "offline_hardware": 1,
                                   "partner_custodian": 1}
    # the property itself, by brute force: no quorum inside one region or one technology, and
    # every region / technology lost still leaves a quorum
    for q in _quorums(topo):
        assert len({s.region for s in q}) >= 2 and len({s.technology for s in q}) >= 2
    for dim in ("region", "technology"):
        for place in {getattr(s, dim) for s in GOOD}:
            assert sum(getattr(s, dim) != place for s in GOOD) >= 3


def test_a_region_that_reaches_quorum_alone_fails_naming_region_and_signers():
    signers = (*GOOD[:4], Signer("hsm-fra-2", "eu-frankfurt", "partner_custodian"))
    report = check_wallet(WalletTopology("cold", 3, signers))
    assert not report.ok
    alone = [v for v in report.violations if "alone reaches quorum" in v]
    assert alone == ["region eu-frankfurt alone reaches quorum (3 of threshold 3: hsm-fra, "
                     "hsm-fra-2, ledger-fra)"]


def test_a_technology_that_reaches_quorum_alone_fails_naming_it_and_its_signers():
    signers = (GOOD[0], GOOD[1], Signer("kms-nyc", "us-newyork", "hsm"), GOOD[3], GOOD[4])
    report = check_wallet(WalletTopology("cold", 3, signers))
    assert any(v.startswith("technology hsm alone reaches quorum (3 of threshold 3: hsm-fra, "
                            "hsm-nyc, kms-nyc)") for v in report.violations), report.violations
    assert not any(v.startswith("region") for v in report.violations)


def test_two_regions_only_fails_spread_and_reaching_or_liveness():
    """The issue's failing case: quorum reachable with two regions because there are only two."""
    # 3-of-5, regions 3/2: Frankfurt reaches quorum alone
    a = tuple(Signer(s.signer, "eu-frankfurt" if s.region == "ap-singapore" else s.region,
                     s.technology) for s in GOOD)
    ra = check_wallet(WalletTopology("w", 3, a))
    assert "signers span 2 regions (eu-frankfurt, us-newyork), at least 3 required" in ra.violations
    assert any(v.startswith("region eu-frankfurt alone reaches quorum") for v in ra.violations)
    # 3-of-4, regions 2/2: neither alone, but losing either leaves 2 < 3
    b = GOOD[:4]
    rb = check_wallet(WalletTopology("w", 3, b))
    assert not any("alone" in v and v.startswith("region") for v in rb.violations)
    assert "losing region eu-frankfurt (hsm-fra, ledger-fra) leaves 2 signers, below threshold 3" \
        in rb.violations


def test_the_stronger_reading_would_refuse_the_passing_case():
    """'No two regions together reach quorum' contradicts liveness with three regions: the
    passing 3-of-5 has two regions holding 4 >= 3 signers, and must (to survive a lost region)."""
    regions = {s.region for s in GOOD}
    pairs = [p for p in itertools.combinations(sorted(regions), 2)
             if sum(s.region in p for s in GOOD) >= 3]
    assert pairs and check_wallet(WalletTopology("cold", 3, GOOD)).ok


def test_losing_a_technology_must_leave_quorum():
    # 2-of-3 whose three signers are all distinct: losing any one leaves 2: passes
    three = (Signer("a", "r1", "t1"), Signer("b", "r2", "t2"), Signer("c", "r3", "t3"))
    assert check_wallet(WalletTopology("warm", 2, three)).ok
    # 3-of-3: losing any region or technology kills quorum
    r = check_wallet(WalletTopology("warm", 3, three))
    assert "losing technology t1 (a) leaves 2 signers, below threshold 3" in r.violations


@pytest.fixture
def store(database):
    """A topology store on a migrated database (SQLite and PostgreSQL)."""
    url = database("custody")
    treasury_upgrade(url)
    audit_upgrade(url)
    engine = create_engine(url)
    yield TopologyStore(engine, actor="ops:alice")
    engine.dispose()


def test_changes_that_break_the_policy_are_refused_recorded_and_audited(store):
    store.define("cold", 3, GOOD)
    before = store.wallet("cold")
    # moving Singapore's partner to Frankfurt: Frankfurt would reach quorum alone
    with pytest.raises(TopologyViolationError) as refused:
        store.move_signer("cold", "partner-sgp", region="eu-frankfurt")
    assert any("region eu-frankfurt alone reaches quorum" in r for r in refused.value.reasons)
    assert store.wallet("cold") == before  # nothing changed
    # removing a signer: 3-of-4 cannot survive losing Frankfurt
    with pytest.raises(TopologyViolationError, match="losing region eu-frankfurt"):
        store.remove_signer("cold", "kms-nyc")
    with pytest.raises(TopologyViolationError, match="threshold 6 is not between 1 and the 5"):
        store.set_threshold("cold", 6)
    assert store.wallet("cold") == before
    # an allowed change goes through: a sixth signer in a fourth region
    report = store.add_signer("cold", Signer("partner-lon", "eu-london", "partner_custodian"))
    assert report.ok and report.signers == 6
    assert len(store.wallet("cold").signers) == 6
    # and the move that was refused before is still refused (Frankfurt would hold 3 of 3)
    with pytest.raises(TopologyViolationError):
        store.move_signer("cold", "partner-sgp", region="eu-frankfurt")
    assert [(a, ok) for a, ok, _ in store.changes("cold")] == [
        ("define", True), ("move", False), ("remove", False), ("threshold", False),
        ("add", True), ("move", False)]
    assert [r.wallet for r in store.report()] == ["cold"]
    out = io.StringIO()
    AuditTrail(store.engine).export(out)
    ops = [json.loads(line)["record"]["operation"] for line in out.getvalue().splitlines()]
    assert ops.count("treasury.custody.move") == 2 and "treasury.custody.add" in ops


def test_an_undefined_wallet_or_signer_is_refused(store):
    with pytest.raises(TopologyViolationError, match="no wallet nowhere"):
        store.add_signer("nowhere", GOOD[0])
    with pytest.raises(TopologyViolationError, match="signers span 1 regions"):
        store.define("bad", 1, GOOD[:1])
    assert store.wallet("bad") is None
    store.define("cold", 3, GOOD)
    with pytest.raises(TopologyViolationError, match="no signer ghost"):
        store.move_signer("cold", "ghost", region="x")


def test_the_shipped_topology_data_passes_and_malformed_data_is_refused(store):
    from pathlib import Path

    from keeper.treasury.pooling import topology_from_json

    path = Path(__file__).resolve().parents[3] / "keeper/treasury/pooling/topology.json"
    wallets = topology_from_json(path.read_text())
    assert {t.wallet for t in wallets} == {"eth-cold-multisig", "eth-warm-multisig", "btc-cold",
                                           "btc-warm"}
    for t in wallets:
        report = store.define(t.wallet, t.threshold, t.signers)
        assert report.ok and report.reach_quorum_alone == () and report.loss_breaks_quorum == ()
    assert [r.as_dict()["ok"] for r in store.report()] == [True] * 4
    for bad in ('{"wallets": [{"wallet": "w", "threshold": "3", "signers": []}]}',
                '{"wallets": [{"wallet": "w"}]}', "not json",
                '{"wallets": [{"wallet": "w", "threshold": 1, "signers": []},'
                ' {"wallet": "w", "threshold": 1, "signers": []}]}'):
        with pytest.raises(ValueError, match="threshold is an integer|malformed"):
            topology_from_json(bad)


def test_the_report_names_what_reaches_quorum_alone_and_what_loss_breaks_it():
    signers = (*GOOD[:4], Signer("hsm-fra-2", "eu-frankfurt", "hsm"))
    report = check_wallet(WalletTopology("cold", 3, signers))
    assert report.reach_quorum_alone == ("region eu-frankfurt", "technology hsm")
    # 3 of 5 in one place: losing it also leaves 2 < 3 (with 5 signers, both rules bind at 3)
    assert report.loss_breaks_quorum == ("region eu-frankfurt", "technology hsm")
    three = (Signer("a", "r1", "t1"), Signer("b", "r2", "t2"), Signer("c", "r3", "t3"))
    assert check_wallet(WalletTopology("w", 3, three)).loss_breaks_quorum == (
        "region r1", "region r2", "region r3", "technology t1", "technology t2", "technology t3")


def test_two_changes_each_fine_alone_cannot_both_pass_at_once(database):
    import threading

    from keeper.ledger.db import make_engine

    url = database("custody_race")
    treasury_upgrade(url)
    audit_upgrade(url)
    engine = make_engine(url)
    store = TopologyStore(engine)
    six = (Signer("a", "r1", "t1"), Signer("b", "r1", "t2"), Signer("c", "r2", "t1"),
           Signer("d", "r2", "t3"), Signer("e", "r3", "t2"), Signer("f", "r3", "t3"))
    store.define("w", 3, six)
    for gone in ("a", "b"):  # each removal alone keeps the policy
        assert check_wallet(WalletTopology("w", 3, tuple(s for s in six if s.signer != gone))).ok
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def remove(signer: str) -> None:
        barrier.wait()
        try:
            TopologyStore(engine).remove_signer("w", signer)
            outcomes.append("accepted")
        except TopologyViolationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=remove, args=(x,)) for x in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted", "refused"]
    assert check_wallet(store.wallet("w")).ok and len(store.wallet("w").signers) == 5
    engine.dispose()
