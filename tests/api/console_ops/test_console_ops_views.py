"""The data of the compliance and treasury pages, gathered by plain functions over the world's
database: cases with evidence, reports and the labelled trace; closing with a reason through
the compliance service (a refusal changes nothing); tiers with drift; breaks and the breaker;
sweeps; the follower's lag against the local mainnet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from api.console.compliance import CaseView, alerts, case, cases, close_case, reports, trace_starts
from api.console.treasury import Cached, follower_lag, load_tiers, recon, sweeps
from keeper.compliance import CaseError, ComplianceService, RuleSet
from keeper.forensics import TraceLimits
from keeper.ledger import Ledger
from keeper.prices import PriceError
from strongroom_testkit.apiworld import VAULT
from strongroom_testkit.consoleops import HOSTILE, MIXER, PARTNER, UPSTREAM, OpsWorld, audit_ops


def svc(ow: OpsWorld) -> ComplianceService:
    return ComplianceService(ow.engine, RuleSet.load())


def view_of(ow: OpsWorld, case_id: int, **kw: object) -> CaseView:
    v = case(svc(ow), case_id, own={VAULT: "vault"}, **kw)  # type: ignore[arg-type]
    assert v is not None
    return v


def test_a_case_shows_its_movement_evidence_reports_and_labelled_trace(ow: OpsWorld) -> None:
    v = view_of(ow, ow.cases[2], direction="both")
    assert v.case.status == "open" and v.case.client_id == ow.cw.world.alice.client.id
    assert [s for s, *_ in v.steps] == ["open"]
    assert v.movement is not None and v.movement["amount"] == "1,002.000000 USDC"
    assert v.movement["value"] == "$1,002.00" and v.movement["verdict"] == "block"
    assert any(r.startswith("R005") for r in v.movement["reasons"])
    assert [(r.kind, r.status) for r in v.reports] == [("SAR", "draft")]
    assert timedelta(days=30) <= v.reports[0].due_at - v.case.opened_at < timedelta(days=30, seconds=9)
    assert v.starts == [MIXER]
    assert v.trace is not None and v.graph is not None
    labels = {a: n["labels"] for a, n in v.trace.nodes.items()}
    assert labels[MIXER] == ["mixer"] and labels[PARTNER] == [f"partner:warp:{HOSTILE}"]
    assert labels[VAULT.lower()] == ["own:vault"]
    assert "<script" not in v.graph and "&lt;script&gt;" in v.graph
    assert {(e["from"], e["to"]) for e in v.edges} >= {(MIXER, PARTNER)}


def test_the_trace_is_bounded_like_the_api(ow: OpsWorld) -> None:
    one = view_of(ow, ow.cases[2], direction="out", limits=TraceLimits(depth=1))
    assert one.trace is not None and set(one.trace.nodes) == {MIXER, PARTNER}
    capped = view_of(ow, ow.cases[2], direction="both", limits=TraceLimits(depth=3, max_nodes=2))
    assert capped.trace is not None and len(capped.trace.nodes) == 2 and capped.trace.truncated
    with pytest.raises(ValueError, match="depth"):
        TraceLimits(depth=11)


def test_trace_starts_come_from_the_movement_and_the_evidence_only_when_well_formed() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    tx = "0x" + "ab" * 32
    steps = [("evidence", "x", at, {"address": "not-an-address"}),
             ("evidence", "x", at, {"tx": tx.upper().replace("0X", "0x")}),
             ("evidence", "x", at, {"address": MIXER.upper().replace("0X", "0x")})]
    assert trace_starts({"address": MIXER}, steps) == [MIXER, tx]
    assert trace_starts(None, []) == []


def test_closing_needs_a_reason_and_a_refusal_changes_nothing(ow: OpsWorld) -> None:
    cid = ow.cases[1]
    before = svc(ow).case_steps(cid)
    for reason in ("", "   "):
        with pytest.raises(CaseError, match="reason"):
            close_case(svc(ow), cid, "console:compliance", reason)
    assert svc(ow).case_steps(cid) == before
    assert view_of(ow, cid).case.status == "open"
    with pytest.raises(CaseError, match="no case"):
        close_case(svc(ow), 10**9, "console:compliance", "why")


def test_closing_an_open_case_confirms_it_with_the_reason_then_closes_it(ow: OpsWorld) -> None:
    cid = ow.cases[1]
    assert close_case(svc(ow), cid, "console:compliance", "funds went to a mixer") == "closed"
    v = view_of(ow, cid)
    assert (v.case.status, v.case.outcome) == ("closed", "confirm")
    assert [(s, a) for s, a, *_ in v.steps][-2:] == [("decide", "console:compliance"),
                                                      ("close", "console:compliance")]
    decided = [r for r in audit_ops(ow.engine, "compliance.case.decide")
               if r["params"]["case"] == cid]
    assert decided and decided[-1]["params"]["note"] == "funds went to a mixer"
    assert decided[-1]["actor"] == "console:compliance"
    assert [r["params"]["case"] for r in audit_ops(ow.engine, "compliance.case.close")].count(cid) == 1
    # closed is final: a second close is refused and adds no step
    with pytest.raises(CaseError):
        close_case(svc(ow), cid, "console:compliance", "again")
    assert len(view_of(ow, cid).steps) == len(v.steps)
    assert cid in [c.id for c in cases(ow.engine, "closed")]
    assert cid not in [c.id for c in cases(ow.engine, "open")]


def test_reports_and_alerts_list_the_sar_drafts_with_their_deadlines(ow: OpsWorld) -> None:
    drafts = reports(ow.engine, drafts_only=True)
    assert {r.id for r in drafts} >= {ow.sars[2], ow.sars[4]}
    now = datetime.now(UTC)
    assert all(r.urgency(now) == "" for r in drafts)  # 30 days ahead
    assert drafts[0].urgency(now + timedelta(days=26)) == "due soon"
    assert drafts[0].urgency(now + timedelta(days=31)) == "overdue"
    late = alerts(ow.engine, RuleSet.load(), now + timedelta(days=31))
    assert {d.report_id for d in late.due} >= {r.id for r in drafts}
    assert all(d.overdue for d in late.due)
    assert alerts(ow.engine, RuleSet.load(), now).due == []


def test_the_tiers_show_shares_targets_and_drift_with_out_of_band_marked(ow: OpsWorld) -> None:
    t = load_tiers(ow.tiers)
    assert t.error is None and t.aum == "$1,800,000.00"
    rows = {r.tier: r for r in t.rows if r.asset == "BTC"}
    assert (rows["hot"].units, rows["hot"].share, rows["hot"].target, rows["hot"].drift) == (
        "6.00000000 BTC", "30.00%", "5.00%", "+25.00%")
    assert rows["hot"].out_of_band and rows["cold"].out_of_band and not rows["warm"].out_of_band
    (symbol, bars, drift), = t.charts
    assert symbol == "BTC" and "out of band" in bars and "+25.00%" in drift


def test_a_tier_source_that_fails_is_said_on_the_page_without_its_secrets() -> None:
    def broken() -> object:  # node URLs often carry an API key
        raise ConnectionError("https://mainnet.example/v3/SECRETKEY0123: connection refused")
    t = load_tiers(broken)  # type: ignore[arg-type]
    assert t.error is not None and "ConnectionError" in t.error and not t.rows
    assert "SECRETKEY" not in t.error and "example" not in t.error

    def unpriced() -> object:  # the domain's own refusals are said as they are
        raise PriceError("no fresh price for BTC")
    assert "no fresh price for BTC" in (load_tiers(unpriced).error or "")  # type: ignore[arg-type]
    assert load_tiers(None).error == "no vault is deployed on this chain: no tier view"


def test_reconciliation_breaks_breaker_and_sweeps(ow: OpsWorld) -> None:
    r = recon(ow.engine, ow.run_id)
    assert r.run is not None and r.run.status == "FAIL"
    assert [b.id for b in r.run_breaks] == [ow.breaks["critical"], ow.breaks["investigate"]]
    assert ow.run_id in [x.id for x in r.runs]
    assert recon(ow.engine, 10**9).run is None
    (s,) = sweeps(ow.engine)
    assert (s["kind"], s["status"], s["amount"]) == ("daily", "dry_run", "7.000000 USDC")


def test_the_follower_lag_is_the_health_figure_against_the_node(ow: OpsWorld) -> None:
    w3 = Web3(HTTPProvider(UPSTREAM))
    before = w3.eth.block_number
    lg = Ledger(ow.cw.world.url, group_commit=False)
    try:
        (f,) = follower_lag(ow.engine, lg, ow.settings())  # type: ignore[arg-type]
    finally:
        lg.close()
    after = w3.eth.block_number
    assert f.name == "vault" and f.position == 3
    assert f.lag_blocks is not None and before - 3 <= f.lag_blocks <= after - 3


def test_the_chain_tier_view_is_reread_after_its_ttl_and_a_failed_read_is_not_kept(
        ow: OpsWorld) -> None:
    assert ow.tiers is not None
    reads: list[int] = []
    now = [0.0]
    failing = [False]

    def source() -> Any:
        if failing[0]:
            raise ConnectionError("node down")
        reads.append(1)
        return ow.tiers()  # type: ignore[misc]

    kept = Cached(source, ttl_s=5.0, clock=lambda: now[0])
    first = kept()
    now[0] = 4.9
    assert kept() is first and len(reads) == 1
    now[0], failing[0] = 5.0, True
    with pytest.raises(ConnectionError):
        kept()
    failing[0] = False
    assert kept() is not first and len(reads) == 2
