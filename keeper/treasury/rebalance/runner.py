"""A rebalancing run: read holdings, plan, record and audit the plan, hand each move over.

:meth:`Rebalancer.run` under a run key (the job: its slot date):

1. **Plan once per key.** If the key already has decisions (a restart, or another keeper ran
   it), nothing is planned again: the recorded moves are the run's moves. Otherwise the holdings
   come from the provider (a callable returning ``list[Holding]``: the tier view's holdings in
   the keeper), the plan from :func:`~.plan.plan_rebalance`, with the assets whose last
   ``rebalance`` decision is younger than ``cooldown`` held (their earlier moves may not show in
   the holdings yet: a cold proposal waits for its signers).
2. **Record before anything moves.** Every asset's decision and every move (amount and
   idempotency key ``rebalance:<run key>:<asset>:<seq>``) are written with the audit record
   ``treasury.rebalance.planned`` in one transaction. A live run first ``expires`` (audited) the
   moves still ``planned`` under earlier keys (their executor failed): the new plan starts from
   the holdings as they are, never from a stale amount. A dry run leaves them alone.
3. **Hand over** (not in dry run): each ``planned`` move of the key goes to the
   :class:`~keeper.treasury.moves.MoveExecutor` under its key (the executor decides how: a Vault
   sweep out of hot; a proposal the owners sign out of warm and cold, flagged
   ``requires_quorum``), then is marked ``sent`` (``proposed`` for a quorum move) with the
   executor's reference, audited. A failing
   executor leaves the move ``planned`` with the error (audited ``treasury.rebalance.failed``);
   the next attempt under the same key hands it over again (the executor's key makes that safe).

Dry run (``settings.treasury_dry_run``, or no executor configured): decisions and moves are
recorded (status ``dry_run``) and audited; nothing is handed over. A refused asset raises one
alert ``treasury_rebalance_refused`` per run naming the binding constraint; a move the executor
did not take raises ``treasury_rebalance_failed`` (once per move key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.audit import record_in
from keeper.ledger import utc
from keeper.ledger.db import WRITE
from keeper.treasury.moves import Holding, Move, MoveExecutor, TierTarget
from keeper.treasury.rebalance.costs import CostModel
from keeper.treasury.rebalance.models import DecisionRow, MoveRow, MoveStatus
from keeper.treasury.rebalance.plan import (
    DEFAULT_HYSTERESIS,
    Hysteresis,
    RebalancePlan,
    RouteFilter,
    plan_rebalance,
)

AuditFn = Callable[[Connection, str, str, Any, Any], object]
AlertFn = Callable[[str, str, str | None], object]
HoldingsProvider = Callable[[], Sequence[Holding]]
ACTOR = "keeper:treasury:rebalance"
REFUSED_ALERT = "treasury_rebalance_refused"
FAILED_ALERT = "treasury_rebalance_failed"
D, M = DecisionRow.__table__, MoveRow.__table__
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class MoveOutcome:
    """One recorded move of a run and what became of it."""

    idempotency_key: str
    move: Move
    requires_quorum: bool
    status: str
    reference: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """A run: its plan (``None`` when the key was planned before), and its recorded moves."""

    run_key: str
    plan: RebalancePlan | None
    moves: tuple[MoveOutcome, ...]
    dry_run: bool

    @property
    def failed(self) -> list[MoveOutcome]:
        """Moves the executor did not take (still ``planned``, with an error)."""
        return [m for m in self.moves if m.status == MoveStatus.PLANNED]


def _outcome(row: Any) -> MoveOutcome:
    move = Move(row.asset, row.source, row.source_tier, row.destination, row.destination_tier,
                int(row.units), row.reason)
    return MoveOutcome(row.idempotency_key, move, bool(row.requires_quorum), row.status,
                       row.reference, row.error)


class Rebalancer:
    """Plans, records and hands over rebalancing moves on ``engine`` (see the module)."""

    def __init__(self, engine: Engine, holdings: HoldingsProvider,
                 targets: Mapping[str, Sequence[TierTarget]], costs: CostModel,
                 executor: MoveExecutor | None, *, hysteresis: Hysteresis = DEFAULT_HYSTERESIS,
                 dry_run: bool = False, cooldown: timedelta = timedelta(hours=20),
                 audit: AuditFn = record_in, alert: AlertFn | None = None,
                 routes: RouteFilter | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.holdings, self.targets, self.costs = engine, holdings, targets, costs
        self.executor, self.hysteresis, self.cooldown = executor, hysteresis, cooldown
        self.dry_run = dry_run or executor is None
        self.audit, self.alert, self.routes, self.clock = audit, alert, routes, clock

    def run(self, run_key: str) -> RunOutcome:
        """Plan (once per key), record and hand over the moves of ``run_key``."""
        plan = None
        if not self._planned(run_key):
            plan = self.preview()
            if not self._record(run_key, plan):
                plan = None  # another keeper recorded this key first: its moves are the run's
            elif self.alert is not None:
                for b in plan.refused():
                    self.alert(REFUSED_ALERT, f"rebalance of {b.asset} refused: {b.kind} bound "
                               f"(tier {b.tier}, wallet {b.wallet}: needs {b.required_units}, "
                               f"can give {b.available_units})", f"{run_key}:{b.asset}")
        if not self.dry_run:
            for row in self._moves(run_key, MoveStatus.PLANNED):
                self._hand_over(row)
        return RunOutcome(run_key, plan, tuple(_outcome(r) for r in self._moves(run_key)),
                          self.dry_run)

    def preview(self) -> RebalancePlan:
        """The plan a run would record now (holdings read, cooldowns applied); records nothing."""
        return plan_rebalance(self.holdings(), self.targets, self.costs, self.hysteresis,
                              cooling=self.cooling(), routes=self.routes)

    def cooling(self) -> set[str]:
        """Assets whose last ``rebalance`` decision (not a dry run: that moved nothing) is
        younger than the cooldown."""
        since = self.clock() - self.cooldown
        q = (select(D.c.asset, func.max(D.c.created_at))
             .where(D.c.action == "rebalance", D.c.dry_run.is_(False)).group_by(D.c.asset))
        with self.engine.connect() as conn:
            return {a for a, at in conn.execute(q) if utc(at) > since}

    def last_decisions(self) -> dict[str, dict[str, Any]]:
        """Each asset's latest decision (see :func:`last_decisions`)."""
        return last_decisions(self.engine)

    def _planned(self, run_key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(D.c.id).where(D.c.run_key == run_key).limit(1)).first() \
                is not None

    def _record(self, run_key: str, plan: RebalancePlan) -> bool:
        """Write the plan and its audit record in one transaction; False if the key exists."""
        now = self.clock()
        status = MoveStatus.DRY_RUN if self.dry_run else MoveStatus.PLANNED
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                stale = [] if self.dry_run else conn.execute(select(M.c.idempotency_key).where(
                    M.c.status == MoveStatus.PLANNED)).scalars().all()
                if stale:
                    conn.execute(update(M).where(M.c.idempotency_key.in_(stale))
                                 .values(status=MoveStatus.EXPIRED, updated_at=now))
                    self.audit(conn, ACTOR, "treasury.rebalance.expired",
                               {"run_key": run_key}, {"moves": list(stale)})
                for d in plan.decisions:
                    did = conn.execute(insert(D).values(
                        run_key=run_key, asset=d.asset, action=d.action,
                        decision=json.dumps(d.to_json(), sort_keys=True),
                        cost_cents=str(d.cost_cents),
                        binding=d.binding.kind if d.binding else None, dry_run=self.dry_run,
                        created_at=now)).inserted_primary_key[0]
                    for seq, p in enumerate(d.moves):
                        m = p.move
                        conn.execute(insert(M).values(
                            decision_id=did, seq=seq,
                            idempotency_key=f"rebalance:{run_key}:{d.asset}:{seq}",
                            asset=m.asset, source=m.source, source_tier=m.source_tier,
                            destination=m.destination, destination_tier=m.destination_tier,
                            units=str(m.units), reason=m.reason, cost_cents=str(p.cost_cents),
                            requires_quorum=p.requires_quorum, status=status, updated_at=now))
                self.audit(conn, ACTOR, "treasury.rebalance.planned",
                           {"run_key": run_key, "dry_run": self.dry_run,
                            "executor": type(self.executor).__name__ if self.executor else None},
                           plan.to_json())
        except IntegrityError:
            return False
        return True

    def _moves(self, run_key: str, status: str | None = None) -> list[Any]:
        q = (select(M).join(D, D.c.id == M.c.decision_id).where(D.c.run_key == run_key)
             .order_by(M.c.id))
        if status is not None:
            q = q.where(M.c.status == status)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def _hand_over(self, row: Any) -> None:
        key = row.idempotency_key
        assert self.executor is not None
        try:
            reference = self.executor.execute(_outcome(row).move, idempotency_key=key)
        except Exception as exc:  # noqa: BLE001 - any executor failure is recorded, not fatal
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
            self._mark(key, MoveStatus.PLANNED, "treasury.rebalance.failed", error=error)
            if self.alert is not None:
                self.alert(FAILED_ALERT, f"rebalancing move {key} ({row.units} {row.asset} base "
                           f"units, {row.source_tier} -> {row.destination_tier}) not handed "
                           f"over: {error}", key)
            return
        status = MoveStatus.PROPOSED if row.requires_quorum else MoveStatus.SENT
        self._mark(key, status, f"treasury.rebalance.{status}", reference=str(reference),
                   error=None)

    def _mark(self, key: str, status: str, operation: str, **fields: str | None) -> None:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(M).where(M.c.idempotency_key == key)
                         .values(status=status, updated_at=self.clock(), **fields))
            row = conn.execute(select(M).where(M.c.idempotency_key == key)).one()
            self.audit(conn, ACTOR, operation, {"key": key, "asset": row.asset,
                                                "units": row.units,
                                                "requires_quorum": bool(row.requires_quorum)},
                       dict(fields))


def last_decisions(engine: Engine) -> dict[str, dict[str, Any]]:
    """Each asset's latest recorded decision (``AssetDecision.to_json()`` with its run key, dry
    run flag and time)."""
    latest = select(D.c.asset, func.max(D.c.id).label("id")).group_by(D.c.asset).subquery()
    q = select(D).join(latest, D.c.id == latest.c.id)
    with engine.connect() as conn:
        return {r.asset: {**json.loads(r.decision), "run_key": r.run_key,
                          "dry_run": bool(r.dry_run), "at": utc(r.created_at).isoformat()}
                for r in conn.execute(q)}


