"""Vault withdrawals over :class:`~keeper.chain.sender.TxSender`: simulate, send, report.

``submit(op_id, token, to, amount)`` first simulates ``Vault.withdraw`` with ``eth_call`` from
the sender's address; a withdrawal that would revert is refused with a stable code
(:class:`WithdrawalRefusedError`) and nothing is stored or sent. Otherwise it is sent once per
``op_id`` (the send intent is ``vault-withdraw:<vault>:<op_id>``; the vault itself refuses a
reused ``op_id``, so even a duplicate send can never pay twice).

A queued withdrawal is paid by ``execute(op_id)`` once its eta has passed (simulated and sent the
same way). ``outcome(op_id)`` reads what happened: ``paid`` (the Withdrawal log), ``queued`` with
the eta of the WithdrawalQueued log, ``reverted`` with the code and reason, ``pending``,
``delayed`` (pending after a fee bump or stuck at the fee ceiling: tell the client), ``dropped``
(the nonce was used by another transaction and the vault has not seen the ``op_id``) or
``unknown`` (no such submission, or a dropped send whose ``op_id`` the vault has nonetheless used:
investigate).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from keeper.chain.events import WITHDRAWAL, topic
from keeper.chain.revert import call_revert_reason
from keeper.chain.sender import DROPPED, MINED, PENDING, REVERTED, SentTx, TxSender

WITHDRAWAL_QUEUED = topic("WithdrawalQueued(bytes32,address,address,uint256,uint256)")
WITHDRAW = function_signature_to_4byte_selector("withdraw(address,address,uint256,bytes32)")
OP_ID_USED = function_signature_to_4byte_selector("opIdUsed(bytes32)")
EXECUTE = function_signature_to_4byte_selector("executeWithdrawal(bytes32)")
EXECUTE_STEP = "execute"

# Revert reasons (Vault, its modules and the tokens it pays) -> stable codes, by exact message.
REASON_CODES: dict[str, str] = {
    "Vault: destination not whitelisted": "destination_not_whitelisted",
    "Vault: bad destination": "destination_not_whitelisted",
    "Vault: paused": "vault_paused",
    "Vault: migrated": "vault_migrated",
    "Vault: above transaction cap": "above_tx_cap",
    "Vault: daily limit exceeded": "limit_reached",
    "Vault: token not supported": "token_not_supported",
    "Vault: token not priced": "token_not_priced",
    "Vault: op_id used": "op_id_used",
    "Vault: not queued": "not_queued",
    "Vault: withdrawal not ready": "not_ready",
    "Vault: withdrawal expired": "queue_expired",
    "Vault: zero op_id": "invalid_request",
    "Vault: zero amount": "invalid_request",
    "Vault: not customer": "not_authorised",
    "Vault: not sweeper": "not_authorised",
    "Vault: not treasury": "not_authorised",
    "Vault: insufficient balance": "insufficient_vault_balance",
    "SafeERC20: insufficient balance": "insufficient_vault_balance",
    "Blacklistable: account is blacklisted": "blacklisted_destination",
    "FiatTokenV2_2: Account is blacklisted": "blacklisted_destination",
    "Pausable: paused": "token_paused",
    "out of gas": "out_of_gas",
}


def reason_code(reason: str) -> str:
    """The stable code of a revert ``reason`` (``unknown`` for anything not listed)."""
    return REASON_CODES.get(reason.strip(), "unknown")


class WithdrawalRefusedError(ValueError):
    """The simulated withdrawal reverts: nothing was sent. ``code`` is stable, ``reason`` the
    contract's message."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"withdrawal refused: {code} ({reason or 'no reason given'})")
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class WithdrawalOutcome:
    """What became of a submitted withdrawal (amounts in token base units, eta unix seconds)."""

    op_id: bytes
    status: str  # paid | queued | reverted | pending | delayed | dropped | unknown
    tx_hashes: tuple[str, ...] = ()
    mined_hash: str | None = None
    amount: int | None = None
    received: int | None = None
    eta: int | None = None
    code: str | None = None
    reason: str | None = None


