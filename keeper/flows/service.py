"""The order service: pre-flight, screening and creation of orders; on-us transfers.

The steps that talk to core banking and the issuer live in :mod:`keeper.flows.driver`; this
module takes requests, refuses what must be refused (changing nothing but the audit trail) and
creates orders atomically with their first ledger postings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from keeper import clients
from keeper.audit import record_in
from keeper.compliance import ComplianceService, Movement, Verdict
from keeper.flows import rules, store
from keeper.flows.driver import Driver
from keeper.flows.store import (
    ComplianceHold,
    FlowError,
    Order,
    OrderNotFound,
    Refused,
    UnknownCustomer,
)
from keeper.integrations.corebanking import NotifyDeposit, NotifyDepositAnswer
from keeper.ledger import InsufficientFunds, Ledger, LedgerError, TransferSpec, normalise_asset

INVENTORY_CLIENT = "bank:inventory"  # the bank's own stablecoins in the sub-ledger


@dataclass(frozen=True)
class TransferItem:
    """One on-us transfer of a batch."""

    to_client_id: str
    asset: str
    units: int


class OrderService(Driver):
    """Buy, sell, on-us transfer and withdrawal orders (see :mod:`keeper.flows`)."""

    def __init__(self, engine: Engine, ledger: Ledger, *, compliance: ComplianceService,
                 bank: Any, issuer: Any, prices: Any, settings: Any, sender: Any = None,
                 inventory_address: str | None = None,
                 clock: Callable[[], datetime] = store.now_utc) -> None:
        """``bank``: a :class:`keeper.integrations.corebanking.CoreBankingService`; ``issuer``:
        an :class:`keeper.integrations.issuer.IssuerAPI`; ``inventory_address``: where the
        issuer mints the bank's inventory (an issuance address whose deposits into the vault
        carry the inventory's client reference, so the follower credits them)."""
        super().__init__(engine, ledger, bank=bank, issuer=issuer, settings=settings,
                         inventory_client=INVENTORY_CLIENT, inventory_address=inventory_address,
                         clock=clock)
        self.compliance, self.prices, self.sender = compliance, prices, sender

    # ---------------------------------------------------------------- reads
    def get(self, client_id: str, order_id: str) -> Order:
        """``client_id``'s order ``order_id``; anyone else's is :class:`OrderNotFound`."""
        with self.engine.connect() as conn:
            found = store.load(conn, order_id)
        if found is None or found[0].client_id != client_id:
            raise OrderNotFound(f"no order {order_id!r}")
        return found[0]

    # ---------------------------------------------------------------- pre-flight
    def _profile(self, client_id: str) -> clients.ClientProfile:
        try:
            return clients.get_profile(self.engine, client_id)
        except clients.UnknownClient:
            raise Refused("unknown_client", f"no client {client_id!r}") from None

    def _preflight(self, client_id: str) -> clients.ClientProfile:
        profile = self._profile(client_id)
        rules.check_client(self.compliance, profile, self.clock().date())
        return profile

    def _refuse(self, client_id: str, op: str, params: dict[str, Any], exc: Refused) -> Refused:
        """Audit a refusal (its own transaction); the caller raises it."""
        with self.engine.begin() as conn:
            record_in(conn, store.ACTOR, f"flows.{op}.refused", {"client": client_id, **params},
                      {"code": exc.code, "message": exc.message})
        return exc

    def _screen(self, client_id: str, kind: str, asset: str, units: int, key: str,
                **kw: Any) -> Verdict:
        """Screen a movement (idempotent on a id derived from the request); a block also
        freezes and suspends the client (spec 004 §5.1 scenario 1)."""
        mid = f"flows:{uuid.uuid5(uuid.NAMESPACE_URL, f'{client_id}:{kind}:{key}').hex}"
        mov = Movement.valued(self.prices, mid, client_id, kind, asset, units, self.clock(), **kw)
        verdict = self.compliance.screen(mov)
        if verdict.outcome == "block":
            self.compliance.freeze(store.ACTOR, "; ".join(verdict.reasons)[:500] or "blocked",
                                   client_id=client_id, case_id=verdict.case_id)
            try:
                clients.suspend_client(self.engine, client_id,
                                       f"compliance block, case {verdict.case_id}", store.ACTOR)
            except clients.ClientsError:
                pass  # already suspended or closed
        return verdict

    def _gate(self, client_id: str, op: str, params: dict[str, Any], kind: str, asset: str,
              units: int, key: str, **kw: Any) -> clients.ClientProfile:
        """Pre-flight and screening of one request; raises the audited :class:`Refused`."""
        try:
            profile = self._preflight(client_id)
            verdict = self._screen(client_id, kind, asset, units, key, country=profile.country,
                                   **kw)
            if verdict.outcome != "allow":
                raise Refused(f"compliance_{verdict.outcome}",
                              f"held by compliance (case {verdict.case_id})")
            return profile
        except Refused as exc:
            raise self._refuse(client_id, op, params, exc) from None

    # ---------------------------------------------------------------- on-us transfers
    def transfer(self, client_id: str, to_client_id: str, asset: str, units: int, *,
                 idempotency_key: str) -> Order:
        """Move ``units`` of ``asset`` to another client of the bank: sub-ledger only, atomic,
        screened. Completed at once (or refused, changing nothing)."""
        return self.transfer_batch(client_id, [TransferItem(to_client_id, asset, units)],
                                   idempotency_key=idempotency_key)[0]

    def transfer_batch(self, client_id: str, items: Sequence[TransferItem | dict[str, Any]], *,
                       idempotency_key: str) -> list[Order]:
        """On-us transfers from ``client_id``, all or none, in one ledger transaction (one order
        per item, idempotent under ``{idempotency_key}:{index}``)."""
        batch = [i if isinstance(i, TransferItem) else TransferItem(**i) for i in items]
        body = [{"to": i.to_client_id, "asset": str(i.asset).upper(), "units": i.units} for i in batch]
        params = {"idempotency_key": idempotency_key, "items": len(batch)}
        fps = [store.fingerprint({"kind": "transfer", **b}) for b in body]
        keys = [f"{idempotency_key}:{n}" for n in range(len(batch))]
        with self.engine.connect() as conn:
            done = [store.find_by_key(conn, client_id, k, fp) for k, fp in zip(keys, fps, strict=True)]
        if batch and all(done):
            return [o for o in done if o is not None]
        try:
            if not batch or any(d is not None for d in done):
                raise Refused("invalid_batch", "empty batch, or a key reused for another batch")
            for i in batch:
                if type(i.units) is not int or i.units <= 0 or i.to_client_id == client_id:
                    raise Refused("invalid_amount", "units must be a positive integer to another client")
                normalise_asset(i.asset)
            self._preflight(client_id)
            for to in sorted({i.to_client_id for i in batch}):
                if self._profile(to).status != "active":
                    raise Refused("beneficiary_inactive", f"client {to} cannot receive")
        except (Refused, LedgerError) as exc:
            err = exc if isinstance(exc, Refused) else Refused("invalid_asset", str(exc))
            raise self._refuse(client_id, "transfer", params, err) from None
        for n, i in enumerate(batch):
            self._gate(client_id, "transfer", params, "transfer_out", i.asset, i.units, keys[n],
                       counterparty=None)
        now = self.clock()
        ids = [f"ord_{uuid.uuid4().hex}" for _ in batch]
        specs = [TransferSpec(f"flows:{oid}:transfer", self.ledger.client_account(client_id, i.asset),
                              self.ledger.client_account(i.to_client_id, i.asset), i.units,
                              reference=oid) for oid, i in zip(ids, batch, strict=True)]
        made: list[Order] = []

        def hook(conn: Connection) -> None:
            rules.check_breaker(conn)
            made.clear()
            for oid, i, key, fp in zip(ids, batch, keys, fps, strict=True):
                order = store.create(conn, client_id=client_id, idem_key=key, fp=fp,
                                     kind="transfer", state="completed",
                                     asset=normalise_asset(i.asset), units=i.units, fiat_cents=0,
                                     fee_cents=0, data={"to": i.to_client_id}, now=now,
                                     order_id=oid)
                self._notify(conn, order, "order.completed")
                made.append(order)

        try:
            self.ledger.post_all(specs, hook)
        except Refused as exc:
            raise self._refuse(client_id, "transfer", params, exc) from None
        except InsufficientFunds as exc:
            raise self._refuse(client_id, "transfer", params,
                               Refused("insufficient_funds", str(exc))) from None
        except IntegrityError:  # the same key raced in: answer what it made
            with self.engine.connect() as conn:
                again = [store.find_by_key(conn, client_id, k, fp) for k, fp in zip(keys, fps, strict=True)]
            if all(again):
                return [o for o in again if o is not None]
            raise
        return made

    # ---------------------------------------------------------------- buy / sell
    def buy(self, client_id: str, asset: str, fiat_cents: int, *, idempotency_key: str,
            _notice: str | None = None) -> Order:
        """Buy ``fiat_cents`` worth of stablecoin ``asset`` from the client's USD account (plus
        the fee). Returns the order (``completed`` when delivered from inventory at once,
        ``minting`` while the issuer mints, ...)."""
        params = {"asset": asset, "fiat_cents": fiat_cents, "idempotency_key": idempotency_key}
        try:
            if type(fiat_cents) is not int or fiat_cents <= 0:
                raise Refused("invalid_amount", "fiat_cents must be a positive integer")
            sym = normalise_asset(asset) if isinstance(asset, str) else ""
            units = rules.cents_to_units(sym, fiat_cents)
        except (Refused, LedgerError) as exc:
            err = exc if isinstance(exc, Refused) else Refused("unsupported_asset", str(exc))
            raise self._refuse(client_id, "buy", params, err) from None
        fee = rules.fee_cents(fiat_cents, self.settings.fee_bps)
        fp = store.fingerprint({"kind": "buy", "asset": sym, "fiat_cents": fiat_cents})
        if (found := self._by_key(client_id, idempotency_key, fp)) is not None:
            return found
        profile = self._gate(client_id, "buy", params, "buy", sym, units, idempotency_key)
        customer = profile.bank_customer_id
        if customer is None:
            raise self._refuse(client_id, "buy", params,
                               Refused("no_bank_account", "client has no core-banking account"))
        now = self.clock()
        data = {"customer": customer, **({"notice": _notice} if _notice else {})}
        try:
            with self.engine.begin() as conn:
                rules.check_breaker(conn)
                rules.serialise_client(conn, client_id)
                rules.check_limits(conn, clients.effective_limits(profile, self.settings),
                                   client_id, "buy", fiat_cents, now)
                order = store.create(conn, client_id=client_id, idem_key=idempotency_key, fp=fp,
                                     kind="buy", state="accepted", asset=sym, units=units,
                                     fiat_cents=fiat_cents, fee_cents=fee, data=data, now=now)
        except Refused as exc:
            raise self._refuse(client_id, "buy", params, exc) from None
        except IntegrityError:
            if (found := self._by_key(client_id, idempotency_key, fp)) is not None:
                return found
            raise
        return self.advance(order.id)

    def sell(self, client_id: str, asset: str, units: int, *, idempotency_key: str) -> Order:
        """Sell ``units`` of stablecoin ``asset`` for USD net of the fee. The sub-ledger debit
        (to the bank's inventory) and the order are one transaction; the fiat credit follows."""
        params = {"asset": asset, "units": str(units), "idempotency_key": idempotency_key}
        try:
            if type(units) is not int or units <= 0:
                raise Refused("invalid_amount", "units must be a positive integer")
            sym = normalise_asset(asset) if isinstance(asset, str) else ""
            cents = rules.units_to_cents(sym, units)
        except (Refused, LedgerError) as exc:
            err = exc if isinstance(exc, Refused) else Refused("unsupported_asset", str(exc))
            raise self._refuse(client_id, "sell", params, err) from None
        fee = rules.fee_cents(cents, self.settings.fee_bps)
        fp = store.fingerprint({"kind": "sell", "asset": sym, "units": units})
        if (found := self._by_key(client_id, idempotency_key, fp)) is not None:
            return found
        profile = self._gate(client_id, "sell", params, "transfer_out", sym, units, idempotency_key)
        if profile.bank_customer_id is None:
            raise self._refuse(client_id, "sell", params,
                               Refused("no_bank_account", "client has no core-banking account"))
        now = self.clock()
        oid = f"ord_{uuid.uuid4().hex}"
        made: list[Order] = []

        def hook(conn: Connection) -> None:
            made.clear()
            rules.check_breaker(conn)
            rules.serialise_client(conn, client_id)
            rules.check_limits(conn, clients.effective_limits(profile, self.settings), client_id,
                               "sell", cents, now)
            made.append(store.create(
                conn, client_id=client_id, idem_key=idempotency_key, fp=fp, kind="sell",
                state="debited", asset=sym, units=units, fiat_cents=cents, fee_cents=fee,
                data={"customer": profile.bank_customer_id, "burn": "due"}, now=now,
                order_id=oid))

        spec = TransferSpec(self.sell_transfer_id(oid), self.ledger.client_account(client_id, sym),
                            self.ledger.client_account(self.inventory_client, sym), units,
                            reference=oid)
        try:
            self.ledger.post_all([spec], hook)
        except Refused as exc:
            raise self._refuse(client_id, "sell", params, exc) from None
        except InsufficientFunds as exc:
            raise self._refuse(client_id, "sell", params,
                               Refused("insufficient_funds", str(exc))) from None
        except IntegrityError:
            if (found := self._by_key(client_id, idempotency_key, fp)) is not None:
                return found
            raise
        return self.advance(made[0].id)

    def _by_key(self, client_id: str, key: str, fp: str) -> Order | None:
        with self.engine.connect() as conn:
            return store.find_by_key(conn, client_id, key, fp)

    # ---------------------------------------------------------------- core banking
    def notify_deposit(self, notice: NotifyDeposit) -> NotifyDepositAnswer:
        """ATLAS reports a wire earmarked for a buy: a buy order of the wired amount (the fee
        comes out of the same USD account). Idempotent on ``transaction_id``: the same id
        answers the same order id. Unknown customer: :class:`UnknownCustomer`; a compliance
        hold, freeze or refusal by screening: :class:`ComplianceHold`."""
        fp = store.fingerprint(notice.model_dump(mode="json"))
        with self.engine.connect() as conn:
            seen = store.notice_order(conn, notice.transaction_id)
        if seen is not None:
            if seen[1] != fp:
                raise store.IdempotencyConflict(f"{notice.transaction_id} was sent with another body")
            return NotifyDepositAnswer(status="accepted", stablecoin_order_id=seen[0])
        profile = clients.client_for_bank_customer(self.engine, notice.customer_id)
        if profile is None:
            raise UnknownCustomer(f"customer {notice.customer_id!r} is not onboarded for stablecoins")
        cents = notice.amount_cents()
        gross = cents * 10_000 // (10_000 + self.settings.fee_bps)  # the fee fits in the wire
        while gross + rules.fee_cents(gross, self.settings.fee_bps) > cents:
            gross -= 1
        try:
            order = self.buy(profile.client_id, "USDC", gross,
                             idempotency_key=f"atlas:{notice.transaction_id}",
                             _notice=notice.transaction_id)
        except Refused as exc:
            if exc.code.startswith("compliance") or exc.code in ("frozen", "account_inactive"):
                raise ComplianceHold(exc.message) from None
            raise
        try:
            with self.engine.begin() as conn:
                store.remember_notice(conn, notice.transaction_id, order.id, fp, self.clock())
        except IntegrityError:
            pass  # a concurrent delivery of the same notice recorded the same order
        return NotifyDepositAnswer(status="accepted", stablecoin_order_id=order.id)

    def withdraw(self, client_id: str, asset: str, to_address: str, units: int, *,
                 idempotency_key: str) -> Order:
        """On-chain withdrawal orders need the vault sender; not available in this build."""
        raise self._refuse(client_id, "withdraw", {"asset": asset, "units": str(units)},
                           Refused("unavailable", "on-chain withdrawals are not enabled"))


def order_json(order: Order) -> str:
    """An order as JSON (amounts as decimal strings)."""
    return json.dumps({**order.__dict__, "units": str(order.units),
                       "created_at": order.created_at.isoformat(),
                       "updated_at": order.updated_at.isoformat()})


__all__ = ["INVENTORY_CLIENT", "ComplianceHold", "FlowError", "OrderService", "TransferItem"]
