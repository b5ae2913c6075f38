"""Break handling exactly as the spec, and the circuit breaker (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from keeper.recon import (
    BreakBook,
    Finding,
    NotAuthorised,
    ReconError,
    SizeClass,
    Status,
    TransactionsHalted,
    ensure_open_for_business,
    size_class,
)
from keeper.recon.models import ReconBreak, ReconRun
from strongroom_testkit.dbtemplate import fresh_url


def usdc(cents: int, subject: str = "USDC vault:0x1") -> Finding:
    """A USDC omnibus difference worth ``cents`` (1 cent = 10**4 base units)."""
    return Finding("omnibus", subject, "USDC", cents * 10**4, cents, "test difference")


@pytest.mark.parametrize(("cents", "cls"), [
    (1, SizeClass.AUTO), (9_999, SizeClass.AUTO), (-9_999, SizeClass.AUTO),
    (10_000, SizeClass.INVESTIGATE), (-10_000, SizeClass.INVESTIGATE),
    (1_000_000, SizeClass.INVESTIGATE), (1_000_001, SizeClass.CRITICAL),
    (-1_000_001, SizeClass.CRITICAL), (None, SizeClass.CRITICAL),
])
def test_size_classes_follow_the_spec_boundaries(cents, cls) -> None:
    """< $100 auto; $100..$10,000 investigate; > $10,000 (or unvaluable) critical."""
    assert size_class(cents) is cls


def test_each_size_class_gets_exactly_the_spec_action(book: BreakBook, engine, clock) -> None:
    run = book.record("r1", 1, 100, {"title": "t"}, [usdc(9_999), usdc(10_000, "b"),
                                                      usdc(2_000_000, "c")])
    assert run.status == "FAIL"
    auto, case, crit = book.breaks(run.id)
    assert (auto.status, auto.resolver, auto.due_at) == (Status.AUTO_RESOLVED, "recon", None)
    assert auto.resolved_at == clock.now and "below $100" in auto.note
    assert (case.status, case.size_class) == (Status.OPEN, SizeClass.INVESTIGATE)
    assert case.due_at == clock.now + timedelta(hours=24)
    assert (crit.status, crit.size_class) == (Status.OPEN, SizeClass.CRITICAL)
    assert book.halted()
    with pytest.raises(TransactionsHalted, match=str(crit.id)):
        ensure_open_for_business(engine)
    assert [e[:3] for e in book.breaker_events()] == [("halt", crit.id, "recon")]
    clock.now += timedelta(hours=25)
    assert [b.id for b in book.overdue()] == [case.id, crit.id]


def test_no_critical_break_does_not_halt(book: BreakBook, engine) -> None:
    book.record("r1", 1, 1, {}, [usdc(9_999), usdc(1_000_000)])
    assert not book.halted()
    ensure_open_for_business(engine)  # does not raise
    with engine.connect() as conn:
        ensure_open_for_business(conn)
    assert book.breaker_events() == []


def test_a_clean_run_passes_and_stores_its_figures(book: BreakBook) -> None:
    run = book.record("r1", 1, 7, {"title": "x", "n": "10000000000000000000000"}, [])
    assert (run.status, run.block, run.figures["n"]) == ("PASS", 7, "10000000000000000000000")
    assert book.breaks(run.id) == []


def test_halt_lasts_until_every_critical_break_is_resolved(resolver, book, engine) -> None:
    run = book.record("r1", 1, 1, {}, [usdc(5_000_000, "a"), usdc(-7_000_000, "b")])
    a, b = book.breaks(run.id)
    book.resolve(a.id, resolver, "omnibus re-read: sweep mined after the pinned block")
    with pytest.raises(TransactionsHalted, match=str(b.id)):
        ensure_open_for_business(engine)
    done = book.resolve(b.id, resolver, "issuer clawback confirmed, ticket 42")
    assert (done.status, done.resolver, done.note) == (Status.RESOLVED, resolver,
                                                       "issuer clawback confirmed, ticket 42")
    ensure_open_for_business(engine)
    assert [(e[0], e[1], e[2]) for e in book.breaker_events()] == [
        ("halt", a.id, "recon"), ("resume", b.id, resolver)]
    assert book.breaker_events()[1][3] == "issuer clawback confirmed, ticket 42"


@pytest.mark.parametrize(("actor", "note", "error"), [
    ("mallory", "looks fine", NotAuthorised), ("", "looks fine", NotAuthorised),
    ("recon", "looks fine", NotAuthorised), ("@", "", ReconError),
    ("@", "   ", ReconError), ("@", "x" * 4001, ReconError),
])
def test_resolving_needs_an_authorised_actor_and_a_note(resolver, book: BreakBook, engine, actor, note,
                                                         error) -> None:
    run = book.record("r1", 1, 1, {}, [usdc(5_000_000)])
    (crit,) = book.breaks(run.id)
    with pytest.raises(error):
        book.resolve(crit.id, resolver if actor == "@" else actor, note)
    assert book.breaks(run.id)[0].status is Status.OPEN
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)


def test_a_break_resolves_once_and_auto_ones_are_not_reopened(resolver, book: BreakBook) -> None:
    run = book.record("r1", 1, 1, {}, [usdc(50), usdc(50_000, "b")])
    auto, case = book.breaks(run.id)
    with pytest.raises(ReconError, match="auto_resolved"):
        book.resolve(auto.id, resolver, "n")
    book.resolve(case.id, resolver, "timing: deposit credited next block")
    with pytest.raises(ReconError, match="resolved"):
        book.resolve(case.id, resolver, "again")
    with pytest.raises(ReconError, match="no break"):
        book.resolve(10_000, resolver, "n")


def test_a_restarted_run_with_the_same_key_is_not_recorded_twice(book: BreakBook, engine) -> None:
    first = book.record("daily:2026-11-23", 1, 1, {}, [usdc(50_000)])
    again = book.record("daily:2026-11-23", 1, 1, {}, [usdc(50_000), usdc(60_000, "z")])
    assert again.id == first.id
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReconBreak)) == 1


def test_audit_runs_in_the_same_transaction_as_each_change(resolver, engine, clock) -> None:
    seen: list[tuple[str, str, bool]] = []

    def audit(conn, actor, operation, params, result) -> None:
        assert conn.in_transaction()
        # the change it audits is visible inside the same transaction
        assert conn.scalar(select(func.count()).select_from(ReconRun)) >= 1
        seen.append((actor, operation, bool(result)))

    book = BreakBook(engine, resolvers=[resolver], audit=audit, clock=clock)
    run = book.record("r1", 1, 1, {}, [usdc(50), usdc(5_000_000, "b")])
    book.resolve(book.breaks(run.id)[1].id, resolver, "confirmed with the custodian")
    assert [s[1] for s in seen] == [
        "recon.run.record", "recon.break.open", "recon.break.open", "recon.breaker.halt",
        "recon.break.resolve", "recon.breaker.resume"]
    assert seen[-1][0] == seen[-2][0] == resolver


def test_a_crash_mid_run_leaves_no_half_written_report(resolver, engine, clock) -> None:
    """The audit sink failing on the second break stands for a crash mid-write."""
    calls = []

    def failing(conn, actor, operation, params, result) -> None:
        calls.append(operation)
        if len(calls) == 3:
            raise RuntimeError("disk gone")

    book = BreakBook(engine, resolvers=[resolver], audit=failing, clock=clock)
    with pytest.raises(RuntimeError, match="disk gone"):
        book.record("r1", 1, 1, {}, [usdc(50), usdc(5_000_000, "b")])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ReconRun)) == 0
        assert conn.scalar(select(func.count()).select_from(ReconBreak)) == 0
    assert not book.halted()
    ensure_open_for_business(engine)
    # the restarted job writes the whole run
    run = BreakBook(engine, resolvers=[resolver], clock=clock).record(
        "r1", 1, 1, {}, [usdc(50), usdc(5_000_000, "b")])
    assert len(book.breaks(run.id)) == 2 and book.halted()


def test_a_failed_resolution_changes_nothing(resolver, engine, clock) -> None:
    def audit(conn, actor, operation, params, result) -> None:
        if operation == "recon.breaker.resume":
            raise RuntimeError("audit store down")

    book = BreakBook(engine, resolvers=[resolver], audit=audit, clock=clock)
    run = book.record("r1", 1, 1, {}, [usdc(5_000_000)])
    (crit,) = book.breaks(run.id)
    with pytest.raises(RuntimeError):
        book.resolve(crit.id, resolver, "ok")
    assert book.breaks(run.id)[0].status is Status.OPEN and book.halted()
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)


def test_an_unmigrated_database_fails_closed(tmp_path) -> None:
    from keeper.ledger import make_engine

    eng = make_engine(fresh_url(tmp_path / 'empty.db'))
    with pytest.raises(Exception, match="recon_breaker"):
        ensure_open_for_business(eng)
    eng.dispose()


def test_a_difference_still_open_is_carried_not_reopened(resolver, book: BreakBook,
                                                         engine) -> None:
    """An hourly run finding the same open difference again adds no second case to resolve."""
    first = book.record("h1", 1, 1, {}, [usdc(5_000_000), usdc(50_000, "b")])
    crit, case = book.breaks(first.id)
    second = book.record("h2", 1, 2, {}, [usdc(5_000_000), usdc(50_000, "b"), usdc(70_000, "c")])
    again_crit, again_case, new = book.breaks(second.id)
    assert (again_crit.status, again_case.status) == (Status.CARRIED, Status.CARRIED)
    assert f"break {crit.id}" in again_crit.note and f"break {case.id}" in again_case.note
    assert new.status is Status.OPEN
    assert {b.id for b in book.breaks(status=Status.OPEN)} == {crit.id, case.id, new.id}
    book.resolve(crit.id, resolver, "found: double-posted deposit reversed")
    ensure_open_for_business(engine)  # the carried copy does not keep the halt
    with pytest.raises(ReconError, match="carried"):
        book.resolve(again_crit.id, resolver, "n")
    third = book.record("h3", 1, 3, {}, [usdc(5_000_000)])  # back after being resolved: new
    assert book.breaks(third.id)[0].status is Status.OPEN and book.halted()


def test_racing_resolutions_of_the_last_two_criticals_resume(resolver, engine, clock) -> None:
    """Two people resolve the last two critical breaks at the same moment: whichever commits
    last must see the other's resolution, so transactions resume (never stuck halted)."""
    import threading

    barrier = threading.Barrier(2, timeout=2)

    def audit(conn, actor, operation, params, result) -> None:
        if operation == "recon.break.resolve":
            try:  # hold both transactions here at once, if the breaker lets them both in
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # serialised by the breaker lock: the other one is waiting for us

    book = BreakBook(engine, resolvers=[resolver], audit=audit, clock=clock)
    run = book.record("r1", 1, 1, {}, [usdc(5_000_000, "a"), usdc(6_000_000, "b")])
    errors: list[BaseException] = []

    def resolve(break_id: int) -> None:
        try:
            book.resolve(break_id, resolver, f"resolved {break_id}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=resolve, args=(b.id,)) for b in book.breaks(run.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert book.breaks(status=Status.OPEN) == []
    assert not book.halted()
    ensure_open_for_business(engine)
    assert [e[0] for e in book.breaker_events()] == ["halt", "resume"]


@pytest.mark.postgres
def test_a_flow_checking_inside_its_transaction_holds_off_a_halt(pg_cluster) -> None:
    """``ensure_open_for_business(conn, hold=True)`` share-locks the breaker: a halt (which takes
    the row FOR UPDATE) waits until the flow's transaction ends, so no flow commits a new
    transaction after a halt it did not see."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from keeper.ledger import make_engine, upgrade
    from keeper.recon.migrate import upgrade as upgrade_recon

    url = pg_cluster.create_database("recon_hold")
    upgrade(url)
    upgrade_recon(url)
    eng = make_engine(url)
    with eng.connect() as flow, flow.begin():
        ensure_open_for_business(flow, hold=True)
        with eng.connect() as other, other.begin(), pytest.raises(OperationalError):
            other.execute(text("SELECT halted FROM recon_breaker WHERE id = 1 FOR UPDATE NOWAIT"))
    with eng.connect() as other, other.begin():  # released with the flow's transaction
        other.execute(text("SELECT halted FROM recon_breaker WHERE id = 1 FOR UPDATE NOWAIT"))
    eng.dispose()
