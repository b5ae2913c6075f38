"""Pending spends: PSBTs waiting for quorum, with expiry and alerts; never half-broadcast."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bitcointx.core import CTransaction, b2lx
from bitcointx.core.psbt import PartiallySignedTransaction

from keeper.btc.chain import Broadcaster
from keeper.btc.network import bitcoin_classes
from keeper.btc.psbt import finalize, has_quorum, merge_signatures, signature_status
from keeper.btc.store import BtcStore, outpoints_of
from keeper.btc.wallet import MultisigWallet

Alert = Callable[[str, dict], None]


@dataclass
class PendingSpend:
    """One spend in flight; ``psbt`` accumulates cosigner signatures."""

    id: str
    psbt: PartiallySignedTransaction
    created_at: datetime
    expires_at: datetime
    status: str = "pending"  # pending | broadcasting | released | expired
    txid: str | None = None
    outpoints: tuple[tuple[str, int], ...] = field(default_factory=tuple)


class SpendCoordinator:
    """Creates PSBTs, gathers signatures, releases only verified, fully signed transactions.

    Inputs of a pending spend are locked so no second spend selects them. A spend that has
    not reached quorum by ``expires_at`` is marked expired, its inputs unlocked, and an alert
    raised; nothing of it is ever broadcast. The clock is passed in (``now``).

    With a ``store`` (``BtcStore``) every step is durable and shared between processes: the
    spends of this wallet are reloaded at start, locks and the change index are taken in the
    database, so a restart neither forgets a locked input nor re-uses a change address.
    Without one, state lives in this object only (tests, one-shot tools).
    """

    def __init__(
        self,
        wallet: MultisigWallet,
        broadcaster: Broadcaster,
        alert: Alert,
        ttl: timedelta = timedelta(hours=24),
        store: BtcStore | None = None,
    ) -> None:
        self.wallet = wallet
        self.broadcaster = broadcaster
        self.alert = alert
        self.ttl = ttl
        self.store = store
        self.spends: dict[str, PendingSpend] = {}
        if store is not None:
            if wallet.name is None:
                raise ValueError("a stored coordinator needs a wallet opened by BtcStore")
            self.refresh()

    def refresh(self) -> None:
        """Reload this wallet's spends from the store (e.g. ones another process proposed)."""
        if self.store is not None:
            self.spends = {row["id"]: PendingSpend(**row)
                           for row in self.store.load_spends(self.wallet)}

    def _get(self, spend_id: str) -> PendingSpend:
        if spend_id not in self.spends:
            self.refresh()
        return self.spends[spend_id]  # KeyError: no such spend

    def locked(self) -> set[tuple[str, int]]:
        """Outpoints held by pending or released spends (from the database when there is one).

        A released spend keeps its inputs locked: they are spent, but a UTXO source that has
        not seen the transaction yet must not offer them to a new spend.
        """
        if self.store is not None:
            return self.store.locked()
        return {o for s in self.spends.values() if s.status != "expired" for o in s.outpoints}

    @bitcoin_classes
    def propose(
        self, payments: Sequence[tuple[str, int]], fee_rate: int, now: datetime
    ) -> PendingSpend:
        """Create the unsigned PSBT and register it as pending (atomically, with a store)."""
        spend_id = uuid.uuid4().hex
        if self.store is None:
            psbt = self.wallet.create_psbt(payments, fee_rate, exclude=self.locked())
        else:
            psbt = self._propose_stored(spend_id, payments, fee_rate, now)
        spend = PendingSpend(spend_id, psbt, now, now + self.ttl, outpoints=outpoints_of(psbt))
        self.spends[spend.id] = spend
        return spend

    def _propose_stored(self, spend_id: str, payments: Sequence[tuple[str, int]],
                        fee_rate: int, now: datetime) -> PartiallySignedTransaction:
        store = self.store
        assert store is not None  # noqa: S101 - caller checked
        before = self.wallet.next_change
        try:
            with store.transaction() as conn:
                index = store.reserve_change(conn, self.wallet)
                psbt = self.wallet.create_psbt(payments, fee_rate, exclude=store.locked(conn),
                                               change_index=index)
                if self.wallet.next_change <= index:  # no change output: give the index back
                    store.release_change(conn, self.wallet, index)
                store.record_spend(conn, self.wallet, spend_id, psbt, now, now + self.ttl)
        except BaseException:
            self.wallet.next_change = before  # the database rolled back; so does memory
            raise
        return psbt

    @bitcoin_classes
    def add_signatures(self, spend_id: str, signed: PartiallySignedTransaction) -> list:
        """Take a cosigner's signatures (nothing else of its PSBT); an invalid one raises and
        changes nothing. Returns per-input ``(valid signatures, threshold)``."""
        spend = self._pending(spend_id)
        merged = merge_signatures(spend.psbt, signed)
        status = signature_status(merged)  # raises InvalidSignatureError on a bad signature
        if self.store is not None:
            self.store.save_psbt(spend_id, merged)
        spend.psbt = merged
        return status

    @bitcoin_classes
    def try_release(self, spend_id: str, now: datetime) -> str | None:
        """Finalize, verify and broadcast if quorum is reached; else ``None`` (still pending).

        The txid is recorded (status ``broadcasting``) before the transaction leaves, so a crash
        between broadcast and bookkeeping is completed on the next call: released at once if
        the chain already knows the transaction, else the same transaction is broadcast again
        (finalizing is deterministic). A broadcasting spend never expires: it may be mined.
        """
        spend = self._get(spend_id)
        if spend.status == "broadcasting":
            return self._complete(spend)
        spend = self._pending(spend_id)
        if now >= spend.expires_at:
            self.expire(now)
            return None
        if not has_quorum(spend.psbt):
            return None
        tx = finalize(spend.psbt.clone())  # verified by script before it leaves
        spend.txid, spend.status = b2lx(tx.GetTxid()), "broadcasting"
        if self.store is not None:
            self.store.mark_broadcasting(spend.id, spend.txid, spend.psbt)
        return self._complete(spend, tx)

    def _complete(self, spend: PendingSpend, tx: CTransaction | None = None) -> str:
        assert spend.txid is not None  # noqa: S101 - set with status "broadcasting"
        if tx is None:
            try:
                self.wallet.source.get_transaction(spend.txid)
            except KeyError:
                tx = finalize(spend.psbt.clone())
        if tx is not None:
            self.broadcaster.broadcast(tx)
        if self.store is not None:
            self.store.mark_released(spend.id)
        spend.status = "released"
        return spend.txid

    @bitcoin_classes
    def expire(self, now: datetime) -> list[str]:
        """Expire overdue pending spends, unlock their inputs and alert; returns their ids."""
        due = [s for s in self.spends.values() if s.status == "pending" and now >= s.expires_at]
        if self.store is not None:
            self.store.mark_expired([s.id for s in due])
        for spend in due:
            spend.status = "expired"
            self.alert(
                "btc.spend.expired",
                {
                    "spend_id": spend.id,
                    "signatures": signature_status(spend.psbt),
                    "expired_at": spend.expires_at.isoformat(),
                },
            )
        return [s.id for s in due]

    def _pending(self, spend_id: str) -> PendingSpend:
        spend = self._get(spend_id)
        if spend.status != "pending":
            raise ValueError(f"spend {spend_id} is {spend.status}")
        return spend
