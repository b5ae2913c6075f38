"""The issuer's back office: moves mints and burns on chain and delivers signed webhooks.

One thread, one step at a time. At most one of the minter's transactions is in flight: a new
one is signed only when every earlier one has its confirmations, so nonces never race and a
crash between signing and recording is impossible (the signed bytes are stored before the
broadcast and re-broadcast after a restart).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from keeper.integrations.issuer.webhook import signed_headers
from scripts.services.common.worker import ServiceWorker
from scripts.services.issuer.chain import IssuerChain, Reverted
from scripts.services.issuer.records import event_for
from scripts.services.issuer.store import Store

log = logging.getLogger("issuer.worker")


class Worker(ServiceWorker):
    """Advances open records; ``step()`` is one pass (its thread calls it every ``poll_s``;
    webhooks have their own thread: a slow or dead bank endpoint never holds up minting)."""

    name = "issuer"
    sign = staticmethod(signed_headers)
    store: Store
    chain: IssuerChain

    def step(self) -> None:
        """One pass: track in-flight transactions, start the next one, settle payouts."""
        busy = False
        for table in ("mints", "burns"):
            for row in self.store.open_rows(table):
                if row["tx_hash"] and row["status"] == "pending":
                    busy |= self._track(table, row)
        for row in self.store.open_rows("mints"):
            busy = self._advance_mint(row, busy)
        for row in self.store.open_rows("burns"):
            busy = self._advance_burn(row, busy)

    # --- transactions ------------------------------------------------------------------------

    def _track(self, table: str, row: dict[str, Any]) -> bool:
        """Follow a broadcast transaction; True while it still needs confirmations."""
        seen = self.chain.confirmations(row["tx_hash"])
        if seen is None:
            if self.chain.nonce_used(row["tx_nonce"]) and not self.chain.known(row["tx_hash"]):
                # its nonce went to another transaction, so this one can never be mined: sign the
                # operation again at a fresh nonce (no double execution is possible)
                log.warning("%s %s: nonce %d taken by another transaction; re-signing",
                            table[:-1], row["id"], row["tx_nonce"])
                self.store.update(table, row["id"], raw_tx=None, tx_hash=None, tx_nonce=None)
                return False
            self.chain.broadcast(row["raw_tx"])
            return True
        confs, ok = seen
        if not ok:
            self._finish(table, row, "failed", reason=f"{table[:-1]} transaction reverted",
                         confirmations=confs)
            return False
        if confs < self.confirmations:
            self.store.update(table, row["id"], confirmations=confs)
            return True
        if table == "mints":
            self._finish(table, row, "complete", confirmations=confs)
        else:  # burned: the payout is now owed; settlement decides the status
            self.store.update(table, row["id"], confirmations=confs, payout_status="owed",
                              status="delayed")
        return False

    def _submit(self, table: str, row: dict[str, Any], fn: str, *args: Any) -> bool:
        try:
            signed = self.chain.prepare(fn, *args)
        except Reverted as exc:
            self._finish(table, row, "failed", reason=f"token refused the {fn}: {exc}")
            return False
        self.store.update(table, row["id"], raw_tx=signed.raw, tx_hash=signed.tx_hash, tx_nonce=signed.nonce)
        self.chain.broadcast(signed.raw)
        return True

    def _advance_mint(self, row: dict[str, Any], busy: bool) -> bool:
        if row["tx_hash"] or row["fault"] == "hold":
            return busy
        if row["fault"] == "fail":
            self._finish("mints", row, "failed", reason="issuer declined the mint after review")
            return busy
        if busy or (row["not_before"] or 0) > time.time():
            return busy
        return self._submit("mints", row, "mint", row["destination"], int(row["units"]))

    def _advance_burn(self, row: dict[str, Any], busy: bool) -> bool:
        if row["status"] == "pending" and not row["tx_hash"]:
            return busy or self._submit("burns", row, "burn", int(row["units"]))
        if row["payout_status"] != "owed" or row["status"] != "delayed":
            return busy
        if row["fault"] == "fail":
            self._finish("burns", row, "failed", reason="issuer failed to settle the fiat payout")
        elif row["fault"] != "hold" and (row["not_before"] or 0) <= time.time():
            self._finish("burns", row, "complete", payout_status="sent")
        elif row["reason"] is None:  # announce the late payout once
            self.store.update("burns", row["id"], event=event_for("burns", {**row, "status": "delayed"}),
                              reason="fiat payout delayed")
        return busy

    def _finish(self, table: str, row: dict[str, Any], status: str, **values: Any) -> None:
        final = {**row, **values, "status": status}
        self.store.update(table, row["id"], event=event_for(table, final), status=status, **values)
