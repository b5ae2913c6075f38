"""The sweep book and the hot-ceiling state on SQLite and PostgreSQL: a move that sent or
proposed something is final for its key (a re-plan returns it unchanged); a dry run or a refusal
may be planned again; every change is audited; the ceiling alerts once per crossing even when the
keeper dies between the alert and its state."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from keeper.audit.models import AuditRow
from keeper.ledger import Ledger, make_engine
from keeper.treasury.moves import TIERS, Move
from keeper.treasury.tiers import CEILING_ALERT, SweepBook, SweepStatus, TierView, check_hot_ceiling
from keeper.treasury.tiers import load_policy as _load

ETH = 10**18
POLICY = _load()
CEILING = POLICY.hot_ceiling_cents


@pytest.fixture
def ledger(database: Callable[[str], str]) -> Iterator[Ledger]:
    url = database("tiers", migrated=True)
    lg = Ledger(make_engine(url), group_commit=False)
    yield lg
    lg.close()


def move(units: int) -> Move:
    return Move("ETH", "vault", "hot", "cold_multisig", "cold", units, "test")


def test_a_sent_move_is_final_and_a_refused_one_replannable(ledger: Ledger) -> None:
    book = SweepBook(ledger.engine)
    first = book.plan("daily:d:ETH", "daily", move(90 * ETH), SweepStatus.PLANNED)
    assert (first.units, first.status) == (90 * ETH, SweepStatus.PLANNED)
    assert book.plan("daily:d:ETH", "daily", move(1), SweepStatus.PLANNED).units == 90 * ETH
    book.mark("daily:d:ETH", SweepStatus.SENT, intent_id="i", reference="0xabc")
    again = book.plan("daily:d:ETH", "daily", move(5 * ETH), SweepStatus.PLANNED)
    assert (again.units, again.status, again.reference) == (90 * ETH, SweepStatus.SENT, "0xabc")

    book.plan("daily:e:ETH", "daily", move(2**70), SweepStatus.PLANNED)  # wider than 64 bits
    book.mark("daily:e:ETH", SweepStatus.REFUSED, code="token_paused", reason="Pausable: paused")
    replanned = book.plan("daily:e:ETH", "daily", move(3 * ETH), SweepStatus.DRY_RUN)
    assert (replanned.units, replanned.status, replanned.code) == (3 * ETH, SweepStatus.DRY_RUN,
                                                                   None)
    assert [r.key for r in book.rows("daily")] == ["daily:d:ETH", "daily:e:ETH"]
    with ledger.engine.connect() as conn:
        bodies = list(conn.execute(select(AuditRow.body)).scalars())
    ops = [op for op in ("treasury.daily.planned", "treasury.daily.sent", "treasury.daily.refused",
                         "treasury.daily.dry_run") if any(op in b for b in bodies)]
    assert len(ops) == 4
    assert any(str(2**70) in b for b in bodies)


def view(hot_cents: int) -> TierView:
    cents = {"hot": hot_cents, "warm": 0, "cold": 0}
    return TierView(1, None, [], {}, cents, {t: 0 for t in TIERS})


def test_one_alert_per_crossing_even_across_a_crash(ledger: Ledger) -> None:
    def died_after_alerting(kind: str, message: str, ref: str | None) -> None:
        ledger.raise_alert(kind, message, ref)
        raise RuntimeError("keeper killed")

    assert check_hot_ceiling(ledger.engine, view(CEILING), POLICY, ledger.raise_alert) is False
    with pytest.raises(RuntimeError):
        check_hot_ceiling(ledger.engine, view(CEILING + 1), POLICY, died_after_alerting)
    assert check_hot_ceiling(ledger.engine, view(CEILING + 1), POLICY, ledger.raise_alert)
    assert check_hot_ceiling(ledger.engine, view(CEILING * 2), POLICY, ledger.raise_alert) is False
    assert check_hot_ceiling(ledger.engine, view(0), POLICY, ledger.raise_alert) is False
    assert check_hot_ceiling(ledger.engine, view(CEILING + 1), POLICY, ledger.raise_alert)
    refs = [ref for kind, _, ref in ledger.alerts() if kind == CEILING_ALERT]
    assert refs == [f"{CEILING_ALERT}:1", f"{CEILING_ALERT}:2"]


def test_concurrent_plans_of_one_key_agree_on_one_row(ledger: Ledger) -> None:
    import threading

    book = SweepBook(ledger.engine)
    start = threading.Barrier(6)
    got: list[int] = []
    errors: list[BaseException] = []

    def plan(units: int) -> None:
        start.wait()
        try:
            got.append(book.plan("daily:race:ETH", "daily", move(units), SweepStatus.PLANNED).units)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=plan, args=(n * ETH,)) for n in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [row] = book.rows("daily")
    assert got == [row.units] * 6
