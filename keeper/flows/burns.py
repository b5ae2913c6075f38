"""Redemptions of sold stablecoins: the vault pays the issuer's redemption address, the issuer
burns and owes the bank the fiat (spec 004 §5.2 step 4, option A end of day or B at once).

A redemption is an order of kind ``burn`` owned by the bank's inventory: ``held`` (the inventory's
coins held for the vault operation) -> ``sent`` -> ``burning`` (the issuer acknowledged the
burn; the chain follower settles the hold on the vault's ``Withdrawal`` event) -> ``settled``
(the issuer paid: the fiat leaves the issuer's reserves in core banking). Sells were paid to the
clients at once: the bank fronts the fiat and this order is the receivable; a payout still owed
after ``receivable_escalate_after_s`` raises one alert (spec 004 §5.2 scenario 2).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from keeper.assets import by_symbol
from keeper.flows import rules, store
from keeper.flows.models import OrderRow
from keeper.flows.store import Order
from keeper.flows.withdrawals import Withdrawals, op_id
from keeper.integrations.corebanking import CoreBankingRejectedError
from keeper.integrations.issuer import BurnStatus, IssuerRejected

_ORD = OrderRow.__table__


class Burns(Withdrawals):
    """End-of-day (or immediate) redemptions and their receivables."""

    def run_eod_burns(self, batch: str | None = None) -> list[Order]:
        """Redeem every completed sell not yet redeemed, one ``burn`` order per asset (``batch``
        names the run, e.g. the business date: a rerun of the same batch redeems nothing
        twice). Without a sender or issuer nothing is redeemed (the coins stay in inventory)."""
        if self.sender is None or self.issuer is None:
            return []
        batch = batch or self.clock().date().isoformat()
        with self.writer.begin() as conn:
            rows = conn.execute(select(_ORD.c.id, _ORD.c.asset, _ORD.c.units, _ORD.c.data).where(
                _ORD.c.kind == "sell", _ORD.c.state == "completed")).all()
            due: dict[str, list[tuple[str, int]]] = {}
            for oid, asset, units, data in rows:
                if json.loads(data).get("burn") == "due":
                    due.setdefault(asset, []).append((oid, int(units)))
        out = []
        for asset, sells in sorted(due.items()):
            out.append(self._start_burn(asset, sells, f"eod:{batch}:{asset}"))
        return [self.advance(o.id) for o in out]

    def _start_burn(self, asset: str, sells: list[tuple[str, int]], key: str) -> Order:
        units = sum(u for _, u in sells)
        fp = store.fingerprint({"kind": "burn", "sells": sorted(s for s, _ in sells)})
        with self.writer.begin() as conn:
            found = store.find_by_key(conn, self.inventory_client, key, fp)
            if found is not None:
                return found
            order = store.create(conn, client_id=self.inventory_client, idem_key=key, fp=fp,
                                 kind="burn", state="screening", asset=asset, units=units,
                                 fiat_cents=rules.units_to_cents(asset, units), fee_cents=0,
                                 data={"to": self.issuer.redemption_address(),
                                       "sells": [s for s, _ in sells]}, now=self.clock())
            for sid, _ in sells:
                data = json.loads(conn.scalar(select(_ORD.c.data).where(_ORD.c.id == sid)))
                conn.execute(update(_ORD).where(_ORD.c.id == sid).values(
                    data=json.dumps({**data, "burn": order.id}, sort_keys=True)))
        return order

    def _burn_screening(self, order: Order, data: dict[str, Any], version: int) -> Order:
        """Hold the inventory's coins for the vault operation, then ``held``."""
        self.ledger.open_withdrawal_hold(op_id(order.id), order.client_id, order.asset,
                                         order.units, self.sender.vault, now=order.created_at)
        return self._move(order.id, "screening", "held", version=version)

    _burn_held = Withdrawals._withdraw_held

    def _burn_sent(self, order: Order, data: dict[str, Any], version: int) -> Order:
        out = self.sender.outcome(bytes.fromhex(op_id(order.id)[2:]))
        if out.status == "reverted":
            self.ledger.raise_alert("flows.burn_failed", f"redemption {order.id}: {out.reason}",
                                    ref=f"flows:{order.id}:reverted")
            return self._release(order, version, out.code or "unknown", out.reason or "")
        if out.status != "paid" or out.mined_hash is None:
            return order
        try:
            burn = self.issuer.create_burn(units=order.units, source_address=self.sender.vault,
                                           transfer_tx_id=out.mined_hash, reference=order.id,
                                           idempotency_key=store.step_key(order.id, "burn"))
        except IssuerRejected as exc:
            if "confirmations" not in str(exc):  # not yet deep enough: simply try again later
                self.ledger.raise_alert("flows.burn_refused", f"redemption {order.id}: {exc}",
                                        ref=f"flows:{order.id}:burn_refused")
            return order
        return self._move(order.id, "sent", "burning", version=version,
                          data={"burn_id": burn.burn_id, "since": self.clock().isoformat()})

    def _burn_burning(self, order: Order, data: dict[str, Any], version: int) -> Order:
        burn = self.issuer.get_burn(data["burn_id"])
        if burn.status is BurnStatus.COMPLETE:
            try:
                self.bank.release_reserves(store.step_key(order.id, "payout"), order.asset,
                                           order.fiat_cents, reference=f"redemption {order.id}")
            except CoreBankingRejectedError as exc:
                self.ledger.raise_alert("flows.payout_unbooked",
                                        f"redemption {order.id} paid by the issuer but core "
                                        f"banking refused the booking: {exc}",
                                        ref=f"flows:{order.id}:unbooked")
                return order
            return self._move(order.id, "burning", "settled", version=version)
        since = datetime.fromisoformat(data["since"])
        due = since + timedelta(seconds=self.settings.receivable_escalate_after_s)
        if not data.get("escalated") and self.clock() >= due:
            self.ledger.raise_alert(
                "flows.receivable_overdue",
                f"issuer owes {order.fiat_cents} cents for redemption {order.id} "
                f"({by_symbol(order.asset).symbol}) since {since}; burn {burn.status}",
                ref=f"flows:{order.id}:escalated")
            return self._move(order.id, "burning", "burning", version=version,
                              data={"escalated": self.clock().isoformat()})
        return order
