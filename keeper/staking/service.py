"""The keeper's staking operations: deposit, withdrawal request, claim, sent through
:class:`keeper.chain.TxSender` from the operator key and completed by the mirror.

One state machine per operation (``staking_ops``), each step idempotent so a crash and restart
resume it exactly once:

``new`` -> (deposit: hold the client's ETH, liquid -> staked, id :func:`hold_id`) -> send
(intent ``staking:<op>:<attempt>``, simulated first) -> ``sent`` -> the mirror applies the
pool's event for that transaction -> ``done``.

Failures leave ledger and chain consistent:

* refused before sending (the client lacks the ETH, the position is locked or not theirs):
  ``refused``, nothing held, nothing sent;
* the simulation reverts (pool paused, any revert): a deposit is rolled back (hold voided,
  ``failed``); a withdrawal request or claim refused for the pause is kept ``waiting`` and
  retried by :meth:`StakingService.resume` once the pool lifts it; another reason: ``failed``;
* the transaction is mined but reverts, or is dropped: the same as above, after the receipt;
* the node is unreachable: the operation stays ``new`` and is retried.
Every failure raises an alert (``staking_op_failed`` / ``staking_op_waiting``, once per op).
A claim paying less than requested (slashed while unbonding) is booked as paid and alerted by
the mirror (``staking_claim_short``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.chain import TxSender, WouldRevertError
from keeper.chain.sender import DROPPED, MINED, REVERTED
from keeper.ledger import InsufficientFunds, Kind, Ledger, LedgerError, TransferSpec, utc
from keeper.ledger.db import WRITE
from keeper.staking.book import Accounts, hold_id
from keeper.staking.models import StakingOpRow, StakingPositionRow, StakingRequestRow
from keeper.staking.pool import claim_call, deposit_call, request_call

log = logging.getLogger("keeper.staking")
FAILED_ALERT = "staking_op_failed"
WAITING_ALERT = "staking_op_waiting"
HOLD_TTL = timedelta(days=30)
AlertFn = Callable[[str, str, str], object]


class StakingRefused(ValueError):  # noqa: N818 - a refusal, not a crash
    """The operation was refused before anything was held or sent (``code`` is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class OpState:
    """An operation as stored."""

    op_id: str
    kind: str
    client_id: str
    amount: int
    status: str
    position_id: int | None
    request_id: int | None
    error: str | None


class StakingService:
    """Deposits, withdrawal requests and claims of clients in ``pool`` (see module doc)."""

    def __init__(self, ledger: Ledger, sender: TxSender, pool: str,
                 alert: AlertFn | None = None) -> None:
        self.ledger, self.sender, self.pool = ledger, sender, pool.lower()
        self.alert = alert or ledger.raise_alert
        self.accounts = Accounts(ledger, self.pool, sender.address)
        self.engine = ledger.engine

    # ------------------------------------------------------------------ operations
    def deposit(self, op_id: str, client_id: str, amount: int) -> OpState:
        """Stake ``amount`` wei of the client's ETH (idempotent on ``op_id``)."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise StakingRefused("bad_amount", "amount is a positive integer (wei)")
        op = self._create(op_id, "deposit", client_id, amount)
        if op.status == "new":
            with self.engine.connect() as conn:  # the same hold on a retry: same expiry
                created = utc(conn.scalar(select(StakingOpRow.created_at).where(
                    StakingOpRow.op_id == op_id)))
            try:
                self.ledger.post(TransferSpec(
                    hold_id(op_id), self.accounts.liquid(client_id),
                    self.accounts.staked(client_id), amount, Kind.PENDING,
                    expires_at=created + HOLD_TTL, reference=f"staking deposit {op_id}"))
            except InsufficientFunds as exc:
                self._set(op_id, "refused", error=str(exc)[:300])
                raise StakingRefused("insufficient_funds", str(exc)) from exc
            self._send(op)
        return self.state(op_id)

    def request_withdrawal(self, op_id: str, client_id: str, position_id: int,
                           shares: int) -> OpState:
        """Request the withdrawal of ``shares`` of the client's position (after its lock-up)."""
        pos = self._position(position_id)
        if pos is None or pos.client_id != client_id:
            raise StakingRefused("not_owner", f"position {position_id} is not {client_id}'s")
        if shares <= 0 or shares > int(pos.shares):
            raise StakingRefused("bad_shares", f"position {position_id} has {pos.shares} shares")
        now = int(self.sender.w3.eth.get_block("latest")["timestamp"])
        if now < pos.locked_until:
            raise StakingRefused("locked", f"position {position_id} is locked until "
                                 f"{pos.locked_until}")
        op = self._create(op_id, "withdraw", client_id, shares, position_id=position_id)
        if op.status == "new":
            self._send(op)
        return self.state(op_id)

    def claim(self, op_id: str, client_id: str, request_id: int) -> OpState:
        """Claim the client's unbonded withdrawal request."""
        rc = StakingRequestRow.__table__.c
        with self.engine.connect() as conn:
            req = conn.execute(select(StakingRequestRow.__table__).where(
                rc.pool == self.pool, rc.request_id == request_id)).one_or_none()
        if req is None or req.client_id != client_id:
            raise StakingRefused("not_owner", f"request {request_id} is not {client_id}'s")
        if req.status != "unbonding":
            raise StakingRefused("claimed", f"request {request_id} is already claimed")
        op = self._create(op_id, "claim", client_id, 0, request_id=request_id)
        if op.status == "new":
            self._send(op)
        return self.state(op_id)

    def resume(self) -> list[OpState]:
        """Drive every unfinished operation one step (a job calls this): check the sender's
        receipts, then re-send ``new`` and ``waiting`` ones; returns those it touched."""
        self.sender.tick()
        oc = StakingOpRow.__table__.c
        with self.engine.connect() as conn:
            ids = conn.scalars(select(oc.op_id).where(
                oc.pool == self.pool, oc.status.in_(("new", "waiting", "sent")))
                .order_by(oc.created_at)).all()
        for op_id in ids:
            op = self.state(op_id)
            if op.status == "sent":
                self._check_sent(op)
            else:
                self._send(op)
        return [self.state(i) for i in ids]

    # ------------------------------------------------------------------ reads
    def state(self, op_id: str) -> OpState:
        """The stored operation (KeyError if unknown)."""
        with self.engine.connect() as conn:
            r = conn.execute(select(StakingOpRow.__table__).where(
                StakingOpRow.op_id == op_id)).one_or_none()
        if r is None:
            raise KeyError(op_id)
        return OpState(r.op_id, r.kind, r.client_id, int(r.amount), r.status, r.position_id,
                       r.request_id, r.error)

    def hashes(self, op_id: str) -> tuple[str, ...]:
        """Every transaction hash sent for the operation (the mirror matches events by them)."""
        with self.engine.connect() as conn:
            attempts = conn.scalar(select(StakingOpRow.attempts).where(
                StakingOpRow.op_id == op_id)) or 0
        out: list[str] = []
        for n in range(attempts + 1):
            sent = self.sender.status(self._intent(op_id, n))
            out.extend(sent.hashes if sent else ())
        return tuple(out)

    # ------------------------------------------------------------------ steps
    def _create(self, op_id: str, kind: str, client_id: str, amount: int, *,
                position_id: int | None = None, request_id: int | None = None) -> OpState:
        now = datetime.now(UTC)
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(insert(StakingOpRow.__table__).values(
                    op_id=op_id, kind=kind, pool=self.pool, client_id=client_id,
                    amount=str(amount), position_id=position_id, request_id=request_id,
                    status="new", attempts=0, created_at=now, updated_at=now))
        except IntegrityError:
            pass  # a retry: the stored operation must be the same
        op = self.state(op_id)
        if (op.kind, op.client_id, op.amount) != (kind, client_id, amount):
            raise StakingRefused("op_conflict", f"operation {op_id} exists with other content")
        return op

    def _call(self, op: OpState) -> tuple[bytes, int]:
        if op.kind == "deposit":
            return deposit_call(), op.amount
        if op.kind == "withdraw":
            assert op.position_id is not None  # noqa: S101 - set at creation
            return request_call(op.position_id, op.amount), 0
        assert op.request_id is not None  # noqa: S101 - set at creation
        return claim_call(op.request_id), 0

    def _intent(self, op_id: str, attempt: int) -> str:
        return f"staking:{op_id}:{attempt}"

    def _send(self, op: OpState) -> None:
        data, value = self._call(op)
        with self.engine.connect() as conn:
            attempt = conn.scalar(select(StakingOpRow.attempts).where(
                StakingOpRow.op_id == op.op_id)) or 0
        try:
            sent = self.sender.send(self._intent(op.op_id, attempt), self.pool, data, value)
        except WouldRevertError as exc:
            self._failed(op, exc.reason or "reverted")
            return
        except (OSError, ConnectionError, TimeoutError) as exc:  # node unreachable: retry later
            log.warning("staking op %s not sent (%s): retried", op.op_id, exc)
            self._set(op.op_id, op.status, error=f"not sent: {exc}"[:300])
            return
        self._set(op.op_id, "sent", tx_hash=sent.hashes[-1], error=None)

    def _check_sent(self, op: OpState) -> None:
        with self.engine.connect() as conn:
            attempt = conn.scalar(select(StakingOpRow.attempts).where(
                StakingOpRow.op_id == op.op_id)) or 0
        sent = self.sender.status(self._intent(op.op_id, attempt))
        if sent is None or sent.state == MINED:
            return  # the mirror completes it from the pool's event
        if sent.state in (REVERTED, DROPPED):
            # the next send is a new intent
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(update(StakingOpRow.__table__).where(
                    StakingOpRow.op_id == op.op_id).values(attempts=attempt + 1))
            self._failed(op, sent.revert_reason or sent.state)

    def _failed(self, op: OpState, reason: str) -> None:
        """Roll back (deposit) or wait for the pause to lift (withdraw, claim); alert."""
        if op.kind != "deposit" and "paused" in reason.lower():
            self._set(op.op_id, "waiting", error=reason[:300])
            self.alert(WAITING_ALERT, f"staking {op.kind} {op.op_id} of client {op.client_id} "
                       f"refused by the pool ({reason}): retried until it lifts the pause",
                       f"{WAITING_ALERT}:{op.op_id}")
            return
        if op.kind == "deposit":
            try:
                self.ledger.post(TransferSpec(f"{hold_id(op.op_id)}:void", 0, 0, 0, Kind.VOID,
                                              pending_id=hold_id(op.op_id)))
            except LedgerError as exc:  # already resolved: nothing held any more
                log.info("hold of %s not voided: %s", op.op_id, exc)
        self._set(op.op_id, "failed", error=reason[:300])
        undone = "; the client's ETH hold was released" if op.kind == "deposit" else ""
        self.alert(FAILED_ALERT, f"staking {op.kind} {op.op_id} of client {op.client_id} "
                   f"failed ({reason}){undone}", f"{FAILED_ALERT}:{op.op_id}")

    def _set(self, op_id: str, status: str, **values: Any) -> None:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(StakingOpRow.__table__).where(
                StakingOpRow.op_id == op_id, StakingOpRow.status != "done").values(
                status=status, updated_at=datetime.now(UTC), **values))

    def _position(self, position_id: int) -> Any:
        pc = StakingPositionRow.__table__.c
        with self.engine.connect() as conn:
            return conn.execute(select(StakingPositionRow.__table__).where(
                pc.pool == self.pool, pc.position_id == position_id)).one_or_none()
