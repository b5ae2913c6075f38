"""screen_many: the same verdicts, rows, cases, reports and audit records (item for item) as
screen() of each movement in order (hypothesis, SQLite), one transaction per batch, a few audit
records per batch, and a conflicting batch refused whole (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text

from keeper.audit import unbatch, verify_trail
from keeper.audit.models import AuditRow
from keeper.compliance.models import CaseEventRow, CaseRow, MovementRow, ReportRow
from keeper.compliance.risk import LabelledAddressRisk, StaticEdges
from keeper.compliance.rules_engine import Movement, RuleSet
from keeper.compliance.service import ComplianceService, MovementConflict
from keeper.ledger import make_engine
from strongroom_testkit.dbtemplate import fresh_url

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
MIXER = "0x" + "66" * 20
REVIEW = "0x" + "77" * 20  # one hop from the mixer: review band
CLEAN = "0x" + "11" * 20
KINDS = ["deposit", "buy", "transfer_in", "withdrawal", "transfer_out"]
CENTS = [100, 5_000, 950_000, 999_999, 500_000, 2_000_000]


def _service(db: Engine) -> ComplianceService:
    risk = LabelledAddressRisk({"mixer": [MIXER]}, StaticEdges([(MIXER, REVIEW)]))
    return ComplianceService(db, RuleSet.load(), risk=risk, clock=lambda: T0)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the databases made for each example go (copies of the session's migrated template:
    migrating each time would be slow); the template is made here, outside hypothesis's run."""
    path = tmp_path_factory.mktemp("screen_many") / "template.db"
    fresh_url(path, migrated=True)
    return path


def _fresh(template: Path, name: str) -> Engine:
    path = template.with_name(f"{name}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return make_engine(fresh_url(path, migrated=True))


def _state(db: Engine) -> dict[str, list]:
    """Everything screening writes, comparable across databases (audit without its time)."""
    with db.connect() as c:
        out = {
            "movements": [tuple(r) for r in c.execute(select(MovementRow.__table__).order_by("id"))],
            "cases": [tuple(r) for r in c.execute(select(CaseRow.__table__).order_by("id"))],
            "events": [tuple(r) for r in c.execute(select(CaseEventRow.__table__).order_by("id"))],
            "reports": [tuple(r) for r in c.execute(select(ReportRow.__table__).order_by("id"))],
        }
        bodies = c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()
        records = [r for b in bodies for r in unbatch(json.loads(b)["record"])]
    out["audit"] = [(r["actor"], r["operation"], r["params"], r["result"]) for r in records]
    return out


@st.composite
def movements(draw: st.DrawFn) -> tuple[list[Movement], int, list[int]]:
    """Movements of two clients (with exact repeats), a prefix length screened beforehand and
    the batch sizes the rest is cut into."""
    n = draw(st.integers(1, 14))
    made: list[Movement] = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        cents = draw(st.sampled_from(CENTS))
        made.append(Movement(
            f"m{i}", draw(st.sampled_from(["c1", "c2"])), kind, "USDC", cents * 10_000, cents,
            T0 + timedelta(minutes=draw(st.integers(0, 60 * 30))),
            address=draw(st.sampled_from([None, CLEAN, MIXER, REVIEW])) if kind in KINDS[3:] else None,
            country=draw(st.sampled_from([None, "DE", "IR"])),
        ))
    repeats = draw(st.lists(st.integers(0, n - 1), max_size=3))
    for r in repeats:
        made.insert(draw(st.integers(r + 1, len(made))), made[r])
    prefix = draw(st.integers(0, len(made)))
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    return made, prefix, sizes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=movements(), freeze=st.booleans())
def test_screen_many_decides_as_screen_in_order(template: Path, case: tuple, freeze: bool) -> None:
    made, prefix, sizes = case
    one, many = _fresh(template, "one"), _fresh(template, "many")
    try:
        a, b = _service(one), _service(many)
        for s in (a, b):
            if freeze:
                s.freeze("officer.x", "court order", client_id="c2")
            for m in made[:prefix]:
                s.screen(m)
        expected = [a.screen(m) for m in made[prefix:]]
        got, rest, k = [], made[prefix:], 0
        while rest:
            size = sizes[k % len(sizes)]
            got += b.screen_many(rest[:size])
            rest, k = rest[size:], k + 1
        assert got == expected
        assert _state(many) == _state(one)
    finally:
        one.dispose()
        many.dispose()


@pytest.fixture
def db(database) -> Iterator[Engine]:  # noqa: ANN001 - the shared database factory
    url = database("screen_many", migrated=True)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def test_batch_of_many_clients_is_one_transaction_and_conflict_refuses_it(db: Engine) -> None:
    svc = _service(db)
    batch = [Movement(f"b{i}", f"client-{i % 7}", "transfer_out", "USDC", 10_000, 100,
                      T0 + timedelta(seconds=i), address=CLEAN) for i in range(50)]
    verdicts = svc.screen_many(batch)
    assert [v.movement_id for v in verdicts] == [m.id for m in batch]
    assert {v.outcome for v in verdicts} == {"allow"}
    with db.connect() as c:
        assert c.execute(select(func.count()).select_from(MovementRow)).scalar_one() == 50
        audits = c.execute(select(func.count()).select_from(AuditRow)).scalar_one()
    bad = [Movement("new-1", "client-1", "deposit", "USDC", 1, 1, T0),
           Movement("b3", "client-3", "deposit", "USDC", 999, 9, T0)]  # b3 reused, other content
    with pytest.raises(MovementConflict):
        svc.screen_many(bad)
    with db.connect() as c:  # refused whole: new-1 not written either, no audit record
        assert c.execute(select(func.count()).select_from(MovementRow)).scalar_one() == 50
        assert c.execute(select(func.count()).select_from(AuditRow)).scalar_one() == audits
        assert c.execute(text("SELECT count(*) FROM compliance_movements WHERE id = 'new-1'")
                         ).scalar_one() == 0
    assert svc.screen_many([]) == []


def test_a_batch_of_screens_is_a_few_audit_records_holding_each_screen(db: Engine) -> None:
    """500 screens of one batch are 3 ``compliance.screen.batch`` records (200 a record) whose
    items are each screen's record; the trail verifies."""
    svc = _service(db)
    batch = [Movement(f"a{i}", "client-a", "transfer_out", "USDC", 10_000, 1,
                      T0 + timedelta(seconds=i), address=CLEAN) for i in range(500)]
    assert {v.outcome for v in svc.screen_many(batch)} == {"allow"}
    with db.connect() as c:
        records = [json.loads(b)["record"] for b in
                   c.execute(select(AuditRow.body).order_by(AuditRow.seq)).scalars()]
    assert [r["operation"] for r in records] == ["compliance.screen.batch"] * 3
    items = [r for rec in records for r in unbatch(rec)]
    assert [r["params"]["movement"] for r in items] == [m.id for m in batch]
    assert {r["operation"] for r in items} == {"compliance.screen"}
    assert verify_trail(db).ok
