"""Crash-safe EIP-1559 sending from one HSM key: persisted nonces, stored raw transactions,
receipts, fee-bumped replacements.

One rule per step, in this order, so a crash anywhere followed by a restart neither loses an
intent nor spends two nonces on it:

1. ``send(intent_id, ...)`` allocates the nonce (compare-and-set on the ``chain_nonces`` row of
   (chain, address)), signs with the keyring and stores the intent and its raw signed bytes in ONE
   database transaction, and only then broadcasts. A retried ``send`` with the same ``intent_id``
   returns the stored intent (its parameters must be the same) and re-broadcasts its newest bytes.
2. ``tick(now)`` looks every pending intent up by ALL its hashes: the first receipt found decides
   once it has ``confirmations`` blocks (status 1 -> ``mined``; 0 -> ``reverted`` with the reason
   replayed by ``eth_call`` at the block); until then a reorg that takes it out simply leads to
   the same bytes being broadcast again. An intent without a receipt is re-broadcast (the crash-
   before-broadcast case); if its newest attempt is older than ``bump_after_s``, a replacement
   with the same nonce and fees up by at least 12.5 % (the nodes' replacement rule) is stored,
   then broadcast; when the ceiling ``max_fee_wei`` forbids another bump, one ``stuck`` alert is
   raised. An intent whose nonce the chain has passed with none of its hashes mined is ``dropped``
   (the key was used elsewhere) and alerted.

Nothing here trusts the node's nonce alone: the next nonce is the larger of the stored one and
the node's pending count, so a key also used outside this sender cannot make us reuse a nonce.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import keccak, to_checksum_address
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.chain.models import ChainAttempt, ChainIntent, ChainNonce
from keeper.chain.revert import RpcCallError, call_revert_reason
from keeper.keys import Keyring
from keeper.ledger.db import WRITE, make_engine
from keeper.ledger.domain import utc

log = logging.getLogger(__name__)

GWEI = 10**9
PENDING, MINED, REVERTED, DROPPED = "pending", "mined", "reverted", "dropped"
STATES = (PENDING, MINED, REVERTED, DROPPED)
STUCK_ALERT = "tx_stuck"
DROPPED_ALERT = "tx_dropped"
UNFUNDED_ALERT = "tx_unfunded"
# Nodes accept a replacement only when both fees rise by at least 10 %; geth's default is 10 %,
# others use 12.5 %: bump by 1/8 (12.5 %), rounded up.
BUMP_DIVISOR = 8
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 6, 5  # estimated gas x 1.2
AlertFn = Callable[[str, str, str | None], object]


class IntentConflictError(ValueError):
    """An ``intent_id`` reused with other content (to, data, value or gas)."""


class WouldRevertError(RuntimeError):
    """Gas estimation reverted: nothing was stored or sent."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"transaction would revert: {reason or '(no reason)'}")
        self.reason = reason


@dataclass(frozen=True)
class SentTx:
    """What is known of one send intent: its nonce, state and every hash sent for it."""

    intent_id: str
    chain_id: int
    sender: str
    nonce: int
    to: str
    state: str
    hashes: tuple[str, ...]
    max_fee_wei: int
    tip_wei: int
    mined_hash: str | None
    block_number: int | None
    revert_reason: str | None
    stuck: bool
    created_at: datetime
    last_sent_at: datetime

    @property
    def replacements(self) -> int:
        """How many fee-bumped replacements were sent."""
        return len(self.hashes) - 1

    @property
    def delayed(self) -> bool:
        """Pending after at least one fee bump (or stuck at the fee ceiling): tell the client."""
        return self.state == PENDING and (self.replacements > 0 or self.stuck)


@dataclass(frozen=True)
class SenderConfig:
    """Fee policy of a sender (integers: wei and seconds)."""

    max_fee_wei: int
    bump_after_s: int
    min_tip_wei: int = GWEI
    confirmations: int = 1  # blocks (the receipt's included) before mined/reverted is final

    @classmethod
    def from_settings(cls, settings: Any = None) -> SenderConfig:
        """From ``withdrawal_max_fee_gwei``, ``withdrawal_bump_after_s`` and ``confirmations``
        of the Settings."""
        if settings is None:
            from keeper.config import load_settings
            settings = load_settings()
        return cls(int(settings.withdrawal_max_fee_gwei) * GWEI,
                   int(settings.withdrawal_bump_after_s),
                   confirmations=max(1, int(settings.confirmations)))