class VaultWithdrawals:
    """Withdrawals from ``vault`` sent by ``sender`` (whose key must hold the CUSTOMER role).
    ``issuance``: the sender of the issuance key (no vault role), which deposits minted coins
    into the vault (see :meth:`keeper.flows.withdrawals.Withdrawals._sweep_minted`)."""

    def __init__(self, sender: TxSender, vault: str, issuance: TxSender | None = None) -> None:
        self.sender, self.w3 = sender, sender.w3
        self.vault = to_checksum_address(vault)
        self.issuance = issuance

    def intent_id(self, op_id: bytes, step: str = "withdraw") -> str:
        """The send intent of ``op_id``'s ``step`` (``withdraw`` or ``execute``) on this vault."""
        return f"vault-{step}:{self.vault}:0x{_op_id(op_id).hex()}"

    def submit(self, op_id: bytes, token: str, to: str, amount: int) -> WithdrawalOutcome:
        """Simulate, then send ``withdraw(token, to, amount, op_id)`` once (idempotent on
        ``op_id``: a repeated submit returns the current outcome). Raises
        :class:`WithdrawalRefusedError` (nothing sent) if the simulation reverts."""
        op = _op_id(op_id)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount is a positive integer (token base units)")
        data = WITHDRAW + abi_encode(["address", "address", "uint256", "bytes32"],
                                     [to_checksum_address(token), to_checksum_address(to),
                                      amount, op])
        self._simulate_and_send(self.intent_id(op), data)
        return self.outcome(op)

    def execute(self, op_id: bytes) -> WithdrawalOutcome:
        """Pay a queued withdrawal once its eta has passed: simulate, then send
        ``executeWithdrawal(op_id)`` once (idempotent). Raises :class:`WithdrawalRefusedError`
        (nothing sent) if it would revert (``not_ready`` before the eta, ``not_queued``,
        ``queue_expired``, or any control that now fails, e.g. ``blacklisted_destination``)."""
        op = _op_id(op_id)
        self._simulate_and_send(self.intent_id(op, EXECUTE_STEP), EXECUTE + op)
        return self.outcome(op)

    def _simulate_and_send(self, intent: str, data: bytes) -> None:
        if self.sender.status(intent) is None:
            call = {"from": self.sender.address, "to": self.vault, "data": "0x" + data.hex()}
            reason = call_revert_reason(self.w3, call, "pending")
            if reason is not None:
                raise WithdrawalRefusedError(reason_code(reason), reason)
        self.sender.send(intent, self.vault, data)

    def outcome(self, op_id: bytes) -> WithdrawalOutcome:
        """What became of ``op_id`` (see the module doc); reads the receipt of a mined send.
        Once :meth:`execute` was sent for a queued withdrawal, its send decides (``pending`` /
        ``delayed`` / ``paid`` / ``reverted``), with the eta and every hash of both sends."""
        op = _op_id(op_id)
        first = self._outcome(op, self.sender.status(self.intent_id(op)))
        if first.status != "queued":
            return first
        execution = self.sender.status(self.intent_id(op, EXECUTE_STEP))
        if execution is None:
            return first
        then = self._outcome(op, execution)
        return replace(then, tx_hashes=first.tx_hashes + then.tx_hashes, eta=first.eta,
                       amount=then.amount if then.amount is not None else first.amount)

    def _outcome(self, op: bytes, sent: SentTx | None) -> WithdrawalOutcome:
        if sent is None:
            return WithdrawalOutcome(op, "unknown")
        if sent.state == PENDING:
            return WithdrawalOutcome(op, "delayed" if sent.delayed else "pending", sent.hashes)
        if sent.state == REVERTED:
            reason = sent.revert_reason or ""
            return WithdrawalOutcome(op, "reverted", sent.hashes, sent.mined_hash,
                                     code=reason_code(reason), reason=reason)
        if sent.state == DROPPED:
            status = "unknown" if self._op_id_used(op) else "dropped"
            return WithdrawalOutcome(op, status, sent.hashes, reason=sent.revert_reason)
        assert sent.state == MINED
        return self._mined(op, sent)

    def _mined(self, op: bytes, sent: SentTx) -> WithdrawalOutcome:
        receipt = self.w3.eth.get_transaction_receipt(sent.mined_hash)
        op_topic = "0x" + op.hex()
        for entry in receipt["logs"]:
            topics = ["0x" + bytes(t).hex() for t in entry["topics"]]
            if (to_checksum_address(entry["address"]) != self.vault or len(topics) < 2
                    or topics[1] != op_topic):
                continue
            words = bytes(entry["data"])
            if topics[0] == WITHDRAWAL:
                return WithdrawalOutcome(op, "paid", sent.hashes, sent.mined_hash,
                                         amount=_word(words, 0), received=_word(words, 1))
            if topics[0] == WITHDRAWAL_QUEUED:
                return WithdrawalOutcome(op, "queued", sent.hashes, sent.mined_hash,
                                         amount=_word(words, 0), eta=_word(words, 1))
        return WithdrawalOutcome(op, "unknown", sent.hashes, sent.mined_hash,
                                 reason="mined without a Withdrawal or WithdrawalQueued log")

    def _op_id_used(self, op: bytes) -> bool:
        out = self.w3.eth.call({"to": self.vault, "data": "0x" + (OP_ID_USED + op).hex()})
        return int.from_bytes(bytes(out)[:32], "big") != 0


def _op_id(op_id: bytes) -> bytes:
    op = bytes.fromhex(op_id[2:]) if isinstance(op_id, str) and op_id.startswith("0x") else op_id
    if not isinstance(op, bytes | bytearray) or len(op) != 32 or not any(op):
        raise ValueError("op_id is 32 non-zero bytes")
    return bytes(op)


def _word(data: bytes, index: int) -> int:
    return int.from_bytes(data[32 * index:32 * index + 32], "big")
