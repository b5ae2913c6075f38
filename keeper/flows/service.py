"""The order service: pre-flight, screening and creation of orders; on-us transfers.

The steps that talk to core banking and the issuer live in :mod:`keeper.flows.driver`; this
module takes requests, refuses what must be refused (changing nothing but the audit trail) and
creates orders atomically with their first ledger postings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from keeper import clients, notifications
from keeper.compliance import ComplianceService
from keeper.flows import rules, store
from keeper.flows.burns import Burns
from keeper.flows.store import (
    ComplianceHold,
    FlowError,
    Order,
    OrderNotFound,
    Refused,
    UnknownCustomer,
)
from keeper.flows.taint import tainted_sources
from keeper.integrations.corebanking import NotifyDeposit, NotifyDepositAnswer
from keeper.ledger import InsufficientFunds, Ledger, TransferSpec

INVENTORY_CLIENT = "bank:inventory"  # the bank's own stablecoins in the sub-ledger


@dataclass(frozen=True)
class TransferItem:
    """One on-us transfer of a batch."""

    to_client_id: str
    asset: str
    units: int


class OrderService(Burns):
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
    # ---------------------------------------------------------------- on-us transfers
    def transfer(self, client_id: str, to_client_id: str, asset: str, units: int, *,
                 idempotency_key: str) -> Order:
        """Move ``units`` of ``asset`` to another client of the bank: sub-ledger only, atomic,
        screened. Completed at once (or refused, changing no balance)."""
        return self.transfer_batch(client_id, [TransferItem(to_client_id, asset, units)],
                                   idempotency_key=idempotency_key)[0]

    def transfer_batch(self, client_id: str, items: Sequence[TransferItem | dict[str, Any]], *,
                       idempotency_key: str) -> list[Order]:
        """On-us transfers from ``client_id``, all or none, in one ledger transaction (one order
        per item, idempotent under ``{idempotency_key}:{index}``)."""
        batch = [i if isinstance(i, TransferItem) else TransferItem(**i) for i in items]
        params = {"idempotency_key": idempotency_key, "items": len(batch)}

        def validate() -> list[str]:
            if not batch:
                raise Refused("invalid_batch", "empty batch")
            assets = [rules.asset_symbol(i.asset) for i in batch]
            for i, a in zip(batch, assets, strict=True):
                rules.check_units(a, i.units)
                if i.to_client_id == client_id:
                    raise Refused("invalid_amount", "a transfer goes to another client")
            return assets

        assets = self._checked(client_id, "transfer", params, validate)
        prints: dict[tuple[Any, ...], str] = {}  # one digest per distinct item of the batch
        fps = []
        for i, a in zip(batch, assets, strict=True):
            item = (type(i.to_client_id), i.to_client_id, a, i.units)
            if item not in prints:
                prints[item] = store.fingerprint({"kind": "transfer", "to": i.to_client_id,
                                                  "asset": a, "units": i.units})
            fps.append(prints[item])
        keys = [f"{idempotency_key}:{n}" for n in range(len(batch))]
        done, found = self._batch_done(client_id, keys, fps)
        if done is not None:
            return done

        def preflight() -> clients.ClientProfile:
            profile = self._preflight(client_id)
            beneficiaries = sorted({i.to_client_id for i in batch})
            found = clients.get_profiles(self.engine, beneficiaries)  # one query for them all
            for to in beneficiaries:
                if to not in found:
                    raise Refused("unknown_client", f"no client {to!r}")
                if found[to].status != "active":
                    raise Refused("beneficiary_inactive", f"client {to} cannot receive")
            return profile

        profile = self._checked(client_id, "transfer", params, preflight)
        opened = self._open_screened(client_id, [
            (k, fp, {"kind": "transfer", "asset": a, "units": i.units, "fiat_cents": 0,
                     "fee_cents": 0, "data": {"to": i.to_client_id}})
            for k, fp, a, i in zip(keys, fps, assets, batch, strict=True)], found,
            "transfer_out", profile)
        todo = [o for o in opened if o.state == "screening"]
        if not todo:
            return opened
        to = {o.id: i.to_client_id for o, i in zip(opened, batch, strict=True)}
        try:
            moved = self._complete_transfers(todo, to)
        except Refused as exc:
            raise self._refuse_all(opened, exc) from None
        except FlowError:
            # the same keys sent at once to another API worker: its request completed these
            # orders first (nothing moved twice); answer them as a replay would
            if (done := self._batch_done(client_id, keys, fps)[0]) is not None:
                return done
            raise
        by_id = {o.id: o for o in moved}
        return [by_id.get(o.id, o) for o in opened]

    def _batch_done(self, client_id: str, keys: list[str], fps: list[str]
                    ) -> tuple[list[Order] | None, list[Order | None]]:
        """(the batch's orders when every one is past screening (a replay: its answer, or its
        refusal raised), else None; the orders found under ``keys``)."""
        with self.engine.connect() as conn:
            found = store.find_by_keys(conn, client_id, keys, fps)
        if all(d is not None and d.state != "screening" for d in found):
            return [o for o in found if o is not None and self._known(o)], found
        return None, found

    def _complete_transfers(self, todo: list[Order], to: dict[str, str] | None = None) -> list[Order]:
        """Post screened transfers and complete their orders in one transaction (``to``: each
        order's beneficiary when the caller knows it, read from the orders otherwise)."""
        if to is None:
            with self.engine.connect() as conn:
                to = {i: data["to"] for i, (_, data, _) in
                      store.load_many(conn, [o.id for o in todo]).items()}
        accounts: dict[tuple[str, str], int] = {}  # each account resolved once per batch

        def account(client_id: str, asset: str) -> int:
            if (client_id, asset) not in accounts:
                accounts[client_id, asset] = self.ledger.client_account(client_id, asset)
            return accounts[client_id, asset]

        specs = [TransferSpec(f"flows:{o.id}:transfer", account(o.client_id, o.asset),
                              account(to[o.id], o.asset), o.units, reference=o.id)
                 for o in todo]
        made: list[Order] = []

        def hook(conn: Connection) -> None:
            rules.check_breaker(conn)
            trail = store.Trail()
            made[:] = store.transition_many(conn, todo, "screening", "completed",
                                            now=self.clock(), trail=trail)
            notifications.enqueue_many(conn, [self._notice(o, "order.completed") for o in made])
            store.flush(conn, trail)

        try:
            self.ledger.post_all(specs, hook)
        except InsufficientFunds as exc:
            raise Refused("insufficient_funds", str(exc)) from None
        return made

    def _transfer_screening(self, order: Order, data: dict[str, Any], version: int) -> Order:
        """Driver step: a transfer left in screening by a crash is screened and completed."""
        try:
            self._screen(order, "transfer_out", self._preflight(order.client_id))
            return self._complete_transfers([order])[0]
        except Refused as exc:
            self._refused(order, exc)
            return self._load(order.id)[0]

    # ---------------------------------------------------------------- buy / sell
    def buy(self, client_id: str, asset: str, fiat_cents: int, *, idempotency_key: str,
            _notice: str | None = None) -> Order:
        """Buy ``fiat_cents`` worth of stablecoin ``asset`` from the client's USD account (plus
        the fee). Returns the order (``completed`` when delivered from inventory at once,
        ``minting`` while the issuer mints, ...)."""
        params = {"asset": asset, "fiat_cents": fiat_cents, "idempotency_key": idempotency_key}

        def validate() -> tuple[str, int]:
            rules.check_cents(fiat_cents)
            sym = rules.asset_symbol(asset)
            return sym, rules.cents_to_units(sym, fiat_cents)

        sym, units = self._checked(client_id, "buy", params, validate)
        fp = store.fingerprint({"kind": "buy", "asset": sym, "fiat_cents": fiat_cents})
        if (found := self._by_key(client_id, idempotency_key, fp)) and self._known(found):
            return found
        profile = self._checked(client_id, "buy", params, lambda: self._bank_client(client_id))
        order = self._open(client_id, idempotency_key, fp, kind="buy", asset=sym, units=units,
                           fiat_cents=fiat_cents,
                           fee_cents=rules.fee_cents(fiat_cents, self.settings.fee_bps),
                           data={"customer": profile.bank_customer_id,
                                 **({"notice": _notice} if _notice else {})})
        if self._known(order):
            return order
        return self._buy_screening(order, {}, 0)

    def _buy_screening(self, order: Order, data: dict[str, Any], version: int) -> Order:
        """Screen, then check the breaker and limits and accept, in one transaction."""
        try:
            profile = self._bank_client(order.client_id)
            self._screen(order, "buy", profile)
            with self.writer.begin() as conn:
                rules.check_breaker(conn)
                rules.serialise_client(conn, order.client_id)
                rules.check_limits(conn, clients.effective_limits(profile, self.settings),
                                   order.client_id, "buy", order.fiat_cents, self.clock())
                store.transition(conn, order.id, "screening", "accepted", now=self.clock())
        except Refused as exc:
            raise self._refused(order, exc) from None
        return self.advance(order.id)

    def sell(self, client_id: str, asset: str, units: int, *, idempotency_key: str) -> Order:
        """Sell ``units`` of stablecoin ``asset`` for USD net of the fee. The sub-ledger debit
        (to the bank's inventory) and the order's acceptance are one transaction; the fiat
        credit follows."""
        params = {"asset": asset, "units": str(units), "idempotency_key": idempotency_key}

        def validate() -> tuple[str, int]:
            sym = rules.asset_symbol(asset)
            rules.units_per_cent(sym)  # a stablecoin
            return sym, rules.units_to_cents(sym, rules.check_units(sym, units))

        sym, cents = self._checked(client_id, "sell", params, validate)
        fp = store.fingerprint({"kind": "sell", "asset": sym, "units": units})
        if (found := self._by_key(client_id, idempotency_key, fp)) and self._known(found):
            return found
        profile = self._checked(client_id, "sell", params, lambda: self._bank_client(client_id))
        order = self._open(client_id, idempotency_key, fp, kind="sell", asset=sym, units=units,
                           fiat_cents=cents, fee_cents=rules.fee_cents(cents, self.settings.fee_bps),
                           data={"customer": profile.bank_customer_id, "burn": "due"})
        if self._known(order):
            return order
        order = self._sell_screening(order, {}, 0)
        if (order.state == "completed" and self.settings.burn_mode == "immediate"
                and self.sender is not None and self.issuer is not None):
            self.advance(self._start_burn(order.asset, [(order.id, order.units)],
                                          f"sell:{order.id}").id)  # else the EOD run takes it
        return order

    def _sell_screening(self, order: Order, data: dict[str, Any], version: int) -> Order:
        """Screen, then debit the coins and accept (breaker, limits) in one transaction."""
        try:
            profile = self._bank_client(order.client_id)
            # coins that came from a sanctioned or risky address are screened as such: the
            # gate decides (block + SAR + freeze, or review) exactly as for a risky destination
            tainted = tainted_sources(self.ledger, self.compliance, order.client_id,
                                      now=order.created_at)
            self._screen(order, "transfer_out", profile,
                         **({"address": tainted[0].address} if tainted else {}))

            def hook(conn: Connection) -> None:
                rules.check_breaker(conn)
                rules.serialise_client(conn, order.client_id)
                rules.check_limits(conn, clients.effective_limits(profile, self.settings),
                                   order.client_id, "sell", order.fiat_cents, self.clock())
                store.transition(conn, order.id, "screening", "debited", now=self.clock())

            spec = TransferSpec(self.sell_transfer_id(order.id),
                                self.ledger.client_account(order.client_id, order.asset),
                                self.ledger.client_account(self.inventory_client, order.asset),
                                order.units, reference=order.id)
            try:
                self.ledger.post_all([spec], hook)
            except InsufficientFunds as exc:
                raise Refused("insufficient_funds", str(exc)) from None
        except Refused as exc:
            raise self._refused(order, exc) from None
        return self.advance(order.id)

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
            with self.writer.begin() as conn:
                store.remember_notice(conn, notice.transaction_id, order.id, fp, self.clock())
        except IntegrityError:
            pass  # a concurrent delivery of the same notice recorded the same order
        return NotifyDepositAnswer(status="accepted", stablecoin_order_id=order.id)


def order_json(order: Order) -> str:
    """An order as JSON (amounts as decimal strings)."""
    return json.dumps({**order._asdict(), "units": str(order.units),
                       "created_at": order.created_at.isoformat(),
                       "updated_at": order.updated_at.isoformat()})


__all__ = ["INVENTORY_CLIENT", "ComplianceHold", "FlowError", "OrderService", "TransferItem"]
