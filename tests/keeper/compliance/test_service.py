"""The screen() gate, freezes, cases and reports on SQLite and PostgreSQL (audit in the same DB)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from keeper.audit.models import AuditRow
from keeper.compliance import ListVersion, Screener, parse_list
from keeper.compliance.models import CaseRow, MovementRow, ReportRow
from keeper.compliance.risk import LabelledAddressRisk, StaticEdges
from keeper.compliance.rules_engine import DEFAULT_RULES_FILE, Movement, RuleSet
from keeper.compliance.service import CaseError, ComplianceService, Frozen, Verdict
from keeper.ledger import Ledger, TransferSpec, utc
from keeper.prices import StaticPrices

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
MIXER = "0x" + "66" * 20
CLEAN = "0x" + "11" * 20



def svc(db: Engine, rules: RuleSet | None = None) -> ComplianceService:
    return ComplianceService(db, rules or RuleSet.load(), risk=LabelledAddressRisk({"mixer": [MIXER]}),
                             clock=lambda: T0)


def count(db: Engine, table) -> int:  # noqa: ANN001
    with db.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def mv(i: int, cents: int, at: datetime = T0, kind: str = "deposit", client: str = "c1", **kw) -> Movement:
    return Movement(f"m{i}", client, kind, "USDC", cents * 10_000, cents, at, **kw)


def test_rule_change_is_versioned_and_old_decisions_keep_their_version(db: Engine) -> None:
    v1 = RuleSet.load()
    raw = json.loads(DEFAULT_RULES_FILE.read_text())
    raw["version"] = 2
    for r in raw["rules"]:
        if r["id"] == "R004":
            r["parameters"]["above_cents"] = 100  # $1
    v2 = RuleSet.parse(json.dumps(raw))
    first = svc(db, v1).screen(mv(1, 5_000))
    assert first.outcome == "allow" and first.rules_version == 1 and not first.rule_hits
    second = svc(db, v2).screen(mv(2, 5_000, T0 + timedelta(minutes=1)))
    assert [(h.rule_id, h.rules_version) for h in second.rule_hits] == [("R004", 2)]
    assert second.report_ids  # a CTR draft
    with db.connect() as c:
        stored = dict(c.execute(select(MovementRow.id, MovementRow.rules_version)).all())
    assert stored == {"m1": 1, "m2": 2}
    # a repeat of the old movement returns the decision it got, under its version
    again = svc(db, v2).screen(mv(1, 5_000))
    assert again.rules_version == 1 and again.outcome == "allow"


def test_block_opens_case_sar_and_audit_atomically(db: Engine) -> None:
    audits = count(db, AuditRow)
    v = svc(db).screen(mv(1, 100, kind="withdrawal", address=MIXER))
    assert v.outcome == "block" and v.case_id is not None
    assert {h.rule_id for h in v.rule_hits} == {"R005"}
    assert any("address risk 95" in r for r in v.reasons)
    with db.connect() as c:
        case = c.execute(select(CaseRow).where(CaseRow.id == v.case_id)).one()
        sar = c.execute(select(ReportRow).where(ReportRow.kind == "SAR")).one()
        bodies = [json.loads(b) for b in c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()]
    assert "compliance.screen" in json.dumps(bodies[-1])
    assert case.status == "open" and sar.case_id == v.case_id
    assert utc(sar.due_at) == T0 + timedelta(days=30)
    assert count(db, AuditRow) - audits == 3  # case opened, SAR drafted, decision


def test_blocked_withdrawal_posts_nothing(db: Engine, compliance_url: str) -> None:
    ledger = Ledger(compliance_url)
    try:
        om, alice = ledger.omnibus_account("USDC", "hot"), ledger.client_account("c1", "USDC")
        ledger.post(TransferSpec("dep", om, alice, 1_000_000))
        before = (ledger.balance(om), ledger.balance(alice))
        tx = mv(1, 100, kind="withdrawal", address=MIXER)
        verdict = svc(db).screen(tx)
        if verdict.outcome == "allow":  # the flow's contract: move only on allow
            ledger.post(TransferSpec(tx.id, alice, om, tx.units))
        assert verdict.outcome == "block"
        assert (ledger.balance(om), ledger.balance(alice)) == before
        assert count(db, CaseRow) == 1
    finally:
        ledger.close()


def test_freeze_stops_every_flow_until_a_decision_lifts_it(db: Engine) -> None:
    s = svc(db)
    case = s.open_case("officer-1", "c1", {"why": "adverse media"})
    s.freeze("officer-1", "adverse media", client_id="c1", case_id=case)
    s.freeze("officer-1", "stolen funds", address=CLEAN.upper().replace("0X", "0x"), case_id=case)
    with pytest.raises(Frozen, match="client c1"):
        s.check_can_move("c1")
    with pytest.raises(Frozen, match="address"):
        s.check_can_move("c2", CLEAN)
    s.check_can_move("c2")  # another client, no address: free
    blocked = s.screen(mv(1, 100, kind="withdrawal", address=CLEAN))
    assert blocked.outcome == "block" and blocked.case_id is None  # no second case per attempt
    with pytest.raises(CaseError):
        s.lift("officer-2", case, client_id="c1")  # undecided: stays frozen
    with pytest.raises(Frozen):
        s.check_can_move("c1")
    s.approve(s.decide(case, "officer-2", "clear", "false positive"), "officer-3")  # four eyes
    s.approve(s.lift("officer-2", case, client_id="c1"), "officer-3")
    s.check_can_move("c1")
    with pytest.raises(Frozen):
        s.check_can_move("c1", CLEAN)


def test_case_steps_record_actor_and_time(db: Engine) -> None:
    s = svc(db)
    case = s.open_case("officer-1", "c9", {"why": "R006"})
    s.assign(case, "lead", "officer-2")
    s.add_evidence(case, "officer-2", {"doc": "bank statement"})
    with pytest.raises(CaseError):
        s.close(case, "officer-2")  # not decided
    s.decide(case, "officer-2", "confirm", "SAR warranted")
    s.close(case, "lead")
    with pytest.raises(CaseError):
        s.add_evidence(case, "officer-2", {"late": True})
    steps = s.case_steps(case)
    assert [(st, actor) for st, actor, _, _ in steps] == [
        ("open", "officer-1"), ("assign", "lead"), ("evidence", "officer-2"), ("decide", "officer-2"),
        ("close", "lead")]
    assert all(utc(at) == T0 for _, _, at, _ in steps)


def test_one_hop_exposure_scores_review() -> None:
    direct = "0x" + "22" * 20
    risk = LabelledAddressRisk({"mixer": [MIXER], "exchange": [CLEAN]}, StaticEdges([(MIXER, direct)]))
    assert risk.score(MIXER).band == "block"
    hop = risk.score(direct)
    assert hop.score == 57 and hop.band == "review" and MIXER in hop.reason
    assert risk.score(CLEAN).band == "approve"
    assert risk.score("0x" + "33" * 20).score == 0


def test_sanctions_hit_blocks_with_sar_and_names_the_list(db: Engine) -> None:
    listed = parse_list(Path(__file__).with_name("fixtures") / "list.json", "own-json")
    screener = Screener([ListVersion("INTERNAL", 4, "own-json", "0" * 64, T0, listed.entries)])
    s = ComplianceService(db, RuleSet.load(), screener=screener, clock=lambda: T0)
    by_address = s.screen(mv(1, 100, kind="withdrawal", address="0x" + "55" * 20))
    assert by_address.outcome == "block" and by_address.report_ids
    assert any("INTERNAL@v4 INT-1" in r for r in by_address.reasons)
    by_name = s.screen(mv(2, 100, kind="withdrawal", address=CLEAN, counterparty="Leila Mendoza"))
    assert by_name.outcome in ("review", "block") and by_name.case_id is not None
    clean = s.screen(mv(3, 100, kind="withdrawal", address=CLEAN, counterparty="Jonathan Appleseed"))
    assert clean.outcome == "allow" and clean.case_id is None


def test_thresholds_use_the_price_feed(db: Engine) -> None:
    feed = StaticPrices({"ETH": 300_000}, as_of=T0)  # $3,000.00 per ETH
    just_over = Movement.valued(feed, "e1", "c1", "deposit", "ETH", 3 * 10**18 + 1, T0)  # $9,000.01
    assert just_over.usd_cents == 900_001
    first = Movement.valued(feed, "e0", "c1", "deposit", "ETH", 10**18, T0 - timedelta(hours=1))  # $3,000
    assert first.usd_cents == 300_000 and not svc(db).screen(first).rule_hits
    assert {h.rule_id for h in svc(db).screen(just_over).rule_hits} == {"R004"}  # $12,000.01 in 24 h


@pytest.mark.parametrize("bad", [{"units": 1.5}, {"usd_cents": -1}, {"at": datetime(2026, 1, 1)},
                                 {"kind": "teleport"}])
def test_hostile_movements_refused(bad: dict) -> None:
    fields = {"id": "x", "client_id": "c", "kind": "deposit", "asset": "USDC", "units": 1, "usd_cents": 1,
              "at": T0} | bad
    with pytest.raises((TypeError, ValueError)):
        Movement(**fields)


def test_a_failed_audit_leaves_nothing_behind(engine: Engine) -> None:
    """Only the compliance schema is migrated here: the audit append fails, and the decision,
    its case and its SAR roll back with it."""
    with pytest.raises(DBAPIError):
        svc(engine).screen(mv(1, 100, kind="withdrawal", address=MIXER))
    assert (count(engine, MovementRow), count(engine, CaseRow), count(engine, ReportRow)) == (0, 0, 0)


def test_times_in_other_zones_fall_in_the_same_stored_window(db: Engine) -> None:
    """A movement timed in UTC-12 23 h ago still counts toward the next day's CTR total."""
    minus12 = timezone(timedelta(hours=-12))
    s = svc(db)
    assert not s.screen(mv(1, 600_000, (T0 - timedelta(hours=23)).astimezone(minus12))).rule_hits
    assert {h.rule_id for h in s.screen(mv(2, 500_000)).rule_hits} == {"R004"}


