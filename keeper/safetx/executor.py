"""The keeper's executor: a SafeTx with its threshold of confirmations is simulated, then sent.

``run_once`` per registered multisig, in order:

1. quorum: alert (once per owner set) when the owners cannot reach the threshold;
2. pending transactions whose nonce the Safe already used are marked replaced, pending ones
   older than ``max_age`` expired;
3. the oldest pending transaction at the Safe's nonce with ``threshold`` confirmations of
   current owners is simulated (``eth_call`` of ``execTransaction`` from the executor's
   address): one that would revert, or would cost more gas than ``max_gas``, is marked
   ``failed_simulation`` and alerted, never sent;
   otherwise it is sent through :class:`keeper.chain.TxSender` from the HSM key ``label`` (an
   EOA paying gas: any account may execute a fully signed SafeTx) under the intent id
   ``safetx:<safeTxHash>`` (stored before broadcast, idempotent) and marked ``submitted``;
4. the sender checks its intents (receipts, re-broadcasts of the same bytes, fee bumps, stuck
   alerts); a final one settles the SafeTx (executed, successful or not; the other proposals
   at the nonce become replaced), a dropped or reverted one makes it pending again. A crash
   anywhere neither loses nor duplicates an execution (the Safe's nonce is the last guard).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from sqlalchemy import Connection, select, update

from keeper.audit import record_in
from keeper.chain import IntentConflictError, SenderConfig, TxSender
from keeper.chain.sender import PENDING
from keeper.keys import Keyring
from keeper.safetx import store
from keeper.safetx.chain import (
    BadSignature,
    ChainReadError,
    SafeState,
    exec_transaction_data,
)
from keeper.safetx.models import SafeTransaction, Status
from keeper.safetx.service import AuditFn, SafeTxService

log = logging.getLogger(__name__)
AlertFn = Callable[[str, str, str | None], object]
T = SafeTransaction.__table__
INTENT_PREFIX = "safetx:"  # the chain sender's intent id of a SafeTx: prefix + safeTxHash
EXECUTION_SUCCESS = keccak(text="ExecutionSuccess(bytes32,uint256)")
QUORUM_UNREACHABLE = "safetx_quorum_unreachable"
SIMULATION_FAILED = "safetx_simulation_failed"


class SafeTxExecutor:
    """Executes fully confirmed SafeTxs of the service's multisigs (see the module docstring)."""

    def __init__(self, service: SafeTxService, keyring: Keyring, *, alert: AlertFn,
                 label: str = "safe-signer", max_age: timedelta = timedelta(days=7),
                 audit: AuditFn = record_in,
                 receipt_wait_s: float = 5.0, max_gas: int = 3_000_000,
                 sender_config: SenderConfig | None = None) -> None:
        self.service = service
        self.chain = service.chain
        self.keyring = keyring
        self.label = label
        # nonces, stored raw bytes, re-broadcasts, fee bumps and stuck alerts: the chain sender's
        self.sender = TxSender(service.engine, self.chain.w3, keyring, label,
                               sender_config or SenderConfig.from_settings(), on_alert=alert)
        self.address = self.sender.address
        self.alert = alert
        self.max_age = max_age
        self.audit = audit
        self.receipt_wait_s = receipt_wait_s
        self.max_gas = max_gas  # the executor pays gas: a signed SafeTx cannot drain it

    def run_once(self, now: datetime | None = None) -> int:
        """One pass over every registered multisig; returns how many SafeTxs were sent."""
        now = now or datetime.now(UTC)
        sent = 0
        for safe in self.service.known_safes():
            try:
                state = self.chain.state(safe)
            except ChainReadError as exc:
                log.warning("safetx: cannot read %s: %s", safe, exc)
                continue
            self.check_quorum(state)
            self._retire(state, now)
            sent += self._execute_ready(state, now)
        self.reconcile(now)
        return sent

    # ---------------------------------------------------------------- quorum
    def check_quorum(self, state: SafeState, recovery_pending: bool = False) -> bool:
        """Alert when ``state``'s owners cannot reach its threshold (or a recovery is pending);
        returns whether the quorum is reachable. One alert per owner set and threshold."""
        reachable = len(state.owners) >= state.threshold > 0 and not recovery_pending
        if not reachable:
            why = "recovery pending" if recovery_pending else (
                f"{len(state.owners)} owners < threshold {state.threshold}")
            ref = keccak(text=f"{state.address}:{','.join(state.owners)}:{state.threshold}:"
                              f"{recovery_pending}").hex()
            self.alert(QUORUM_UNREACHABLE, f"multisig {state.address}: quorum unreachable "
                       f"({why})", f"safetx:quorum:{ref}")
        return reachable

    # ------------------------------------------------------------ housekeeping
    def _retire(self, state: SafeState, now: datetime) -> None:
        with store.writing(self.service.engine) as conn:
            self._set(conn, "replaced", (T.c.safe == state.address, T.c.status == Status.PENDING,
                                         T.c.nonce < state.nonce),
                      Status.REPLACED, f"nonce used on chain (Safe nonce {state.nonce})", now)
            self._set(conn, "expired", (T.c.safe == state.address, T.c.status == Status.PENDING,
                                        T.c.submission_date < now - self.max_age),
                      Status.EXPIRED, f"not executed within {self.max_age}", now)

    def _set(self, conn: Connection, what: str, cond: tuple[Any, ...], status: str, note: str,
             now: datetime) -> None:
        hashes = list(conn.execute(select(T.c.safe_tx_hash).where(*cond)).scalars())
        if not hashes:
            return
        conn.execute(update(T).where(T.c.safe_tx_hash.in_(hashes), T.c.status == Status.PENDING)
                     .values(status=status, note=note, modified=now))
        self.audit(conn, "keeper", f"safetx.{what}", {"safe_tx_hashes": hashes}, {"note": note})

    # --------------------------------------------------------------- execute
    def _execute_ready(self, state: SafeState, now: datetime) -> int:
        with self.service.engine.connect() as conn:
            candidates = store.where(conn, select(T).where(
                T.c.safe == state.address, T.c.status == Status.PENDING,
                T.c.nonce == state.nonce).order_by(T.c.submission_date, T.c.safe_tx_hash))
        for rec in candidates:
            if self._try_execute(state, rec, now):
                return 1
        return 0

    def _try_execute(self, state: SafeState, rec: store.TxRecord, now: datetime) -> bool:
        digest = bytes.fromhex(rec.safe_tx_hash[2:])
        sigs = []
        for c in rec.confirmations:
            if c.owner not in state.owners:
                continue
            try:
                sigs.extend(self.chain.parse_signatures(rec.safe, rec.tx, digest, c.signature))
            except BadSignature as exc:
                log.warning("safetx: stored signature of %s no longer verifies: %s", c.owner, exc)
        sigs = sorted(sigs, key=lambda s: int(s.owner, 16))[: state.threshold]
        if len(sigs) < state.threshold:
            return False
        packed = self.chain.pack(sigs)
        data = exec_transaction_data(rec.tx, packed)
        call = {"from": self.address, "to": rec.safe, "data": data}
        w3 = self.chain.w3
        try:
            (ok,) = abi_decode(["bool"], bytes(w3.eth.call(call)))
            reason = None if ok else "execTransaction returned false"
            gas = w3.eth.estimate_gas(call) if ok else 0
            if gas > self.max_gas:
                reason = f"gas estimate {gas} above the executor's cap {self.max_gas}"
        except Exception as exc:  # noqa: BLE001 - a revert (or any refusal) is a failed simulation
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        if reason is not None:
            with store.writing(self.service.engine) as conn:
                conn.execute(update(T).where(T.c.safe_tx_hash == rec.safe_tx_hash,
                                             T.c.status == Status.PENDING)
                             .values(status=Status.FAILED_SIMULATION, note=reason, modified=now))
                self.audit(conn, "keeper", "safetx.simulation_failed",
                           {"safe": rec.safe, "safe_tx_hash": rec.safe_tx_hash}, {"reason": reason})
            self.alert(SIMULATION_FAILED, f"SafeTx {rec.safe_tx_hash} of {rec.safe} would revert: "
                       f"{reason}", f"safetx:simulation:{rec.safe_tx_hash}")
            return False
        intent = INTENT_PREFIX + rec.safe_tx_hash
        try:
            sent = self.sender.send(intent, rec.safe, data, gas=gas + gas // 5 + 10_000)
        except IntentConflictError:  # sent before a crash with other signatures: track that one
            sent = self.sender.status(intent)
            if sent is None:
                return False
        with store.writing(self.service.engine) as conn:
            moved = conn.execute(update(T).where(T.c.safe_tx_hash == rec.safe_tx_hash,
                                                 T.c.status == Status.PENDING).values(
                status=Status.SUBMITTED, transaction_hash=sent.hashes[-1], signatures=packed,
                confirmations_required=state.threshold, executor=self.address,
                modified=now)).rowcount
            if moved != 1:
                return False
            self.audit(conn, "keeper", "safetx.submit",
                       {"safe": rec.safe, "safe_tx_hash": rec.safe_tx_hash, "nonce": rec.tx.nonce},
                       {"transaction_hash": sent.hashes[-1], "executor": self.address,
                        "intent": intent})
        if self.receipt_wait_s > 0:
            try:  # usually mined within a block; otherwise reconciled on a later pass
                self.chain.w3.eth.wait_for_transaction_receipt(sent.hashes[-1],
                                                               self.receipt_wait_s, 0.1)
            except Exception:  # noqa: BLE001 - not mined yet
                log.info("safetx: %s not mined yet; reconciled later", sent.hashes[-1])
        return True

    # -------------------------------------------------------------- reconcile
    def reconcile(self, now: datetime | None = None) -> int:
        """Let the sender check its intents (receipts, re-broadcasts, fee bumps), then settle the
        submitted SafeTxs whose transaction is final; returns how many were settled."""
        now = now or datetime.now(UTC)
        self.sender.tick(now)
        with self.service.engine.connect() as conn:
            rows = conn.execute(select(T.c.safe_tx_hash, T.c.transaction_hash)
                                .where(T.c.status == Status.SUBMITTED)).all()
        settled = 0
        for h, tx_hash in rows:
            sent = self.sender.status(INTENT_PREFIX + h)
            if sent is None or sent.state == PENDING:
                if sent is not None and sent.hashes[-1] != tx_hash:  # fee-bumped replacement
                    with store.writing(self.service.engine) as conn:
                        conn.execute(update(T).where(T.c.safe_tx_hash == h).values(
                            transaction_hash=sent.hashes[-1], modified=now))
                continue
            if sent.mined_hash is None:  # dropped: the nonce went elsewhere; try again
                with store.writing(self.service.engine) as conn:
                    conn.execute(update(T).where(T.c.safe_tx_hash == h).values(
                        status=Status.PENDING, transaction_hash=None, modified=now,
                        note=f"keeper transaction {sent.state}"))
                    self.audit(conn, "keeper", "safetx.submit_failed", {"safe_tx_hash": h},
                               {"state": sent.state})
                settled += 1
                continue
            receipt = self.chain.w3.eth.get_transaction_receipt(sent.mined_hash)
            settled += mark_executed(self.service, h, receipt, now, self.audit)
        return settled


def execution_outcome(receipt: Any, safe: str, safe_tx_hash: str) -> bool | None:
    """True/False when ``receipt`` holds ``safe``'s ExecutionSuccess/Failure of the hash."""
    for entry in receipt["logs"]:
        topics = [bytes(t) for t in entry["topics"]]
        if (entry["address"] == safe and len(topics) >= 2
                and "0x" + topics[1].hex() == safe_tx_hash):
            return topics[0] == EXECUTION_SUCCESS
    return None


def mark_executed(service: SafeTxService, safe_tx_hash: str, receipt: Any, now: datetime,
                  audit: AuditFn = record_in) -> int:
    """Record the mined execution of ``safe_tx_hash`` (receipt of the transaction that ran it)
    and mark the other proposals at its nonce replaced; returns 1 if it changed anything."""
    with store.writing(service.engine) as conn:
        row = conn.execute(select(T.c.safe, T.c.nonce, T.c.status).where(
            T.c.safe_tx_hash == safe_tx_hash)).one_or_none()
        if row is None or row.status == Status.EXECUTED:
            return 0
        outcome = execution_outcome(receipt, row.safe, safe_tx_hash)
        if receipt["status"] != 1 or outcome is None:  # reverted, or ran something else
            conn.execute(update(T).where(T.c.safe_tx_hash == safe_tx_hash).values(
                status=Status.PENDING, transaction_hash=None, modified=now,
                note=f"transaction {receipt['transactionHash'].hex()} did not execute it"))
            audit(conn, "keeper", "safetx.submit_failed", {"safe_tx_hash": safe_tx_hash},
                  {"transaction_hash": "0x" + bytes(receipt["transactionHash"]).hex()})
            return 1
        block = service.chain.w3.eth.get_block(receipt["blockNumber"])
        values = {"status": Status.EXECUTED, "is_successful": outcome, "modified": now,
                  "transaction_hash": "0x" + bytes(receipt["transactionHash"]).hex(),
                  "block_number": int(receipt["blockNumber"]), "executor": receipt["from"],
                  "execution_date": datetime.fromtimestamp(int(block["timestamp"]), UTC)}
        conn.execute(update(T).where(T.c.safe_tx_hash == safe_tx_hash).values(**values))
        others = list(conn.execute(select(T.c.safe_tx_hash).where(
            T.c.safe == row.safe, T.c.nonce == row.nonce, T.c.safe_tx_hash != safe_tx_hash,
            T.c.status.in_((Status.PENDING, Status.FAILED_SIMULATION, Status.EXPIRED,
                            Status.SUBMITTED)))).scalars())
        if others:
            conn.execute(update(T).where(T.c.safe_tx_hash.in_(others)).values(
                status=Status.REPLACED, note=f"nonce executed by {safe_tx_hash}", modified=now))
        audit(conn, "keeper", "safetx.executed",
              {"safe": row.safe, "safe_tx_hash": safe_tx_hash, "nonce": row.nonce},
              {"transaction_hash": values["transaction_hash"], "successful": outcome,
               "replaced": others})
    return 1
