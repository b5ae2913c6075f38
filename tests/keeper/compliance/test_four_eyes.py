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


def test_case_steps_survive_a_commit_between_their_read_and_their_write(db: Engine) -> None:
    """Another connection (the audit writer, a keeper job) commits between a step's first read
    and its first write. A deferred SQLite transaction let it, then failed at once with
    "database is locked" (its snapshot was stale; no busy wait helps). A step's transaction is a
    writer from its first read: on SQLite the other writer finds the lock taken (it would wait;
    here it does not wait, so the test needs no timing) and every step goes through. PostgreSQL:
    the other commit goes through and so does every step."""
    import threading

    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    from keeper.ledger.db import make_engine, set_sqlite_busy

    other = make_engine(db.url.render_as_string(hide_password=False))
    sqlite = db.dialect.name == "sqlite"
    s = svc(db)
    case = s.open_case("officer-1", "c1", {"why": "adverse media"})
    outcomes: list[str] = []

    def commit_elsewhere() -> None:
        with other.connect() as c:
            if sqlite:
                set_sqlite_busy(c.connection, 0)  # find out, do not wait
            try:
                with c.begin():
                    c.execute(text("UPDATE compliance_cases SET assignee = :a WHERE id = :i"),
                              {"a": f"analyst-{len(outcomes)}", "i": case})
                outcomes.append("committed")
            except OperationalError as exc:
                outcomes.append("locked" if "locked" in str(exc) else repr(exc))

    def interleave(conn: object, cursor: object, statement: str, *_: object) -> None:
        info = conn.info  # type: ignore[attr-defined]
        if statement.lstrip().startswith(("INSERT", "UPDATE", "DELETE")) and not info.get("wrote"):
            info["wrote"] = True
            worker = threading.Thread(target=commit_elsewhere)  # another connection, not ours
            worker.start()
            worker.join()

    event.listen(db, "begin", lambda conn: conn.info.pop("wrote", None))
    event.listen(db, "before_cursor_execute", interleave)
    try:
        s.assign(case, "officer-1", "analyst-1")
        s.add_evidence(case, "officer-1", {"doc": "kyc refresh"})
        proposal = s.decide(case, "officer-1", "clear", "documented")
        assert proposal is not None
        s.approve(proposal, "officer-2")
        s.close(case, "officer-2")
        other_case = s.open_case("officer-1", "c1", {"why": "second"})
    finally:
        event.remove(db, "before_cursor_execute", interleave)
        other.dispose()
    assert len(outcomes) == 6 and set(outcomes) == {"locked" if sqlite else "committed"}
    steps = [st for st, *_ in s.case_steps(case)]
    assert steps == ["open", "assign", "evidence", "propose", "approve", "decide", "close"]
    assert [st for st, *_ in s.case_steps(other_case)] == ["open"]
