"""The partner's back office: credits confirmed deposits to its sub-accounts' addresses, sends
and confirms withdrawals, delivers signed webhooks. One thread for the chain, one for webhooks.

``as_of_block`` (meta) is the last block whose movements are all reflected in the reports:
deposits are credited, and withdrawals confirmed, once they have ``confirmations``.
"""

from __future__ import annotations

import uuid
from typing import Any

from keeper.partners.chainscan import scan, tx_facts
from keeper.partners.webhook import signed_headers
from scripts.services.common.worker import ServiceWorker
from scripts.services.partner.chain import PartnerChain
from scripts.services.partner.reports import tx_json
from scripts.services.partner.store import Store


def _event(row: dict[str, Any]) -> dict[str, Any]:
    kind = f"{row['kind']}.{row['status']}"
    return {"event_id": f"{row['id']}:{row['status']}", "type": kind, "data": tx_json(row)}


class Worker(ServiceWorker):
    """``step()`` is one chain pass; ``deliver()`` one webhook pass. The threads, their loop,
    shutdown and webhook delivery are :class:`scripts.services.common.worker.ServiceWorker`'s."""

    name = "partner"
    sign = staticmethod(signed_headers)
    store: Store
    chain: PartnerChain

    def step(self) -> None:
        """Send pending withdrawals, then credit and confirm up to the confirmed head."""
        self._send_pending()
        head = self.chain.head()
        safe = head - self.confirmations + 1
        scanned = int(self.store.meta("scanned_block", str(head)) or head)
        if safe <= scanned:
            return
        accounts = {a["address"].lower(): a["client_ref"] for a in self.store.accounts()}
        for move in scan(self.chain.w3, accounts, scanned + 1, safe):
            client = accounts.get(move.recipient)
            if client is not None and move.amount > 0:  # anyone may emit zero-value Transfers
                row = {"id": "dep_" + uuid.uuid4().hex, "client_ref": client, "kind": "deposit",
                       "asset": move.asset, "units": str(move.amount), "from_addr": move.sender,
                       "to_addr": move.recipient, "tx_hash": move.tx_hash, "move_key": move.key,
                       "log_index": move.log_index, "block": move.block, "status": "confirmed"}
                self.store.insert_tx(row, _event(row))
        for row in self.store.txs(statuses=("sent",)):
            self._confirm(row, safe)
        self.store.set_meta("scanned_block", str(safe))
        self.store.set_meta("as_of_block", str(safe))

    def _send_pending(self) -> None:
        busy = {r["from_addr"] for r in self.store.txs(statuses=("sent",))}
        for row in self.store.txs(statuses=("pending",)):
            if row["raw_tx"] is not None:  # signed before a crash: the same bytes again
                self.chain.broadcast(bytes(row["raw_tx"]))
                self.store.update_tx(row["id"], status="sent")
                continue
            if row["from_addr"] in busy:  # one transaction in flight per address (nonces)
                continue
            try:
                signed = self.chain.prepare(row["client_ref"], row["asset"], row["to_addr"],
                                            int(row["units"]))
            except ValueError as exc:
                failed = {**row, "status": "failed"}
                self.store.update_tx(row["id"], _event(failed), status="failed",
                                     reason=str(exc)[:200])
                continue
            self.store.update_tx(row["id"], raw_tx=signed.raw, tx_hash=signed.tx_hash)
            self.chain.broadcast(signed.raw)
            self.store.update_tx(row["id"], status="sent")
            busy.add(row["from_addr"])

    def _confirm(self, row: dict[str, Any], safe: int) -> None:
        block = self.chain.mined(row["tx_hash"])
        if block is None:
            self.chain.broadcast(bytes(row["raw_tx"]))
            return
        if block > safe:
            return
        facts = tx_facts(self.chain.w3, row["tx_hash"])
        if facts is None:
            return
        move = next((m for m in facts.moves if m.sender == row["from_addr"]
                     and m.recipient == row["to_addr"] and m.asset == row["asset"]), None)
        status = "confirmed" if facts.ok and move is not None else "failed"
        done = {**row, "status": status, "block": facts.block, "fee": str(facts.fee),
                "log_index": move.log_index if move else None}
        self.store.update_tx(row["id"], _event(done), status=status, block=facts.block,
                             fee=str(facts.fee), log_index=done["log_index"],
                             move_key=move.key if move else None)
