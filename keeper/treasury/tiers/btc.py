"""The daily BTC hot -> cold sweep: a PSBT of the hot P2WSH wallet paying the cold wallet,
proposed through :class:`keeper.btc.SpendCoordinator`; the hot wallet's cosigners sign it
(the keeper holds no quorum), and the coordinator verifies and broadcasts it once fully signed.

Amount: the hot wallet's excess over ``max(target, minimum)`` (:func:`excess`) less a fee
reserve (``fee_rate`` x the vsize of spending every hot UTXO to two outputs), so the fee never
takes the hot wallet below what it keeps. The amount and the cold address are fixed in the sweep
book (key ``btc-daily:<day>:BTC``) before the PSBT is made; a restart that finds the row planned
adopts the coordinator's live spend paying exactly that address and amount instead of making a
second one, and a proposed row is final for its day. A proposal the wallet refuses (not enough
funds, fee rate above the wallet's ceiling, dust) is recorded ``refused`` and alerted once.
In dry run the plan is recorded and audited, no PSBT is made.
"""

from __future__ import annotations

from datetime import date, datetime

from keeper.btc import (
    DustPaymentError,
    FeeRateTooHighError,
    InsufficientFundsError,
    SpendCoordinator,
    dust_threshold,
)
from keeper.btc.pending import PendingSpend
from keeper.btc.wallet import address_to_script, estimate_vsize
from keeper.treasury.moves import Move
from keeper.treasury.tiers.book import AlertFn, Planned, SweepBook
from keeper.treasury.tiers.models import SweepStatus
from keeper.treasury.tiers.policy import TierPolicy
from keeper.treasury.tiers.sweeps import REFUSED_ALERT, SweepOutcome, excess
from keeper.treasury.tiers.view import TierView

KIND = "btc-daily"
P2WSH_SCRIPT_BYTES = 34


class BtcSweeper:
    """Daily BTC sweeps of ``coordinator``'s hot wallet (see the module docstring)."""

    def __init__(self, book: SweepBook, coordinator: SpendCoordinator, *, fee_rate: int,
                 alert: AlertFn, dry_run: bool = False) -> None:
        self.book, self.coordinator = book, coordinator
        self.wallet = coordinator.wallet
        self.fee_rate, self.alert, self.dry_run = fee_rate, alert, dry_run

    @staticmethod
    def key(day: date) -> str:
        """The sweep book key of ``day``'s BTC sweep."""
        return f"{KIND}:{day.isoformat()}:BTC"

    def fee_reserve(self) -> int:
        """Satoshis kept back for the fee: every hot UTXO spent to a payment and a change."""
        d = self.wallet.descriptor
        n_inputs = max(1, len(self.wallet.utxos(self.coordinator.locked())))
        return self.fee_rate * estimate_vsize(d.threshold, len(d.keys), n_inputs,
                                              [P2WSH_SCRIPT_BYTES, P2WSH_SCRIPT_BYTES])

    def run(self, view: TierView, policy: TierPolicy, day: date, cold_address: str,
            now: datetime) -> SweepOutcome | None:
        """Plan and propose ``day``'s sweep to ``cold_address`` (None: nothing to sweep)."""
        row = self.book.get(self.key(day))
        if row is not None and row.status == SweepStatus.PROPOSED:
            return _outcome(row)
        if row is None or row.status != SweepStatus.PLANNED:
            at = view.assets.get("BTC")
            units = 0 if at is None else excess(policy.asset("BTC"), at, "hot")
            units -= self.fee_reserve()
            spk = address_to_script(cold_address, self.wallet.network)
            if units < dust_threshold(spk):
                return None
            status = SweepStatus.DRY_RUN if self.dry_run else SweepStatus.PLANNED
            row = self.book.plan(self.key(day), KIND,
                                 Move("BTC", "btc-hot", "hot", "btc-cold", "cold", units,
                                      "hot share above target + band"),
                                 status, payload={"address": cold_address,
                                                  "fee_rate": self.fee_rate})
            if row.status != SweepStatus.PLANNED:
                return _outcome(row)
        assert row.payload is not None
        address, fee_rate = row.payload["address"], int(row.payload["fee_rate"])
        spend = self._adopt(address, row.units)
        if spend is None:
            try:
                spend = self.coordinator.propose([(address, row.units)], fee_rate, now)
            except (InsufficientFundsError, FeeRateTooHighError, DustPaymentError) as exc:
                return self._refused(row, type(exc).__name__, str(exc))
        return _outcome(self.book.mark(row.key, SweepStatus.PROPOSED, reference=spend.id))

    def _adopt(self, address: str, units: int) -> PendingSpend | None:
        """A live spend of the coordinator paying exactly ``units`` to ``address``."""
        spk = bytes(address_to_script(address, self.wallet.network))
        self.coordinator.refresh()
        for spend in self.coordinator.spends.values():
            if spend.status == "expired":
                continue
            if any(out.nValue == units and bytes(out.scriptPubKey) == spk
                   for out in spend.psbt.unsigned_tx.vout):
                return spend
        return None

    def _refused(self, row: Planned, code: str, reason: str) -> SweepOutcome:
        row = self.book.mark(row.key, SweepStatus.REFUSED, code=code, reason=reason)
        self.alert(REFUSED_ALERT, f"treasury sweep {row.key} of {row.units} sat to cold refused: "
                   f"{code} ({reason}); no PSBT made", f"{REFUSED_ALERT}:{row.key}")
        return _outcome(row)


def _outcome(row: Planned) -> SweepOutcome:
    return SweepOutcome(row.key, row.asset, row.units, row.status, (), row.code, row.reason)