def test_concurrent_screens_of_one_client_see_each_other(db: Engine) -> None:
    """Structuring split across parallel requests: every movement after the second must see the
    earlier ones (a sliding window read before a concurrent write would miss it)."""
    s = svc(db)
    n = 8
    barrier = threading.Barrier(n)

    def one(i: int) -> Verdict:
        barrier.wait()
        return s.screen(mv(i, 950_000))  # one time: only the order of arrival differs

    with ThreadPoolExecutor(n) as pool:
        verdicts = list(pool.map(one, range(n)))
    hits = sum(any(h.rule_id == "R001" for h in v.rule_hits) for v in verdicts)
    assert hits == n - 2


def test_a_reused_movement_id_with_other_content_is_refused(db: Engine) -> None:
    s = svc(db)
    assert s.screen(mv(1, 100, kind="withdrawal", address=CLEAN)).outcome == "allow"
    assert s.screen(mv(1, 100, kind="withdrawal", address=CLEAN)).outcome == "allow"  # a true retry
    with pytest.raises(ValueError, match="m1"):
        s.screen(mv(1, 100, kind="withdrawal", address=MIXER))  # not the allowed movement
    with pytest.raises(ValueError, match="m1"):
        s.screen(mv(1, 10**9, kind="withdrawal", address=CLEAN))
    assert count(db, CaseRow) == 0


