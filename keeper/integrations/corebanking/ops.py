"""The bank staff's side of the local ATLAS (ops key): onboarding, incoming wires, failure
injection and the service's own checks. Demos, ``make run`` and tests use it; the keeper does
not (the platform's key cannot do any of this)."""

from __future__ import annotations

from typing import Any

from keeper.integrations.corebanking.client import AtlasClient, _customer, _posting, _segment, _wire
from keeper.integrations.corebanking.interface import Customer, Posting
from keeper.integrations.corebanking.wire import Faults


class AtlasOpsClient(AtlasClient):
    """ATLAS's staff endpoints over HTTP (same transport and errors as :class:`AtlasClient`)."""

    def create_customer(self, customer_id: str, name: str) -> Customer:
        """Open a customer with a USD account (idempotent on ``customer_id``)."""
        d = self.request("POST", "/atlas/customers", {"customer_id": customer_id, "name": name},
                         idempotent=True)
        return self._checked(_customer, d)

    def wire_in(self, idempotency_key: str, customer_id: str, amount_cents: int, reference: str,
                *, earmark_buy: bool = False) -> Posting:
        """Book an incoming wire; ``earmark_buy`` makes ATLAS notify the platform of it."""
        body = {"customer_id": customer_id, "amount": _wire(amount_cents), "reference": reference,
                "earmark": "buy" if earmark_buy else None}
        return self._checked(_posting, self.request("POST", "/atlas/wires/in", body,
                                                    key=idempotency_key, idempotent=True))

    def set_faults(self, faults: Faults) -> Faults:
        """Replace the failure injection (not retried: it is not a money movement)."""
        return Faults(**self.request("PUT", "/atlas/admin/faults", faults.model_dump(),
                                     idempotent=False))

    def faults(self) -> Faults:
        """The failure injection in force."""
        return Faults(**self.request("GET", "/atlas/admin/faults", idempotent=True))

    def notification(self, transaction_id: str) -> dict[str, Any]:
        """A deposit notification's delivery state (status, attempts, the platform's answer)."""
        return dict(self.request("GET", f"/atlas/notifications/{_segment(transaction_id)}", idempotent=True))

    def retry_notification(self, transaction_id: str) -> dict[str, Any]:
        """Send a ``failed`` deposit notification again (409 in any other state)."""
        return dict(self.request("POST", f"/atlas/notifications/{_segment(transaction_id)}/retry",
                                 idempotent=False))

    def trial_balance(self) -> dict[str, Any]:
        """Debits and credits per currency, and any posting that does not net to zero."""
        return dict(self.request("GET", "/atlas/ledger/trial-balance", idempotent=True))
