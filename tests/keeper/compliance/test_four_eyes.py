"""Four-eyes on case decisions: clearing a case or lifting a freeze takes effect only when a second
officer, neither the proposer nor the case's opener, approves; every step recorded and audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from keeper.audit.models import AuditRow
from keeper.compliance.rules_engine import Movement, RuleSet
from keeper.compliance.service import CaseError, ComplianceService, Frozen

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)


def svc(db: Engine) -> ComplianceService:
    return ComplianceService(db, RuleSet.load(), clock=lambda: T0)


def held(s: ComplianceService) -> tuple[int, Movement]:
    """A movement held for review (R001 structuring), with its case."""
    moves = [Movement(f"m{i}", "c1", "deposit", "USDC", 950_000 * 10_000, 950_000,
                      T0 + timedelta(hours=i)) for i in range(3)]
    verdicts = [s.screen(m) for m in moves]
    assert verdicts[-1].outcome == "review" and verdicts[-1].case_id is not None
    return verdicts[-1].case_id, moves[-1]


def audited(db: Engine, prefix: str) -> list[tuple[str, str]]:
    with db.connect() as c:
        bodies = c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()
        recs = [json.loads(b)["record"] for b in bodies]
    return [(r["operation"], r["actor"]) for r in recs if r["operation"].startswith(prefix)]


def test_clearing_a_held_movement_needs_a_second_officer(db: Engine) -> None:
    s = svc(db)
    case, move = held(s)
    proposal = s.decide(case, "officer-1", "clear", "payroll, documented")
    assert proposal is not None
    assert s.screen(move).outcome == "review"  # proposed only: still held
    with pytest.raises(CaseError, match="proposer"):
        s.approve(proposal, "officer-1")
    assert s.screen(move).outcome == "review"
    s.approve(proposal, "officer-2")
    assert s.screen(move).outcome == "allow"
    with pytest.raises(CaseError):
        s.approve(proposal, "officer-3")  # already approved: no second effect
    steps = [(st, actor) for st, actor, _, _ in s.case_steps(case)]
    assert steps[-3:] == [("propose", "officer-1"), ("approve", "officer-2"), ("decide", "officer-2")]
    assert ("compliance.case.approve", "officer-2") in audited(db, "compliance.case.")


def test_confirm_needs_one_officer_and_a_pending_clear_blocks_no_one(db: Engine) -> None:
    s = svc(db)
    case, move = held(s)
    assert s.decide(case, "officer-1", "confirm", "structuring") is None
    assert s.screen(move).outcome == "block"


def test_the_opener_cannot_approve_and_a_rejection_changes_nothing(db: Engine) -> None:
    s = svc(db)
    case = s.open_case("officer-1", "c1", {"why": "adverse media"})
    s.freeze("officer-1", "adverse media", client_id="c1", case_id=case)
    proposal = s.decide(case, "officer-2", "clear", "media was about someone else")
    with pytest.raises(CaseError, match="opened"):
        s.approve(proposal, "officer-1")
    s.reject(proposal, "officer-3", "not convinced")
    with pytest.raises(CaseError):
        s.approve(proposal, "officer-4")  # rejected: gone
    with pytest.raises(CaseError):
        s.lift("officer-2", case, client_id="c1")  # the case is not decided clear
    with pytest.raises(Frozen):
        s.check_can_move("c1")


def test_lifting_a_freeze_needs_a_second_officer(db: Engine) -> None:
    s = svc(db)
    case = s.open_case("officer-1", "c1", {"why": "adverse media"})
    s.freeze("officer-1", "adverse media", client_id="c1", case_id=case)
    s.approve(s.decide(case, "officer-2", "clear", "false positive"), "officer-3")
    lift = s.lift("officer-2", case, client_id="c1")
    with pytest.raises(Frozen):
        s.check_can_move("c1")  # proposed only
    for not_allowed in ("officer-2", "officer-1"):
        with pytest.raises(CaseError):
            s.approve(lift, not_allowed)
    s.approve(lift, "officer-3")
    s.check_can_move("c1")
    ops = [op for op, _ in audited(db, "compliance.case.")]
    assert ops[-2:] == ["compliance.case.approve", "compliance.case.lift"]


def test_a_confirmed_case_cannot_lift_a_freeze(db: Engine) -> None:
    s = svc(db)
    case = s.open_case("officer-1", "c1", {"why": "fraud"})
    s.freeze("officer-1", "fraud", client_id="c1", case_id=case)
    s.decide(case, "officer-2", "confirm", "fraud confirmed")
    with pytest.raises(CaseError):
        s.lift("officer-2", case, client_id="c1")
    with pytest.raises(CaseError):
        s.approve(10_000, "officer-3")  # no such proposal
    with pytest.raises(Frozen):
        s.check_can_move("c1")
