"""Index our multisigs' executions and owner changes from the chain (own cursor per Safe).

Executions made outside the service show up as executed with their transaction hash: a known
safeTxHash is marked executed from its ``ExecutionSuccess``/``ExecutionFailure`` log; an
unknown one, when the transaction called ``execTransaction`` on the Safe directly, is decoded
and stored as an executed transaction (proposer unknown). Owner, threshold and recovery events
re-check the quorum through the executor's rule (alert when it became unreachable or a
recovery is queued); a removed owner's delegations for that Safe are deleted. Only blocks
``confirmations`` deep are read (pass the keeper's ``Settings.confirmations``); the cursor
moves with the writes it covers, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.audit import record_in
from keeper.keys.eth import SafeTx, safe_tx_hash
from keeper.safetx import store
from keeper.safetx.chain import ChainReadError, decode_exec_transaction
from keeper.safetx.delegates import drop_removed_owner
from keeper.safetx.executor import mark_executed
from keeper.safetx.models import Cursor, KnownSafe, SafeTransaction, Status
from keeper.safetx.service import AuditFn, SafeTxService, hash_hex

log = logging.getLogger(__name__)
T, K, S = SafeTransaction.__table__, Cursor.__table__, KnownSafe.__table__
EXECUTION = {keccak(text="ExecutionSuccess(bytes32,uint256)"),
             keccak(text="ExecutionFailure(bytes32,uint256)")}
REMOVED_OWNER = keccak(text="RemovedOwner(address)")
OWNERSHIP = {keccak(text=s) for s in ("AddedOwner(address)", "RemovedOwner(address)",
                                      "ChangedThreshold(uint256)")}
RECOVERY_QUEUED = keccak(text="RecoveryQueued(bytes32,uint256,uint256)")
RECOVERY_PENDING = "safetx_recovery_pending"
TOPICS = ["0x" + t.hex() for t in (*EXECUTION, *OWNERSHIP, RECOVERY_QUEUED)]


class SafeTxIndexer:
    """Reads the registered multisigs' logs into the safetx tables (see the module docstring)."""

    def __init__(self, service: SafeTxService, *, quorum: Callable[..., object] | None = None,
                 alert: Callable[[str, str, str | None], object] | None = None,
                 confirmations: int = 12, batch_blocks: int = 2_000,
                 audit: AuditFn = record_in) -> None:
        self.service = service
        self.w3 = service.chain.w3
        self.quorum = quorum
        self.alert = alert
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        self.audit = audit

    def run_once(self, now: datetime | None = None) -> int:
        """Index every registered Safe up to the confirmed head; returns executions recorded."""
        now = now or datetime.now(UTC)
        head = self.w3.eth.block_number - self.confirmations
        return sum(self._index(safe, head, now) for safe in self.service.known_safes())

    def cursor(self, safe: str) -> int:
        """The last block read for ``safe`` (its registration block - 1 before the first run)."""
        with self.service.engine.connect() as conn:
            block = conn.execute(select(K.c.block).where(K.c.safe == safe)).scalar_one_or_none()
            if block is None:
                start = conn.execute(select(S.c.from_block).where(S.c.address == safe)).scalar_one()
                return int(start) - 1
        return int(block)

    def _index(self, safe: str, head: int, now: datetime) -> int:
        done = 0
        start = self.cursor(safe) + 1
        while start <= head:
            end = min(head, start + self.batch_blocks - 1)
            logs = self.w3.eth.get_logs({"address": safe, "fromBlock": start, "toBlock": end,
                                         "topics": [TOPICS]})
            ownership = False
            for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
                topic = bytes(entry["topics"][0])
                if topic in EXECUTION:
                    done += self._execution(safe, entry, now)
                elif topic in OWNERSHIP:
                    ownership = True
                    if topic == REMOVED_OWNER:
                        self._owner_removed(safe, entry)
                elif topic == RECOVERY_QUEUED and self.alert is not None:
                    rid = "0x" + bytes(entry["topics"][1]).hex()
                    self.alert(RECOVERY_PENDING, f"multisig {safe}: recovery {rid} queued",
                               f"safetx:recovery:{rid}")
            self._advance(safe, start - 1, end)
            if ownership and self.quorum is not None:
                try:
                    self.quorum(self.service.chain.state(safe))
                except ChainReadError as exc:
                    log.warning("safetx: quorum check of %s failed: %s", safe, exc)
            start = end + 1
        return done

    def _owner_removed(self, safe: str, entry: Any) -> None:
        owner = to_checksum_address(bytes(entry["topics"][1])[-20:])
        with store.writing(self.service.engine) as conn:
            drop_removed_owner(conn, safe, owner, self.audit)

    def _advance(self, safe: str, expected: int, block: int) -> None:
        with store.writing(self.service.engine) as conn:
            moved = conn.execute(update(K).where(K.c.safe == safe, K.c.block == expected)
                                 .values(block=block)).rowcount
            if moved == 0:
                try:
                    conn.execute(insert(K).values(safe=safe, block=block))
                except IntegrityError:  # another indexer moved it: its writes cover ours
                    log.info("safetx: cursor of %s moved concurrently", safe)

    def _execution(self, safe: str, entry: Any, now: datetime) -> int:
        h = "0x" + bytes(entry["topics"][1]).hex()
        receipt = self.w3.eth.get_transaction_receipt(entry["transactionHash"])
        with self.service.engine.connect() as conn:
            known = conn.execute(select(T.c.status).where(T.c.safe_tx_hash == h)).first()
        if known is None and not self._adopt(safe, h, entry, now):
            return 0
        return mark_executed(self.service, h, receipt, now, self.audit)

    def _adopt(self, safe: str, h: str, entry: Any, now: datetime) -> bool:
        """Store an execution made outside the service, decoded from its transaction."""
        tx = self.w3.eth.get_transaction(entry["transactionHash"])
        decoded = (decode_exec_transaction(bytes(tx["input"]))
                   if tx["to"] and to_checksum_address(tx["to"]) == safe else None)
        if decoded is None:
            log.info("safetx: execution %s of %s was not a direct execTransaction", h, safe)
            return False
        fields, signatures = decoded
        chain_id = self.service.chain.chain_id
        nonce = self._nonce_of(safe, fields, h, int(entry["blockNumber"]), chain_id)
        if nonce is None:
            return False
        full = SafeTx(**{**fields.__dict__, "nonce": nonce})
        with store.writing(self.service.engine) as conn:
            try:
                conn.execute(insert(T).values(
                    safe_tx_hash=h, safe=safe, to=full.to, value=str(full.value), data=full.data,
                    operation=full.operation, safe_tx_gas=str(full.safe_tx_gas),
                    base_gas=str(full.base_gas), gas_price=str(full.gas_price),
                    gas_token=full.gas_token, refund_receiver=full.refund_receiver, nonce=nonce,
                    proposer=None, origin="indexed", status=Status.PENDING, signatures=signatures,
                    confirmations_required=self._threshold(safe, int(entry["blockNumber"]) - 1),
                    submission_date=now, modified=now))
            except IntegrityError:
                return True
            self.audit(conn, "keeper", "safetx.adopt", {"safe": safe, "safe_tx_hash": h,
                                                        "nonce": nonce}, {"origin": "chain"})
        return True

    def _threshold(self, safe: str, block: int) -> int:
        """The Safe's threshold at ``block`` (0 when the node cannot say)."""
        try:
            raw = self.w3.eth.call({"to": safe, "data": keccak(text="getThreshold()")[:4]}, block)
            return int.from_bytes(bytes(raw)[:32], "big")
        except Exception:  # noqa: BLE001 - node without that state
            return 0

    def _nonce_of(self, safe: str, fields: SafeTx, h: str, block: int,
                  chain_id: int) -> int | None:
        """The nonce the execution used: the Safe's nonce just before its block, or the
        neighbours (several executions in one block)."""
        try:
            from eth_abi import decode

            raw = self.w3.eth.call({"to": safe, "data": keccak(text="nonce()")[:4]}, block - 1)
            before = int(decode(["uint256"], bytes(raw))[0])
        except Exception:  # noqa: BLE001 - node without that state
            return None
        for nonce in range(before, before + 16):
            candidate = SafeTx(**{**fields.__dict__, "nonce": nonce})
            if hash_hex(safe_tx_hash(chain_id, safe, candidate)) == h:
                return nonce
        return None
