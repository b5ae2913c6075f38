"""Pending spends: PSBTs waiting for quorum, with expiry and alerts; never half-broadcast."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bitcointx.core import b2lx
from bitcointx.core.psbt import PartiallySignedTransaction

from keeper.btc.chain import Broadcaster
from keeper.btc.psbt import combine, finalize, has_quorum, signature_status
from keeper.btc.wallet import MultisigWallet

Alert = Callable[[str, dict], None]


@dataclass
class PendingSpend:
    """One spend in flight; ``psbt`` accumulates cosigner signatures."""

    id: str
    psbt: PartiallySignedTransaction
    created_at: datetime
    expires_at: datetime
    status: str = "pending"  # pending | released | expired
    txid: str | None = None
    outpoints: tuple[tuple[str, int], ...] = field(default_factory=tuple)


class SpendCoordinator:
    """Creates PSBTs, gathers signatures, releases only verified, fully signed transactions.

    Inputs of a pending spend are locked so no second spend selects them. A spend that has
    not reached quorum by ``expires_at`` is marked expired, its inputs unlocked, and an alert
    raised; nothing of it is ever broadcast. The clock is passed in (``now``).
    """

    def __init__(
        self,
        wallet: MultisigWallet,
        broadcaster: Broadcaster,
        alert: Alert,
        ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self.wallet = wallet
        self.broadcaster = broadcaster
        self.alert = alert
        self.ttl = ttl
        self.spends: dict[str, PendingSpend] = {}

    def locked(self) -> set[tuple[str, int]]:
        """Outpoints held by pending spends."""
        return {o for s in self.spends.values() if s.status == "pending" for o in s.outpoints}

    def propose(
        self, payments: Sequence[tuple[str, int]], fee_rate: int, now: datetime
    ) -> PendingSpend:
        """Create the unsigned PSBT and register it as pending."""
        psbt = self.wallet.create_psbt(payments, fee_rate, exclude=self.locked())
        outpoints = tuple((b2lx(i.prevout.hash), i.prevout.n) for i in psbt.unsigned_tx.vin)
        spend = PendingSpend(uuid.uuid4().hex, psbt, now, now + self.ttl, outpoints=outpoints)
        self.spends[spend.id] = spend
        return spend

    def add_signatures(self, spend_id: str, signed: PartiallySignedTransaction) -> list:
        """Merge a cosigner's PSBT; invalid signatures raise. Returns per-input status."""
        spend = self._pending(spend_id)
        merged = combine(spend.psbt, signed)
        status = signature_status(merged)  # raises InvalidSignatureError on a bad signature
        spend.psbt = merged
        return status

    def try_release(self, spend_id: str, now: datetime) -> str | None:
        """Finalize, verify and broadcast if quorum is reached; else ``None`` (still pending)."""
        spend = self._pending(spend_id)
        if now >= spend.expires_at:
            self.expire(now)
            return None
        if not has_quorum(spend.psbt):
            return None
        tx = finalize(spend.psbt)  # verified by script before it leaves
        spend.txid = self.broadcaster.broadcast(tx)
        spend.status = "released"
        return spend.txid

    def expire(self, now: datetime) -> list[str]:
        """Expire overdue pending spends, unlock their inputs and alert; returns their ids."""
        out = []
        for spend in self.spends.values():
            if spend.status == "pending" and now >= spend.expires_at:
                spend.status = "expired"
                out.append(spend.id)
                self.alert(
                    "btc.spend.expired",
                    {
                        "spend_id": spend.id,
                        "signatures": signature_status(spend.psbt),
                        "expired_at": spend.expires_at.isoformat(),
                    },
                )
        return out

    def _pending(self, spend_id: str) -> PendingSpend:
        spend = self.spends[spend_id]
        if spend.status != "pending":
            raise ValueError(f"spend {spend_id} is {spend.status}")
        return spend
