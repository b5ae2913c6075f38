"""Case decisions under four eyes (mixed into :class:`~keeper.compliance.ComplianceService`).

``confirm`` (the suspicion stands: what the case holds is blocked) takes one officer. Anything
that lets money move again needs two: ``decide(..., "clear", ...)`` and ``lift(...)`` only
*propose*; the proposal takes effect when :meth:`FourEyes.approve` is called by a second officer
who is neither the proposer nor the officer who opened the case. A proposal can be rejected by
anyone but its proposer. Proposing, approving, rejecting and the resulting decision or lift are
each a case step with its audit record, in the transaction that makes the change.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from keeper.compliance.models import ApprovalRow, CaseEventRow, CaseRow, FreezeRow
from keeper.compliance.screening.addresses import normalise_address

_APR, _EV, _FRZ = ApprovalRow.__table__, CaseEventRow.__table__, FreezeRow.__table__
_CASE = CaseRow.__table__


class CaseError(ValueError):
    """A case step that its state does not allow (unknown case, closed, undecided)."""


class FourEyes:
    """Decide, lift, approve and reject (needs ``engine``, ``clock``, ``_case`` and ``_step``)."""

    engine: Engine

    def clock(self) -> datetime: ...  # provided by the service  # pragma: no cover

    def _case(self, conn: Connection, case_id: int) -> Any: ...  # pragma: no cover

    def _step(self, conn: Connection, case_id: int, step: str, actor: str,
              detail: dict[str, Any], audit: Any = None) -> None: ...  # pragma: no cover

    def _write(self) -> AbstractContextManager[Connection]: ...  # pragma: no cover

    def decide(self, case_id: int, actor: str, outcome: str, note: str) -> int | None:
        """Decide an open case. ``confirm`` takes effect now (returns ``None``); ``clear`` is
        proposed and returns the proposal id a second officer approves."""
        if outcome not in ("clear", "confirm"):
            raise CaseError("outcome is 'clear' or 'confirm'")
        with self._write() as conn:
            self._open_case(conn, case_id)
            if outcome == "confirm":
                self._decided(conn, case_id, actor, "confirm", note)
                return None
            return self._propose(conn, case_id, "clear", actor, {"note": note})

    def lift(self, actor: str, case_id: int, client_id: str | None = None,
             address: str | None = None) -> int:
        """Propose lifting a freeze; only the case that froze it (a freeze without a case: a
        case of that client) decided ``clear`` can. Returns the proposal id to approve."""
        subject, key = _subject(client_id, address)
        with self._write() as conn:
            self._check_lift(conn, case_id, subject, key)
            return self._propose(conn, case_id, "lift", actor, {subject: key})

    def approve(self, proposal_id: int, actor: str) -> None:
        """Approve a pending proposal as the second officer and carry it out."""
        with self._write() as conn:
            p = self._pending(conn, proposal_id)
            opener = conn.execute(select(_EV.c.actor).where(_EV.c.case_id == p.case_id,
                                                           _EV.c.step == "open")).scalar()
            if actor == p.proposed_by:
                raise CaseError("the proposer cannot approve their own proposal")
            if actor == opener:
                raise CaseError("the officer who opened the case cannot approve its decision")
            params = json.loads(p.params)
            self._close_proposal(conn, p, actor, "approved")
            if p.action == "clear":
                self._open_case(conn, p.case_id)
                self._decided(conn, p.case_id, actor, "clear", params["note"],
                              proposed_by=p.proposed_by)
            else:
                (subject, key), = params.items()
                self._check_lift(conn, p.case_id, subject, key)
                conn.execute(delete(_FRZ).where(_FRZ.c.subject == subject, _FRZ.c.key == key))
                self._step(conn, p.case_id, "lift", actor,
                           {subject: key, "proposed_by": p.proposed_by})

    def reject(self, proposal_id: int, actor: str, note: str) -> None:
        """Reject a pending proposal (by anyone but its proposer); nothing else changes."""
        with self._write() as conn:
            p = self._pending(conn, proposal_id)
            if actor == p.proposed_by:
                raise CaseError("the proposer cannot reject their own proposal; leave it pending")
            self._close_proposal(conn, p, actor, "rejected", note)

    # ---- internals ----------------------------------------------------------------------
    def _open_case(self, conn: Connection, case_id: int) -> Any:
        case = self._case(conn, case_id)
        if case.status != "open":
            raise CaseError(f"case {case_id} is not open")
        return case

    def _decided(self, conn: Connection, case_id: int, actor: str, outcome: str, note: str,
                 **extra: str) -> None:
        conn.execute(update(_CASE).where(_CASE.c.id == case_id)
                     .values(outcome=outcome, status="decided"))
        self._step(conn, case_id, "decide", actor, {"outcome": outcome, "note": note, **extra})

    def _check_lift(self, conn: Connection, case_id: int, subject: str, key: str) -> None:
        case = self._case(conn, case_id)
        if case.outcome != "clear":
            raise CaseError(f"case {case_id} is not decided clear: a freeze is lifted only by a "
                            "cleared case")
        frozen = conn.execute(select(_FRZ.c.case_id).where(_FRZ.c.subject == subject,
                                                          _FRZ.c.key == key)).first()
        if frozen is None:
            raise CaseError(f"{subject} {key} is not frozen")
        owner = frozen.case_id
        if (owner is not None and owner != case_id) or (
            owner is None and subject == "client" and case.client_id != key
        ):
            raise CaseError(f"{subject} {key} was frozen by case {owner}, not case {case_id}")

    def _propose(self, conn: Connection, case_id: int, action: str, actor: str,
                 params: dict[str, Any]) -> int:
        pid = conn.execute(insert(_APR).values(
            case_id=case_id, action=action, params=json.dumps(params, sort_keys=True),
            status="pending", proposed_by=actor, proposed_at=self.clock(),
        )).inserted_primary_key[0]
        self._step(conn, case_id, "propose", actor, {"proposal": pid, "action": action, **params})
        return int(pid)

    def _pending(self, conn: Connection, proposal_id: int) -> Any:
        p = conn.execute(select(_APR).where(_APR.c.id == proposal_id)).first()
        if p is None or p.status != "pending":
            raise CaseError(f"no pending proposal {proposal_id}")
        return p

    def _close_proposal(self, conn: Connection, p: Any, actor: str, status: str,
                        note: str | None = None) -> None:
        n = conn.execute(update(_APR).where(_APR.c.id == p.id, _APR.c.status == "pending")
                         .values(status=status, decided_by=actor, decided_at=self.clock())).rowcount
        if n != 1:  # a concurrent approval or rejection got there first
            raise CaseError(f"no pending proposal {p.id}")
        detail: dict[str, Any] = {"proposal": p.id, "action": p.action}
        if note is not None:
            detail["note"] = note
        self._step(conn, p.case_id, "approve" if status == "approved" else "reject", actor, detail)


def _subject(client_id: str | None, address: str | None) -> tuple[str, str]:
    """The freeze subject named by a client id or a wallet address."""
    return ("client", client_id) if client_id else ("address", normalise_address(address or ""))