def test_structuring_holds_for_review_and_geography_blocks_with_sar(db: Engine) -> None:
    s = svc(db)
    first = [s.screen(mv(i, 950_000, T0 + timedelta(hours=i))) for i in range(3)]
    assert [v.outcome for v in first] == ["allow", "allow", "review"]
    assert first[2].case_id is not None and "R001" in {h.rule_id for h in first[2].rule_hits}
    assert {h.rule_id for h in first[1].rule_hits} == {"R004"} and first[1].report_ids  # CTR, allowed
    geo = s.screen(mv(9, 1, T0 + timedelta(days=2), kind="withdrawal", client="c2", country="KP"))
    assert geo.outcome == "block" and geo.case_id is not None
    with db.connect() as c:
        kinds = sorted(c.execute(select(ReportRow.kind, ReportRow.client_id)).all())
    assert ("SAR", "c2") in kinds


def test_one_ctr_per_client_and_window(db: Engine) -> None:
    s = svc(db)
    day1 = [s.screen(mv(i, 600_000, T0 + timedelta(hours=i))) for i in range(4)]  # $24,000 in 4 h
    assert [bool(v.report_ids) for v in day1] == [False, True, False, False]
    assert all("R004" in {h.rule_id for h in v.rule_hits} for v in day1[1:])  # still flagged
    later = s.screen(mv(9, 1_100_000, T0 + timedelta(hours=25)))  # the first CTR's window is over
    assert later.report_ids
    assert count(db, ReportRow) == 2


