"""The gate every order passes: pre-flight checks, the order row, compliance screening.

Refusals before an order row exists (client status, KYC, freeze, bad input) change nothing but
their audit record; from the ``screening`` row on, a refusal ends the order ``refused``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keeper import clients
from keeper.audit import AuditRecord, record_in
from keeper.compliance import ComplianceService, Movement, Verdict
from keeper.flows import rules, store
from keeper.flows.driver import Driver
from keeper.flows.store import Order, Refused
from keeper.ledger import LedgerError


class Gate(Driver):
    """Pre-flight, order creation and screening (base of the order service)."""

    compliance: ComplianceService
    prices: Any
    sender: Any

    def _profile(self, client_id: str, conn: Connection | None = None) -> clients.ClientProfile:
        """``client_id``'s profile (read on ``conn`` when given); unknown: :class:`Refused`."""
        try:
            return clients.get_profile(self.engine if conn is None else conn, client_id)
        except clients.UnknownClient:
            raise Refused("unknown_client", f"no client {client_id!r}") from None

    def _preflight(self, client_id: str) -> clients.ClientProfile:
        profile = self._profile(client_id)
        rules.check_client(self.compliance, profile, self.clock().date())
        return profile

    def _refuse(self, client_id: str, op: str, params: dict[str, Any], exc: Refused) -> Refused:
        """Audit a refusal (its own transaction); the caller raises it. Whatever the caller sent
        is recorded as bounded text (a float or odd object must not break the audit)."""
        safe = {k: (v if isinstance(v, str) else repr(v))[:200] for k, v in params.items()}
        with self.writer.begin() as conn:
            record_in(conn, store.ACTOR, f"flows.{op}.refused",
                      {"client": str(client_id)[:200], **safe},
                      {"code": exc.code, "message": exc.message[:500]})
        return exc

    def _open(self, client_id: str, key: str, fp: str, **fields: Any) -> Order:
        """The order of (``client_id``, ``key``): found, or created in ``screening`` (the row
        exists before screening so a retry screens the same movement: same id, same time)."""
        try:
            with self.writer.begin() as conn:
                found = store.find_by_key(conn, client_id, key, fp)
                if found is not None:
                    return found
                return store.create(conn, client_id=client_id, idem_key=key, fp=fp,
                                    state="screening", now=self.clock(), **fields)
        except IntegrityError:  # the same key raced in
            with self.engine.connect() as conn:
                found = store.find_by_key(conn, client_id, key, fp)
            if found is None:
                raise
            return found

    def _refused(self, order: Order, exc: Refused) -> Refused:
        """Mark a screening order refused: its transition is the refusal's audit record (with an
        outbox row); the caller raises ``exc``."""
        with self.writer.begin() as conn:
            cur = store.load(conn, order.id)
            if cur is not None and cur[0].state == "screening":
                store.transition(conn, order.id, "screening", "refused", now=self.clock(),
                                 reason=exc.message, data={"code": exc.code})
        return exc

    def _known(self, order: Order) -> Order | None:
        """A request already past screening answers its order; a refused one its refusal."""
        if order.state == "screening":
            return None
        if order.state == "refused":
            with self.engine.connect() as conn:
                found = store.load(conn, order.id)
            code = found[1].get("code", "refused") if found else "refused"
            raise Refused(code, order.reason or "refused")
        return order

    def _screen(self, order: Order, kind: str, profile: clients.ClientProfile,
                **kw: Any) -> None:
        """Screen ``order`` (see :meth:`_screen_all`)."""
        self._screen_all([order], kind, profile, **kw)

    def _screen_all(self, orders: list[Order], kind: str, profile: clients.ClientProfile,
                    **kw: Any) -> None:
        """Screen each order as movement ``flows:{order id}`` at its creation time, all in one
        compliance transaction (a repeat returns the stored verdict); see :meth:`_verdicts`."""
        self._verdicts(orders, self.compliance.screen_many(self._movements(orders, kind, profile,
                                                                           **kw)))

    def _movements(self, orders: list[Order], kind: str, profile: clients.ClientProfile,
                   **kw: Any) -> list[Movement]:
        """The movement each order is screened as: ``flows:{order id}`` at its creation time."""
        return [Movement.valued(self.prices, f"flows:{o.id}", o.client_id, kind, o.asset,
                                o.units, o.created_at, country=profile.country, **kw)
                for o in orders]

    def _verdicts(self, orders: list[Order], verdicts: list[Verdict]) -> None:
        """Act on the screening verdicts of ``orders``: a block also freezes and suspends the
        client (spec 004 §5.1 scenario 1); anything but allow refuses the order (the first such
        verdict is raised)."""
        for order, verdict in zip(orders, verdicts, strict=True):
            if verdict.outcome == "block":
                self.compliance.freeze(store.ACTOR, "; ".join(verdict.reasons)[:500] or "blocked",
                                       client_id=order.client_id, case_id=verdict.case_id)
                try:
                    clients.suspend_client(self.engine, order.client_id,
                                           f"compliance block, case {verdict.case_id}",
                                           store.ACTOR)
                except clients.ClientsError:
                    pass  # already suspended or closed
            if verdict.outcome != "allow":
                raise self._refused(order, Refused(f"compliance_{verdict.outcome}",
                                                   f"held by compliance (case {verdict.case_id})"))

    def _open_screened(self, client_id: str, rows: list[tuple[str, str, dict[str, Any]]],
                       found: list[Order | None], kind: str, profile: clients.ClientProfile,
                       **kw: Any) -> list[Order]:
        """:meth:`_open_all` then :meth:`_screen_all` of a batch's orders, both in ONE write
        transaction (the client's screening lock first, one commit, one audit append: the
        orders' records then the screens'): the orders exist screened, or not at all. A crash
        after it leaves them in ``screening`` with their verdicts stored (the driver's rerun
        finds them). A replay (an order of the batch already past screening), a compliance
        service on another database or a concurrent request with the same keys take the two
        transactions one after the other, as before."""
        if (self.compliance.engine.url != self.engine.url
                or any(o is not None and o.state != "screening" for o in found)):
            return self._open_then_screen(client_id, rows, found, kind, profile, **kw)
        try:
            with self.writer.begin() as conn:
                self.compliance.lock_screens(conn, [client_id])
                trail = store.Trail()
                opened = store.open_many(conn, client_id, rows, state="screening",
                                         now=self.clock(), trail=trail, found=found)
                audit: list[AuditRecord] = []
                verdicts = self.compliance.screen_in(
                    conn, self._movements(opened, kind, profile, **kw), audit)
                store.flush(conn, trail, audit)
        except IntegrityError:  # a concurrent request with the same keys
            return self._open_then_screen(client_id, rows, None, kind, profile, **kw)
        try:
            self._verdicts(opened, verdicts)
        except Refused as exc:
            raise self._refuse_all(opened, exc) from None
        return opened

    def _open_then_screen(self, client_id: str, rows: list[tuple[str, str, dict[str, Any]]],
                          found: list[Order | None] | None, kind: str,
                          profile: clients.ClientProfile, **kw: Any) -> list[Order]:
        """:meth:`_open_all`, then screening of the orders still in ``screening`` (a refused
        order of the batch, or a refusing verdict, refuses the batch's orders)."""
        opened = self._open_all(client_id, rows, found)
        try:
            for o in opened:
                if o.state != "screening":
                    self._known(o)
            self._screen_all([o for o in opened if o.state == "screening"], kind, profile, **kw)
        except Refused as exc:
            raise self._refuse_all(opened, exc) from None
        return opened

    def _refuse_all(self, orders: Sequence[Order], exc: Refused) -> Refused:
        """Mark each of ``orders`` still screening refused (:meth:`_refused`); returns ``exc``."""
        for o in orders:
            self._refused(o, exc)
        return exc

    def _open_all(self, client_id: str, rows: list[tuple[str, str, dict[str, Any]]],
                  found: list[Order | None] | None = None) -> list[Order]:
        """:meth:`_open` of many (key, fingerprint, fields) in one transaction (``found``: the
        orders the caller just found under those keys, not read again; one created since then
        makes the insert fail and the orders are opened one by one)."""
        try:
            with self.writer.begin() as conn:
                trail = store.Trail()
                out = store.open_many(conn, client_id, rows, state="screening", now=self.clock(),
                                      trail=trail, found=found)
                store.flush(conn, trail)
                return out
        except IntegrityError:  # a concurrent request with the same keys: one by one
            return [self._open(client_id, key, fp, **fields) for key, fp, fields in rows]

    def _checked(self, client_id: str, op: str, params: dict[str, Any],
                 check: Callable[[], Any]) -> Any:
        """Run a validation; a :class:`Refused` (or ledger refusal) is audited and raised."""
        try:
            return check()
        except (Refused, LedgerError) as exc:
            err = exc if isinstance(exc, Refused) else Refused("invalid_request", str(exc))
            raise self._refuse(client_id, op, params, err) from None

    def _bank_client(self, client_id: str) -> clients.ClientProfile:
        profile = self._preflight(client_id)
        if profile.bank_customer_id is None:
            raise Refused("no_bank_account", "client has no core-banking account")
        return profile

    def _by_key(self, client_id: str, key: str, fp: str) -> Order | None:
        with self.engine.connect() as conn:
            return store.find_by_key(conn, client_id, key, fp)
