"""The Safe Transaction Service's rules over our multisigs: propose, confirm, list, delete.

Validation follows safe-transaction-service (``history/serializers.py``): the SafeTx hash is
recomputed from the chain id, the Safe address and the fields and must equal
``contractTransactionHash``; a nonce the Safe already used is refused; ``sender`` must be a
current owner; every signature must verify and belong to a current owner, once. Stricter than
the anchor: a proposal must carry ``sender``'s own signature (nothing is stored unsigned), a
confirmation by an owner who already confirmed is refused, and only pending transactions take
confirmations. Every change is written with its audit record in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.audit import record_in
from keeper.deployments import Deployment
from keeper.keys.eth import SafeTx, safe_tx_hash
from keeper.safetx import store
from keeper.safetx.chain import (
    SUPPORTED_VERSION,
    BadSignature,
    ChainReadError,
    NotAMultisigError,
    OwnerSignature,
    SafeChain,
    SafeState,
)
from keeper.safetx.delegates import active_delegators
from keeper.safetx.errors import (
    ConfirmationRefused,
    DeleteRefused,
    ProposalRefused,
    SafeUnavailable,
    UnknownSafe,
    UnknownTransaction,
)
from keeper.safetx.messages import delete_message_hash, totp_window
from keeper.safetx.models import Confirmation, KnownSafe, SafeTransaction, Status

AuditFn = Callable[[Connection, str, str, Any, Any], object]
T, C, S = SafeTransaction.__table__, Confirmation.__table__, KnownSafe.__table__
MAX_NONCE = 2**63 - 1


@dataclass(frozen=True)
class Proposal:
    """A proposal as the Safe service receives it (already type-checked)."""

    safe: str
    tx: SafeTx
    contract_transaction_hash: bytes
    sender: str
    signature: bytes | None
    origin: str = ""


def hash_hex(digest: bytes) -> str:
    """The stored form of a 32-byte hash: 0x + lower-case hex."""
    return "0x" + digest.hex()


class SafeTxService:
    """Propose / confirm / read / delete SafeTxs of the registered multisigs."""

    def __init__(self, engine: Engine, chain: SafeChain, *, audit: AuditFn = record_in,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.chain = chain
        self.audit = audit
        self.clock = clock

    # ------------------------------------------------------------------ safes
    def register_safe(self, address: str, from_block: int | None = None,
                      actor: str = "keeper") -> SafeState:
        """Answer for the multisig at ``address`` from now on (idempotent); it must speak
        Safe 1.4.1's interface. The indexer reads its logs from ``from_block`` (default: the
        latest block)."""
        address = to_checksum_address(address)
        with self.engine.connect() as conn:
            known = conn.execute(select(S.c.address).where(S.c.address == address)).first()
        state = self._state(address)
        if known:
            return state
        if state.version != SUPPORTED_VERSION:
            raise UnknownSafe(f"{address} reports VERSION {state.version!r}")
        start = self.chain.w3.eth.block_number if from_block is None else from_block
        with store.writing(self.engine) as conn:
            if conn.execute(select(S.c.address).where(S.c.address == state.address)).first():
                return state
            conn.execute(insert(S).values(address=state.address, from_block=start,
                                          added_at=self.clock()))
            self.audit(conn, actor, "safetx.register_safe",
                       {"safe": state.address, "from_block": start},
                       {"owners": list(state.owners), "threshold": state.threshold})
        return state

    def register_deployed(self, deployment: Deployment) -> list[str]:
        """Register every ``Multisig`` of a deployments record (indexed from its deploy block);
        returns their addresses."""
        out = []
        for entry in deployment.contracts.values():
            if entry.contract == "Multisig":
                out.append(self.register_safe(entry.address, entry.block).address)
        return out

    def known_safes(self) -> list[str]:
        """Addresses of the registered multisigs."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(S.c.address).order_by(S.c.address)).scalars())

    def safe_info(self, address: str) -> SafeState:
        """On-chain state of a registered multisig; ``UnknownSafe`` for any other address."""
        self._require_known(address)
        return self._state(address)

    def _require_known(self, address: str) -> None:
        with self.engine.connect() as conn:
            if conn.execute(select(S.c.address).where(S.c.address == address)).first() is None:
                raise UnknownSafe(f"Safe={address} is not served here")

    def _state(self, address: str) -> SafeState:
        try:
            return self.chain.state(address)
        except NotAMultisigError as exc:
            raise UnknownSafe(f"{address} is not a multisig: {exc}") from exc
        except ChainReadError as exc:
            raise SafeUnavailable(str(exc)) from exc

    # ---------------------------------------------------------------- propose
    def propose(self, p: Proposal, actor: str = "anonymous") -> str:
        """Store a proposal with the signatures it carries; returns its safeTxHash."""
        self._require_known(p.safe)
        digest = safe_tx_hash(self.chain.chain_id, p.safe, p.tx)
        if digest != p.contract_transaction_hash:
            raise ProposalRefused(
                f"Contract-transaction-hash={hash_hex(digest)} does not match provided "
                f"contract-tx-hash={hash_hex(p.contract_transaction_hash)}")
        if p.tx.nonce > MAX_NONCE:
            raise ProposalRefused(f"nonce={p.tx.nonce} is out of range")
        state = self._state(p.safe)
        h = hash_hex(digest)
        if p.tx.nonce < state.nonce:
            raise ProposalRefused(
                f"Tx with nonce={p.tx.nonce} for safe={p.safe} already executed "
                f"(the Safe's nonce is {state.nonce})")
        if not p.signature:
            raise ProposalRefused("A signature of the sender is required")
        by_delegate = p.sender not in state.owners  # then it must be a delegate (checked below)
        if by_delegate:
            sigs = self._delegate_signature(p, digest)
        else:
            sigs = self._owner_signatures(p.safe, p.tx, digest, p.signature, state,
                                          ProposalRefused)
        if p.sender not in {s.owner for s in sigs}:
            raise ProposalRefused(f"Signature does not match sender={p.sender}. "
                                  f"Calculated owners={[s.owner for s in sigs]}")
        now = self.clock()
        proposer = p.sender
        try:
            with store.writing(self.engine) as conn:
                if by_delegate:
                    delegators = active_delegators(conn, p.safe, state.owners, p.sender, now)
                    if not delegators:
                        raise ProposalRefused(f"Sender={p.sender} is not an owner or delegate. "
                                              f"Current owners={list(state.owners)}")
                    proposer, sigs = delegators[0], []  # a delegate's signature never confirms
                executed = conn.execute(select(T.c.safe_tx_hash).where(
                    T.c.safe == p.safe, T.c.nonce == p.tx.nonce,
                    T.c.status.in_((Status.EXECUTED, Status.SUBMITTED)))).first()
                if executed is not None:
                    raise ProposalRefused(f"Tx with nonce={p.tx.nonce} for safe={p.safe} "
                                          f"already executed in safe-tx-hash={executed[0]}")
                existing = conn.execute(select(T.c.status).where(T.c.safe_tx_hash == h)
                                        .with_for_update()).first()
                if existing is None:
                    conn.execute(insert(T).values(
                        safe_tx_hash=h, safe=p.safe, to=p.tx.to, value=str(p.tx.value),
                        data=p.tx.data, operation=p.tx.operation,
                        safe_tx_gas=str(p.tx.safe_tx_gas), base_gas=str(p.tx.base_gas),
                        gas_price=str(p.tx.gas_price), gas_token=p.tx.gas_token,
                        refund_receiver=p.tx.refund_receiver, nonce=p.tx.nonce,
                        proposer=proposer, proposed_by_delegate=p.sender if by_delegate else None,
                        origin=p.origin, status=Status.PENDING,
                        confirmations_required=state.threshold,
                        submission_date=now, modified=now))
                elif existing[0] != Status.PENDING:
                    raise ProposalRefused(f"Tx with safe-tx-hash={h} is {existing[0]}")
                added = self._add_confirmations(conn, h, sigs, now, skip_existing=True)
                self.audit(conn, f"safe-{'delegate' if by_delegate else 'owner'}:{p.sender}",
                           "safetx.propose",
                           {"safe": p.safe, "safe_tx_hash": h, "nonce": p.tx.nonce,
                            "to": p.tx.to, "value": str(p.tx.value),
                            "operation": p.tx.operation, "via": actor},
                           {"created": existing is None, "confirmed_by": added})
        except IntegrityError as exc:  # a concurrent proposal of the same hash won the race
            raise ProposalRefused(f"Tx with safe-tx-hash={h} was proposed concurrently; "
                                  "post again") from exc
        return h

    # ---------------------------------------------------------------- confirm
    def confirm(self, safe_tx_hash_: str, signature: bytes, actor: str = "anonymous") -> list[str]:
        """Add the owners' signatures to a pending transaction; returns the new confirmers."""
        rec = self.get(safe_tx_hash_)
        if rec.status != Status.PENDING:
            what = "already executed" if rec.executed else rec.status
            raise ConfirmationRefused(f"Transaction with safe-tx-hash={rec.safe_tx_hash} "
                                      f"was {what}")
        state = self._state(rec.safe)
        if rec.tx.nonce < state.nonce:
            raise ConfirmationRefused(f"Nonce {rec.tx.nonce} of safe={rec.safe} is already used")
        digest = bytes.fromhex(rec.safe_tx_hash[2:])
        sigs = self._owner_signatures(rec.safe, rec.tx, digest, signature, state,
                                      ConfirmationRefused)
        now = self.clock()
        try:
            with store.writing(self.engine) as conn:
                status = conn.execute(select(T.c.status).where(
                    T.c.safe_tx_hash == rec.safe_tx_hash).with_for_update()).scalar_one_or_none()
                if status != Status.PENDING:
                    raise ConfirmationRefused(f"Transaction with safe-tx-hash={rec.safe_tx_hash}"
                                              f" is {status or 'deleted'}")
                added = self._add_confirmations(conn, rec.safe_tx_hash, sigs, now,
                                                skip_existing=False)
                conn.execute(update(T).where(T.c.safe_tx_hash == rec.safe_tx_hash)
                             .values(modified=now))
                self.audit(conn, f"safe-owner:{added[0]}", "safetx.confirm",
                           {"safe": rec.safe, "safe_tx_hash": rec.safe_tx_hash, "via": actor},
                           {"confirmed_by": added})
        except IntegrityError as exc:
            raise ConfirmationRefused("Signature for that owner is duplicated") from exc
        return added

    def _owner_signatures(self, safe: str, tx: SafeTx, digest: bytes, signature: bytes,
                          state: SafeState, refuse: type[Exception]) -> list[OwnerSignature]:
        try:
            sigs = self.chain.parse_signatures(safe, tx, digest, signature)
        except BadSignature as exc:
            raise refuse(str(exc)) from exc
        seen: set[str] = set()
        for sig in sigs:
            if sig.owner not in state.owners:
                raise refuse(f"Signer={sig.owner} is not an owner. "
                             f"Current owners={list(state.owners)}")
            if sig.owner in seen:
                raise refuse(f"Signature for owner={sig.owner} is duplicated")
            seen.add(sig.owner)
        return sigs

    def _delegate_signature(self, p: Proposal, digest: bytes) -> list[OwnerSignature]:
        """The one signature a delegate's proposal carries (the Safe service refuses more)."""
        try:
            sigs = self.chain.parse_signatures(p.safe, p.tx, digest, p.signature or b"")
        except BadSignature as exc:
            raise ProposalRefused(str(exc)) from exc
        if len(sigs) != 1:
            raise ProposalRefused("Just one signature is expected if using delegates")
        return sigs

    def _add_confirmations(self, conn: Connection, h: str, sigs: list[OwnerSignature],
                           now: datetime, *, skip_existing: bool) -> list[str]:
        have = set(conn.execute(select(C.c.owner).where(C.c.safe_tx_hash == h)).scalars())
        added: list[str] = []
        for sig in sigs:
            if sig.owner in have:
                if skip_existing:
                    continue
                raise ConfirmationRefused(f"Signature for owner={sig.owner} is duplicated "
                                          "(already confirmed)")
            conn.execute(insert(C).values(safe_tx_hash=h, owner=sig.owner,
                                          signature=sig.signature,
                                          signature_type=sig.signature_type,
                                          submission_date=now))
            added.append(sig.owner)
        return added

    def _still_delegated(self, rec: store.TxRecord, delegate: str) -> bool:
        """Whether ``rec``'s proposer (still an owner) still delegates to ``delegate``."""
        owners = self._state(rec.safe).owners
        with self.engine.connect() as conn:
            return rec.proposer in active_delegators(
                conn, rec.safe, [o for o in owners if o == rec.proposer], delegate, self.clock())

    # ------------------------------------------------------------------ reads
    def get(self, safe_tx_hash_: str) -> store.TxRecord:
        """One transaction; ``UnknownTransaction`` when there is none."""
        with self.engine.connect() as conn:
            rec = store.get(conn, safe_tx_hash_.lower())
        if rec is None:
            raise UnknownTransaction(f"Multisig transaction with safe-tx-hash={safe_tx_hash_} "
                                     "was not found")
        return rec

    def list(self, safe: str, *, executed: bool | None = None, nonce_gte: int | None = None,
             ordering: str | None = None, limit: int = 100,
             offset: int = 0) -> tuple[int, list[store.TxRecord], int]:
        """(count, page, distinct nonces) of a registered Safe's transactions."""
        self._require_known(safe)
        with self.engine.connect() as conn:
            return store.listing(conn, safe, executed=executed, nonce_gte=nonce_gte,
                                 ordering=ordering, limit=limit, offset=offset)

    # ----------------------------------------------------------------- delete
    def delete(self, safe_tx_hash_: str, signature: bytes, actor: str = "anonymous") -> None:
        """Delete a transaction that is not executed, on the signature over the
        ``DeleteRequest`` message (this or the previous hour's ``totp``) of its proposer, or of
        the delegate that proposed it while that delegation still holds."""
        rec = self.get(safe_tx_hash_)
        if rec.status in (Status.EXECUTED, Status.SUBMITTED):
            raise DeleteRefused("Executed transactions cannot be deleted")
        if not rec.proposer:
            raise DeleteRefused("Transactions without proposer cannot be deleted")
        allowed = {rec.proposer, rec.proposed_by_delegate} - {None}
        signer = None
        for candidate in totp_window():
            digest = delete_message_hash(self.chain.chain_id, rec.safe,
                                         bytes.fromhex(rec.safe_tx_hash[2:]), candidate)
            try:
                sigs = self.chain.parse_message_signature(digest, signature)
            except BadSignature as exc:
                raise DeleteRefused(str(exc)) from exc
            if len(sigs) != 1:
                raise DeleteRefused(f"1 owner signature was expected, {len(sigs)} received")
            if sigs[0].owner in allowed:
                signer = sigs[0].owner
                break
        if signer is not None and signer != rec.proposer and not self._still_delegated(rec, signer):
            signer = None
        if signer is None:
            raise DeleteRefused("Provided signer is not the proposer or the delegate user who "
                                "proposed the transaction")
        with store.writing(self.engine) as conn:
            conn.execute(delete(C).where(C.c.safe_tx_hash == rec.safe_tx_hash))
            gone = conn.execute(delete(T).where(
                T.c.safe_tx_hash == rec.safe_tx_hash,
                T.c.status.not_in((Status.EXECUTED, Status.SUBMITTED)))).rowcount
            if gone != 1:
                raise DeleteRefused("Executed transactions cannot be deleted")
            self.audit(conn, f"safe-owner:{signer}", "safetx.delete",
                       {"safe": rec.safe, "safe_tx_hash": rec.safe_tx_hash, "via": actor},
                       {"deleted": True, "status": rec.status})