def test_a_freeze_is_lifted_only_by_its_own_case(db: Engine) -> None:
    s = svc(db)
    real = s.open_case("officer-1", "c1", {"why": "fraud report"})
    s.freeze("officer-1", "fraud report", client_id="c1", case_id=real)
    dummy = s.open_case("insider", "c1", {"why": "nothing"})
    s.approve(s.decide(dummy, "insider", "clear", "nothing to see"), "accomplice")
    with pytest.raises(CaseError):
        s.lift("insider", dummy, client_id="c1")
    with pytest.raises(Frozen):
        s.check_can_move("c1")
    with pytest.raises(CaseError):
        s.lift("officer-1", real, client_id="c2")  # nothing frozen there: not a silent no-op


def test_a_held_movement_follows_its_case_decision(db: Engine) -> None:
    s = svc(db)
    held = [s.screen(mv(i, 950_000, T0 + timedelta(hours=i))) for i in range(4)][2:]
    assert [v.outcome for v in held] == ["review", "review"]
    assert s.screen(mv(2, 950_000, T0 + timedelta(hours=2))).outcome == "review"  # undecided: still held
    s.approve(s.decide(held[0].case_id, "officer-1", "clear", "payroll, documented"), "officer-2")
    s.decide(held[1].case_id, "officer-1", "confirm", "structuring")
    audits = count(db, AuditRow)
    cleared = s.screen(mv(2, 950_000, T0 + timedelta(hours=2)))
    assert count(db, AuditRow) == audits + 1  # the release is a decision too
    assert cleared.outcome == "allow" and cleared.rules_version == 1
    assert s.screen(mv(3, 950_000, T0 + timedelta(hours=3))).outcome == "block"
    s.freeze("officer-1", "new evidence", client_id="c1", case_id=held[0].case_id)
    assert s.screen(mv(2, 950_000, T0 + timedelta(hours=2))).outcome == "block"  # frozen since


def test_alert_hits_are_queued_for_officers(db: Engine) -> None:
    s = svc(db)
    s.screen(mv(1, 100, T0 - timedelta(minutes=30), kind="buy"))
    out = s.screen(mv(2, 100, kind="withdrawal", address=CLEAN))  # 30 min after the buy: R002
    s.screen(mv(3, 100, T0 + timedelta(hours=3), kind="deposit"))
    assert out.outcome == "allow"
    flagged = s.flagged(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(v.movement_id, [h.rule_id for h in v.rule_hits]) for v in flagged] == [("m2", ["R002"])]
    assert s.flagged(T0 + timedelta(seconds=1), T0 + timedelta(days=1)) == []