class TxSender:
    """Send transactions from the keyring's ``label`` key on ``w3``'s chain (see module doc)."""

    def __init__(self, engine: str | Engine, w3: Any, keyring: Keyring, label: str = "eth-hot",
                 config: SenderConfig | None = None, on_alert: AlertFn | None = None) -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self._owns_engine = isinstance(engine, str)
        self.w3, self.keyring, self.label = w3, keyring, label
        self.config = config or SenderConfig.from_settings()
        self.on_alert = on_alert
        self.address = to_checksum_address(keyring.eth_address(label))
        self.chain_id = int(w3.eth.chain_id)

    def close(self) -> None:
        """Release the engine's connections (if this sender created it)."""
        if self._owns_engine:
            self.engine.dispose()

    # ------------------------------------------------------------------ send
    def send(self, intent_id: str, to: str, data: bytes, value: int = 0,
             gas: int | None = None) -> SentTx:
        """Send ``data`` to ``to`` once for ``intent_id`` (idempotent; see the module doc).

        Raises :class:`IntentConflictError` if ``intent_id`` was used with other content and
        :class:`WouldRevertError` (nothing stored) when gas estimation reverts."""
        if not intent_id or len(intent_id) > 160:
            raise ValueError("intent_id is 1 to 160 characters")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError("value is a non-negative integer (wei)")
        to = to_checksum_address(to)
        data = bytes(data)
        existing = self._intent_row(intent_id)
        if existing is None:
            if gas is None:
                gas = self._estimate_gas(to, data, value)
            tip, max_fee = self._initial_fees()
            try:
                self._store_new(intent_id, to, data, value, gas, tip, max_fee)
            except IntegrityError:  # stored concurrently: the other writer's row stands
                if self._intent_row(intent_id) is None:
                    raise
            existing = self._intent_row(intent_id)
            assert existing is not None
        if (existing.to, existing.data, int(existing.value)) != (to, data, value) or (
                gas is not None and existing.gas != gas):
            raise IntentConflictError(f"intent {intent_id!r} was sent with other content")
        sent = self.status(intent_id)
        assert sent is not None
        if sent.state == PENDING:
            self._broadcast(self._newest_raw(intent_id), intent_id)
        return sent

    def _store_new(self, intent_id: str, to: str, data: bytes, value: int, gas: int, tip: int,
                   max_fee: int) -> None:
        node_next = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        self._ensure_nonce_row(node_next)
        now = datetime.now(UTC)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            nonce = self._take_nonce(conn, node_next)
            raw, tx_hash = self._sign(nonce, to, data, value, gas, tip, max_fee)
            conn.execute(insert(ChainIntent).values(
                intent_id=intent_id, chain_id=self.chain_id, sender=self.address, nonce=nonce,
                to=to, data=data, value=str(value), gas=gas, state=PENDING, stuck_alerted=False,
                created_at=now, updated_at=now))
            conn.execute(insert(ChainAttempt).values(
                intent_id=intent_id, tx_hash=tx_hash, raw=raw, max_fee=str(max_fee),
                tip=str(tip), created_at=now))

    def _ensure_nonce_row(self, node_next: int) -> None:
        """Create the (chain, address) nonce row once (a concurrent creator's row stands)."""
        nc = ChainNonce.__table__.c
        with self.engine.connect() as conn:
            if conn.scalar(select(nc.next_nonce).where(nc.chain_id == self.chain_id,
                                                       nc.address == self.address)) is not None:
                return
        try:
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(insert(ChainNonce).values(chain_id=self.chain_id,
                                                       address=self.address,
                                                       next_nonce=node_next))
        except IntegrityError:
            pass

    def _take_nonce(self, conn: Any, node_next: int) -> int:
        """Compare-and-set the (chain, address) row from n to n + 1 and return n, where n is
        at least the node's pending count. Inside the caller's transaction: if the intent insert
        fails, the nonce is not consumed."""
        nc = ChainNonce.__table__.c
        key = (nc.chain_id == self.chain_id) & (nc.address == self.address)
        while True:
            stored = conn.scalar(select(nc.next_nonce).where(key))
            nonce = max(int(stored), node_next)
            done = conn.execute(update(ChainNonce).where(key, nc.next_nonce == stored)
                                .values(next_nonce=nonce + 1)).rowcount
            if done == 1:
                return nonce

    def _sign(self, nonce: int, to: str, data: bytes, value: int, gas: int, tip: int,
              max_fee: int) -> tuple[bytes, str]:
        raw = self.keyring.sign_eip1559(self.label, {
            "chainId": self.chain_id, "nonce": nonce, "maxPriorityFeePerGas": tip,
            "maxFeePerGas": max_fee, "gas": gas, "to": to, "value": value, "data": data})
        return raw, "0x" + keccak(raw).hex()

    def _estimate_gas(self, to: str, data: bytes, value: int) -> int:
        call = {"from": self.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        reason = call_revert_reason(self.w3, call, "pending")
        if reason is not None:
            raise WouldRevertError(reason)
        est = int(self.w3.eth.estimate_gas(call))
        return est * GAS_MARGIN_NUM // GAS_MARGIN_DEN + 10_000

    def _initial_fees(self) -> tuple[int, int]:
        """(tip, maxFeePerGas): the node's suggested tip (at least ``min_tip_wei``) and twice
        the base fee on top, both capped at the ceiling."""
        cap = self.config.max_fee_wei
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        try:
            suggested = int(self.w3.eth.max_priority_fee)
        except Exception:  # noqa: BLE001 - a node without eth_maxPriorityFeePerGas
            suggested = 0
        tip = min(max(suggested, self.config.min_tip_wei), cap)
        return tip, min(2 * base + tip, cap)

    def _broadcast(self, raw: bytes, intent_id: str) -> None:
        """Hand ``raw`` to the node; "already known", "nonce too low" and "underpriced" are
        normal answers for bytes sent before (the receipt check decides what happened). A key
        without the ETH for the gas is alerted (``tx_unfunded``, ref per intent)."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as err:  # noqa: BLE001 - the node's word is checked by tick()
            log.info("broadcast of %s not accepted: %s", "0x" + keccak(raw).hex(), err)
            if "insufficient funds" in str(err).lower():
                self._alert(UNFUNDED_ALERT, f"intent {intent_id}: {self.address} lacks the ETH "
                            "for its gas; fund it (the same transaction is re-sent)", intent_id)

    # ------------------------------------------------------------------ tick
    def tick(self, now: datetime | None = None) -> list[SentTx]:
        """Check every pending intent of this key (see the module doc); returns the intents
        whose state changed or that were re-sent with higher fees."""
        now = now or datetime.now(UTC)
        ic = ChainIntent.__table__.c
        with self.engine.connect() as conn:
            ids = conn.scalars(select(ic.intent_id).where(
                ic.chain_id == self.chain_id, ic.sender == self.address, ic.state == PENDING)
                .order_by(ic.nonce)).all()
        changed = []
        for intent_id in ids:
            if self._check(intent_id, now):
                sent = self.status(intent_id)
                assert sent is not None
                changed.append(sent)
        return changed

    def _check(self, intent_id: str, now: datetime) -> bool:
        sent = self.status(intent_id)
        assert sent is not None
        for tx_hash in reversed(sent.hashes):
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                depth = int(self.w3.eth.block_number) - int(receipt["blockNumber"]) + 1
                if depth < self.config.confirmations:
                    return False  # final only once buried: a reorg may still take it out
                self._settle(sent, tx_hash, receipt)
                return True
        if int(self.w3.eth.get_transaction_count(self.address, "latest")) > sent.nonce:
            # the nonce is spent: re-read receipts once (one may have landed meanwhile)
            if any(self._receipt(h) is not None for h in sent.hashes):
                return self._check(intent_id, now)
            self._finish(intent_id, state=DROPPED, reason="nonce used by another transaction")
            self._alert(DROPPED_ALERT, f"intent {intent_id}: nonce {sent.nonce} of "
                        f"{self.address} was used by a transaction not sent for it", intent_id)
            return True
        if now - sent.last_sent_at < timedelta(seconds=self.config.bump_after_s):
            self._broadcast(self._newest_raw(intent_id), intent_id)
            return False
        return self._bump(sent, now)

    def _bump(self, sent: SentTx, now: datetime) -> bool:
        cap = self.config.max_fee_wei
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        tip = sent.tip_wei + -(-sent.tip_wei // BUMP_DIVISOR)
        max_fee = max(sent.max_fee_wei + -(-sent.max_fee_wei // BUMP_DIVISOR), 2 * base + tip)
        if max_fee > cap:
            max_fee = cap
        if max_fee * BUMP_DIVISOR < sent.max_fee_wei * (BUMP_DIVISOR + 1) or tip > max_fee:
            self._broadcast(self._newest_raw(sent.intent_id), sent.intent_id)
            return self._mark_stuck(sent)
        row = self._intent_row(sent.intent_id)
        assert row is not None
        raw, tx_hash = self._sign(sent.nonce, row.to, row.data, int(row.value), row.gas, tip,
                                  max_fee)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(insert(ChainAttempt).values(
                intent_id=sent.intent_id, tx_hash=tx_hash, raw=raw, max_fee=str(max_fee),
                tip=str(tip), created_at=now))
            conn.execute(update(ChainIntent).where(ChainIntent.intent_id == sent.intent_id)
                         .values(updated_at=now))
        log.info("intent %s: replacement %s (maxFee %d wei, tip %d wei)", sent.intent_id,
                 tx_hash, max_fee, tip)
        self._broadcast(raw, sent.intent_id)
        return True

    def _mark_stuck(self, sent: SentTx) -> bool:
        ic = ChainIntent.__table__.c
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            first = conn.execute(update(ChainIntent).where(
                ic.intent_id == sent.intent_id, ic.stuck_alerted.is_(False))
                .values(stuck_alerted=True)).rowcount == 1
        if first:
            self._alert(STUCK_ALERT, f"intent {sent.intent_id}: nonce {sent.nonce} unmined at "
                        f"the fee ceiling ({sent.max_fee_wei} wei/gas)", sent.intent_id)
        return first

    def _settle(self, sent: SentTx, tx_hash: str, receipt: Any) -> None:
        block = int(receipt["blockNumber"])
        if int(receipt["status"]) == 1:
            self._finish(sent.intent_id, MINED, tx_hash=tx_hash, block=block)
            return
        row = self._intent_row(sent.intent_id)
        assert row is not None
        call = {"from": self.address, "to": row.to, "data": "0x" + row.data.hex(),
                "value": hex(int(row.value)), "gas": hex(row.gas)}
        reason = None
        for at in (block, block - 1):  # state after the block, else before it
            try:
                reason = call_revert_reason(self.w3, call, hex(at))
            except RpcCallError as err:  # e.g. a pruned node without that block's state
                log.warning("intent %s: revert reason not replayable: %s", sent.intent_id, err)
                break
            if reason is not None:
                break
        if reason is None:
            reason = "out of gas" if int(receipt["gasUsed"]) >= row.gas else ""
        self._finish(sent.intent_id, REVERTED, tx_hash=tx_hash, block=block, reason=reason)

    def _finish(self, intent_id: str, state: str, tx_hash: str | None = None,
                block: int | None = None, reason: str | None = None) -> None:
        ic = ChainIntent.__table__.c
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(ChainIntent).where(ic.intent_id == intent_id, ic.state == PENDING)
                         .values(state=state, mined_hash=tx_hash, block_number=block,
                                 revert_reason=reason, updated_at=datetime.now(UTC)))

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except Exception:  # noqa: BLE001 - TransactionNotFound or a node hiccup: not yet
            return None

    def _alert(self, kind: str, message: str, ref: str) -> None:
        log.warning("%s: %s", kind, message)
        if self.on_alert is not None:
            self.on_alert(kind, message, f"{kind}:{ref}")

    # ------------------------------------------------------------------ reads
    def status(self, intent_id: str) -> SentTx | None:
        """The intent's state and every hash sent for it (oldest first), or None."""
        ac = ChainAttempt.__table__.c
        with self.engine.connect() as conn:
            row = conn.execute(select(ChainIntent).where(
                ChainIntent.intent_id == intent_id)).one_or_none()
            if row is None:
                return None
            attempts = conn.execute(select(ac.tx_hash, ac.max_fee, ac.tip, ac.created_at)
                                    .where(ac.intent_id == intent_id).order_by(ac.id)).all()
        newest = attempts[-1]
        return SentTx(
            intent_id=row.intent_id, chain_id=row.chain_id, sender=row.sender, nonce=row.nonce,
            to=row.to, state=row.state, hashes=tuple(a.tx_hash for a in attempts),
            max_fee_wei=int(newest.max_fee), tip_wei=int(newest.tip), mined_hash=row.mined_hash,
            block_number=row.block_number, revert_reason=row.revert_reason,
            stuck=bool(row.stuck_alerted), created_at=utc(row.created_at),
            last_sent_at=utc(newest.created_at))

    def _intent_row(self, intent_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(ChainIntent.__table__).where(
                ChainIntent.intent_id == intent_id)).one_or_none()

    def _newest_raw(self, intent_id: str) -> bytes:
        ac = ChainAttempt.__table__.c
        with self.engine.connect() as conn:
            return bytes(conn.scalar(select(ac.raw).where(ac.intent_id == intent_id)
                                     .order_by(ac.id.desc()).limit(1)))
